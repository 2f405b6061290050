"""``plexus segment`` and ``plexus train-cellpose``.

Sizes typed on the command line are physical (the unit of the spacing):
``--smooth`` and ``--split`` are distances, ``--min-size`` and
``--max-size`` volumes in that unit cubed. For Cellpose, ``--min-size``
merges smaller fragments into the cell they touch (``min_volume`` of
``segment_cellpose``) instead of deleting them.

A zarr/OME-Zarr IMAGE, an ``--out`` ending in ``.zarr``, or any of
``--chunks``, ``--scheduler``, ``--memory-limit``, ``--workers`` runs the
threshold, Otsu and saved-classifier paths blockwise (:mod:`app.cli_blockwise`).
"""

import argparse
import sys
import time
from pathlib import Path

METHODS = ("threshold", "otsu", "rf", "cellpose")


def add_parsers(sub, spacing_type):
    seg = sub.add_parser(
        "segment",
        help="label objects of an intensity image (threshold, Otsu, random forest, Cellpose)",
        description="Segment IMAGE into uint32 labels (0 = background). Sizes are "
        "physical: distances in the unit of the spacing, volumes in that unit cubed. "
        "The output format follows --out: a name ending in .zarr gets OME-Zarr labels "
        "(written chunk by chunk), any other name a tif (which must fit in memory). A "
        "zarr IMAGE, a .zarr --out or a blockwise option runs blockwise (threshold, otsu, "
        "and rf with --model; not --split, --scribbles or cellpose) with the labels of "
        "the in-memory run.",
    )
    seg.add_argument("image", type=Path,
                     help="intensity tif (z, y, x), or zarr/OME-Zarr folder")
    seg.add_argument("--method", choices=METHODS, default="otsu")
    seg.add_argument("--out", required=True, type=Path, metavar="LABELS.tif",
                     help="labels: .tif, or .zarr for OME-Zarr labels (replaced if it exists)")
    seg.add_argument("--spacing", type=spacing_type, metavar="DZ,DY,DX",
                     help="voxel size; overrides the tif (or zarr) metadata")
    seg.add_argument("--smooth", type=float, default=0.0, metavar="SIGMA",
                     help="Gaussian sigma before thresholding (threshold, otsu)")
    seg.add_argument("--min-size", type=float, metavar="VOLUME",
                     help="smallest object volume kept (cellpose: smaller fragments "
                     "join the cell they touch)")
    seg.add_argument("--max-size", type=float, metavar="VOLUME",
                     help="largest object volume kept")
    seg.add_argument("--split", type=float, metavar="DISTANCE",
                     help="split touching objects, seeds at least DISTANCE apart")
    seg.add_argument("--no-fill", action="store_true", help="keep enclosed holes")
    thr = seg.add_argument_group("threshold and otsu")
    thr.add_argument("--threshold", type=float, metavar="VALUE",
                     help="intensity above which a voxel is foreground (threshold)")
    thr.add_argument("--per-slice", action="store_true", help="Otsu on each z slice")
    rf = seg.add_argument_group("rf (random forest)")
    rf.add_argument("--scribbles", type=Path, metavar="SCRIBBLES.tif",
                    help="1 = foreground, 2 = background, 0 = unlabelled")
    rf.add_argument("--probability", type=float, default=0.5, metavar="P",
                    help="foreground probability cut (default 0.5)")
    rf.add_argument("--save-model", type=Path, metavar="FILE",
                    help="save the classifier trained from --scribbles")
    cp = seg.add_argument_group("cellpose (extra 'cellpose')")
    seg.add_argument("--model", type=Path, metavar="PATH",
                     help="rf: a saved classifier; cellpose: a model file "
                     "(default: the small nuclei model shipped with Plexus)")
    cp.add_argument("--do-3d", action=argparse.BooleanOptionalAction, default=None,
                    help="2.5D flows on YX, ZY and ZX planes (default, unless "
                    "--stitch-threshold is given)")
    cp.add_argument("--stitch-threshold", type=float, default=0.0, metavar="IOU",
                    help="segment 2D slices and stitch them by IoU")
    cp.add_argument("--anisotropy", type=float, metavar="A",
                    help="z sampling / xy sampling (default: from the spacing)")
    cp.add_argument("--flow3d-smooth", type=float, default=0.0, metavar="SIGMA",
                    help="Gaussian smoothing of the 3D flows, in voxels")
    cp.add_argument("--diameter", type=float, metavar="PIXELS",
                    help="object diameter in pixels (the image is rescaled to the "
                    "model's diameter)")
    cp.add_argument("--cellprob-threshold", type=float, default=0.0, metavar="T")
    cp.add_argument("--flow-threshold", type=float, default=0.4, metavar="T",
                    help="2D only; ignored by 3D segmentation")
    cp.add_argument("--z-axis", type=int, metavar="AXIS")
    cp.add_argument("--channel-axis", type=int, metavar="AXIS")
    seg.add_argument("--quiet", action="store_true", help="no progress bar")
    from . import cli_blockwise

    cli_blockwise.add_options(seg)

    train = sub.add_parser(
        "train-cellpose",
        help="train a Cellpose model on a labelled z-stack",
        description="Train on YX, YZ and XZ crops of a labelled z-stack, rescaled by the "
        "anisotropy; use the result with `plexus segment --method cellpose --model`.",
    )
    train.add_argument("image", type=Path, help="intensity tif (z, y, x)")
    train.add_argument("labels", type=Path, help="label tif of the same shape")
    train.add_argument("--out", required=True, type=Path, metavar="MODEL")
    train.add_argument("--anisotropy", type=float, metavar="A",
                       help="z sampling / xy sampling (default: from the spacing)")
    train.add_argument("--spacing", type=spacing_type, metavar="DZ,DY,DX")
    train.add_argument("--epochs", type=int, default=100, metavar="N")
    train.add_argument("--base-model", type=Path, metavar="PATH",
                       help="fine-tune this Plexus model instead of starting afresh")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true")


def _anisotropy(value, spacing):
    if value is not None:
        return value
    dz, dy, dx = spacing
    return dz / ((dy + dx) / 2)


def _check_options(args):
    from engine import InvalidInputError

    given = lambda *names: [f"--{n.replace('_', '-')}" for n in names  # noqa: E731
                            if getattr(args, n) not in (None, False, 0.0)]
    if args.method == "threshold" and args.threshold is None:
        raise InvalidInputError("--method threshold needs --threshold VALUE")
    if args.method != "threshold" and args.threshold is not None:
        raise InvalidInputError("--threshold applies to --method threshold only")
    if args.method == "rf" and (args.scribbles is None) == (args.model is None):
        raise InvalidInputError("--method rf needs --scribbles SCRIBBLES.tif or --model FILE")
    wrong = {
        "cellpose": given("smooth", "split", "per_slice", "scribbles", "save_model"),
        "rf": given("smooth", "per_slice", "do_3d", "stitch_threshold", "anisotropy",
                    "flow3d_smooth", "diameter", "z_axis", "channel_axis"),
    }.get(args.method, given("scribbles", "save_model", "model", "do_3d",
                             "stitch_threshold", "anisotropy", "flow3d_smooth",
                             "diameter", "z_axis", "channel_axis"))
    if wrong:
        raise InvalidInputError(
            f"{', '.join(wrong)} cannot be used with --method {args.method}"
        )


def run_segment(args, progress_type):
    from engine import io, segment

    from . import cli_blockwise

    _check_options(args)
    started = time.perf_counter()
    if cli_blockwise.wanted(args, args.image) or cli_blockwise.is_zarr_output(args.out):
        n = cli_blockwise.run_segment(args, progress_type)
        if not args.quiet:
            print(f"{n} objects ({args.method}, blockwise, "
                  f"{time.perf_counter() - started:.1f} s); labels in {args.out}")
        return
    progress = progress_type(args.method, args.quiet)
    fill = not args.no_fill
    sizes = dict(min_volume=args.min_size, max_volume=args.max_size)
    if args.method == "cellpose":
        labels, spacing = _run_cellpose(args, progress)
        labels = segment.filter_by_volume(labels, spacing=spacing, **sizes)
    else:
        image, spacing = io.read_tif(args.image, spacing=args.spacing)
        if args.method in ("threshold", "otsu"):
            labels = segment.segment_threshold(
                image, spacing=spacing,
                method="manual" if args.method == "threshold" else "otsu",
                threshold=args.threshold, per_slice=args.per_slice, smooth=args.smooth,
                fill=fill, split=args.split, progress=progress, **sizes)
        else:
            labels = _run_forest(args, image, spacing, fill, sizes, progress)
    progress.close()
    io.write_tif(args.out, labels.astype("uint32", copy=False), spacing=spacing)
    if not args.quiet:
        seconds = time.perf_counter() - started
        print(f"{int(labels.max())} objects ({args.method}, {seconds:.1f} s); "
              f"labels in {args.out}")


def _run_forest(args, image, spacing, fill, sizes, progress):
    from engine import io, segment

    if args.model is not None:
        classifier = segment.PixelClassifier.load(args.model)
    else:
        scribbles, _ = io.read_tif(args.scribbles)
        classifier = segment.PixelClassifier().fit(image, scribbles, spacing=spacing)
        if args.save_model is not None:
            classifier.save(args.save_model)
    return segment.segment_forest(
        image, spacing=spacing, classifier=classifier, probability=args.probability,
        fill=fill, split=args.split, progress=progress, **sizes)


def _run_cellpose(args, progress):
    import numpy as np

    from engine import InvalidInputError, io, segment

    array, axes, spacing = io.read_tif_axes(args.image, spacing=args.spacing)
    squeezed = [i for i, n in enumerate(array.shape) if n == 1]
    if array.ndim > 3 and args.channel_axis is None and len(squeezed) < array.ndim - 3:
        hint = ""
        for letter in "CS":
            if letter in axes:
                hint = f"; the file's axes are {axes}: try --channel-axis {axes.index(letter)}"
        raise InvalidInputError(
            f"{args.image} has {array.ndim} axes (shape {array.shape}); "
            f"say which one holds the channels with --channel-axis{hint}"
        )
    if array.ndim > 3 and args.channel_axis is None:
        array = np.squeeze(array)
    do_3d = args.do_3d if args.do_3d is not None else not args.stitch_threshold
    labels = segment.segment_cellpose(
        array, spacing=spacing, model=args.model, z_axis=args.z_axis,
        channel_axis=args.channel_axis, do_3D=do_3d,
        anisotropy=_anisotropy(args.anisotropy, spacing),
        flow3D_smooth=args.flow3d_smooth, min_volume=args.min_size,
        stitch_threshold=args.stitch_threshold, diameter=args.diameter,
        cellprob_threshold=args.cellprob_threshold, flow_threshold=args.flow_threshold,
        progress=progress)
    return labels, spacing


def run_train_cellpose(args, progress_type):
    from engine import InvalidInputError, io, segment

    image, spacing = io.read_tif(args.image, spacing=args.spacing)
    labels, _ = io.read_labels(args.labels, spacing=spacing)
    if labels.shape != image.shape:
        raise InvalidInputError(
            f"labels ({args.labels}) must have the shape of the image "
            f"({args.image}): {labels.shape} vs {image.shape}"
        )
    progress = progress_type("epochs", args.quiet)
    started = time.perf_counter()
    path = segment.train_cellpose(
        image, labels, anisotropy=_anisotropy(args.anisotropy, spacing), out=args.out,
        base_model=args.base_model, n_epochs=args.epochs, seed=args.seed,
        progress=progress)
    progress.close()
    if not args.quiet:
        print(f"model trained in {time.perf_counter() - started:.0f} s: {path}",
              file=sys.stdout)
