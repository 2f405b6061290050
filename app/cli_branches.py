"""``plexus branches``: skeletons, branches, branch labels and the branchpoint network.

Lengths typed on the command line (``--prune``, ``--max-loop``) are physical,
in the unit of the spacing.
"""

import time
from pathlib import Path


def add_parsers(sub, spacing_type, labels_type):
    br = sub.add_parser(
        "branches",
        help="skeletonise a mask, measure its branches, label them and build the branch network",
        description="Skeletonise MASK (a binary mask or a label volume; each label is "
        "skeletonised on its own) and write DIR/branches.csv, DIR/junctions.csv, "
        "DIR/branch_labels.tif and DIR/network.graphml. Lengths are physical.",
    )
    br.add_argument("mask", type=Path, help="mask or label tif (z, y, x), 0 = background")
    br.add_argument("--out", required=True, type=Path, metavar="DIR")
    br.add_argument("--spacing", type=spacing_type, metavar="DZ,DY,DX",
                    help="voxel size; overrides the tif metadata")
    br.add_argument("--prune", type=float, default=0.0, metavar="LENGTH",
                    help="remove spurs (junction-to-end branches) shorter than LENGTH")
    br.add_argument("--max-loop", type=float, metavar="LENGTH",
                    help="open cycles shorter than LENGTH (default 4 voxels of the "
                    "coarsest axis; 0 keeps all)")
    br.add_argument("--labels", type=labels_type, metavar="ID,ID,...",
                    help="only these label ids of a label volume")
    br.add_argument("--binary", action="store_true",
                    help="treat every nonzero voxel as one mask (touching labels join)")
    br.add_argument("--method", choices=("teasar", "thinning"), default="teasar",
                    help="kimimaro TEASAR (default) or scikit-image thinning")
    br.add_argument("--fast", action="store_true",
                    help="TEASAR without kimimaro's fix_branching: 3-4x faster on big "
                    "trees; a crossing may be traced as two close junctions")
    br.add_argument("--quiet", action="store_true")


def run_branches(args):
    import numpy as np

    from engine import InvalidInputError, io, skeleton

    started = time.perf_counter()
    volume, spacing = io.read_labels(args.mask, spacing=args.spacing, name="mask")
    if args.labels is not None:
        missing = sorted(set(args.labels) - set(np.unique(volume).tolist()))
        if missing:
            raise InvalidInputError(f"--labels: {args.mask} has no label {missing}")
        volume = np.where(np.isin(volume, list(args.labels)), volume, 0).astype(volume.dtype)
    if args.binary:
        volume = volume != 0
    graph = skeleton.skeletonize(volume, spacing, method=args.method, prune=args.prune,
                                 max_loop=args.max_loop, fix_branching=not args.fast)
    branches = skeleton.Branches(graph)
    labels = skeleton.label_branches(volume, branches)
    branches.save(args.out, branch_labels=labels)
    if not args.quiet:
        t = branches.table
        print(f"{len(t)} branches, {len(branches.junctions)} junctions, cable length "
              f"{t['length'].sum():.4g} ({time.perf_counter() - started:.1f} s); results in {args.out}/")
