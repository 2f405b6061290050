"""The ``plexus`` command line.

Every sub-command reads its inputs through ``engine.io`` (so bad files get
the same clear errors), runs one engine function and writes its results
with ``Network.save``. Errors a user can fix are printed as one line and
exit with status 2; no traceback.
"""

import argparse
import sys
from pathlib import Path

DEMO_SEARCH = 3.0  # physical units of the frog data (its voxels are 1.5 x 1 x 1)
DEMO_OUT = "plexus-demo-output"


def _spacing(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected three numbers DZ,DY,DX (e.g. 2,0.5,0.5), got {text!r}"
        ) from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers DZ,DY,DX, got {text!r}")
    return values


def _label_ids(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected label ids ID,ID,... (e.g. 1,12), got {text!r}") from None
    if any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"label ids are positive integers, got {text!r}")
    return values


def _common(parser):
    parser.add_argument("--spacing", type=_spacing, metavar="DZ,DY,DX",
                        help="voxel size; overrides the tif (or zarr) metadata")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="folder for edges.csv, nodes.csv, stats.json, network.graphml")
    parser.add_argument("--excel", action="store_true", help="also write network.xlsx")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="plexus",
        description="Plexus: from a 3D microscopy or EM volume to a network of objects.",
    )
    from engine import __version__

    parser.add_argument("--version", action="version", version=f"plexus {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    net = sub.add_parser(
        "network", help="network of nodes linked through connecting objects",
        description="Link the nodes (labelled objects) through the connecting objects. "
        "Zarr/OME-Zarr inputs, or any of --chunks, --scheduler, --memory-limit, --workers, "
        "run blockwise (chunk by chunk, over Dask) with the same results.")
    net.add_argument("nodes", type=Path,
                     help="node labels (0 = background): tif, or zarr/OME-Zarr folder")
    net.add_argument("edges", type=Path,
                     help="connecting objects (mask or labels): tif, or zarr/OME-Zarr folder")
    net.add_argument("--search", type=float, required=True, metavar="R",
                     help="search radius around each node, in physical units")
    net.add_argument("--trunks", type=int, default=0, metavar="N",
                     help="drop the N largest connecting objects (trunks)")
    net.add_argument("--bridge", type=float, metavar="D",
                     help="first close gaps in connecting objects by dilating them by D")
    _common(net)
    from . import cli_blockwise

    cli_blockwise.add_options(net)

    prox = sub.add_parser("proximity", help="network of nodes linked by distance")
    prox.add_argument("nodes", type=Path, help="node label tif (0 = background)")
    prox.add_argument("--radius", type=float, metavar="R",
                      help="link centroids within R (with --surface: boundaries within R)")
    prox.add_argument("--k", type=int, metavar="K", help="link each node to its K nearest")
    prox.add_argument("--surface", action="store_true",
                      help="measure between object boundaries instead of centroids")
    _common(prox)

    demo = sub.add_parser("demo", help="run the network analysis of the embedded frog data")
    demo.add_argument("--out", type=Path, default=Path(DEMO_OUT), metavar="DIR")
    demo.add_argument("--search", type=float, default=DEMO_SEARCH, metavar="R")
    demo.add_argument("--quiet", action="store_true")

    from . import cli_segment

    cli_segment.add_parsers(sub, _spacing)
    from . import cli_branches

    cli_branches.add_parsers(sub, _spacing, _label_ids)
    from . import cli_datastack

    cli_datastack.add_parsers(sub)
    from . import cli_convert

    cli_convert.add_parsers(sub, _spacing)
    cli_blockwise.add_parsers(sub, _spacing)

    serve = sub.add_parser("serve", help="serve the dashboards in the browser (panel serve)")
    serve.add_argument("--port", type=int, default=5006, metavar="P")
    serve.add_argument("--address", default="127.0.0.1", metavar="A",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--dashboards", type=Path, metavar="DIR",
                       help="folder of dashboard notebooks (default: the project's dashboards/)")
    serve.add_argument("--show", action="store_true", help="open a browser")
    return parser


class _Progress:
    """tqdm bar driven by the engine's ``progress(done, total)`` callbacks."""

    def __init__(self, label, quiet):
        self.label, self.quiet, self.bar = label, quiet, None

    def __call__(self, done, total):
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, file=sys.stderr)
        self.bar.n = done
        self.bar.refresh()
        if done >= total:
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _run_network(args):
    from engine import io, network

    from . import cli_blockwise

    if cli_blockwise.wanted(args, args.nodes, args.edges):
        net = cli_blockwise.run_network(args, _Progress)
        _summary(net, args.out, args.quiet)
        return
    nodes, spacing = io.read_labels(args.nodes, spacing=args.spacing, name="nodes")
    edges, _ = io.read_labels(args.edges, spacing=spacing, name="edges")
    progress = _Progress("search regions", args.quiet)
    net = network.connect(nodes, edges, search=args.search, spacing=spacing,
                          trunks=args.trunks, bridge=args.bridge, progress=progress)
    progress.close()
    net.save(args.out, excel=args.excel)
    _summary(net, args.out, args.quiet)


def _run_proximity(args):
    from engine import InvalidInputError, io, network

    if args.radius is None and args.k is None:
        raise InvalidInputError("proximity needs --radius R, --k K, or both")
    nodes, spacing = io.read_labels(args.nodes, spacing=args.spacing, name="nodes")
    progress = _Progress("surfaces", args.quiet)
    if args.surface:
        if args.radius is None or args.k is not None:
            raise InvalidInputError("--surface takes --radius R (the boundary distance), not --k")
        net = network.surface_proximity(nodes, distance=args.radius, spacing=spacing,
                                        progress=progress)
    else:
        net = network.proximity(nodes, radius=args.radius, k=args.k, spacing=spacing)
    progress.close()
    net.save(args.out, excel=args.excel)
    _summary(net, args.out, args.quiet)


def _run_demo(args):
    from engine import datasets, io, network

    nodes, edges, spacing = datasets.frog_network_inputs()
    progress = _Progress("frog search regions", args.quiet)
    net = network.connect(nodes, edges, search=args.search, spacing=spacing,
                          progress=progress, keep_edge_labels=True)
    progress.close()
    net.save(args.out, excel=True)
    io.write_tif(args.out / "nodes.tif", nodes, spacing=spacing)
    io.write_tif(args.out / "edge_objects.tif", net.edge_labels, spacing=spacing)
    names = datasets.frog_tissues().tissue_names
    if not args.quiet:
        graph = net.graph
        print("Frog organs linked by blood vessels and nerves:")
        for a, b, data in sorted(graph.edges(data=True)):
            print(f"  {names.get(a, a):>14} -- {names.get(b, b):<14} "
                  f"({data['weight']} connecting objects)")
    _summary(net, args.out, args.quiet)


def _summary(net, out, quiet):
    if quiet:
        return
    stats = net.statistics()
    print(f"{stats['n_nodes']} nodes, {stats['n_edges']} linked pairs "
          f"({len(net.edges)} node pairs per connecting object); results in {out}/")


def _run_serve(args):
    from . import serve

    serve.serve(port=args.port, address=args.address, directory=args.dashboards,
                show=args.show)


def _run_segment(args):
    from . import cli_segment

    cli_segment.run_segment(args, _Progress)


def _run_branches(args):
    from . import cli_branches

    cli_branches.run_branches(args)


def _run_datastack(args):
    from . import cli_datastack

    cli_datastack.run_create(args)


def _run_serve_datastack(args):
    from . import cli_datastack

    cli_datastack.run_serve(args)


def _run_convert(args):
    from . import cli_convert

    cli_convert.run_convert(args, _Progress)


def _run_label(args):
    from . import cli_blockwise

    cli_blockwise.run_label(args, _Progress)


def _run_train_cellpose(args):
    from . import cli_segment

    cli_segment.run_train_cellpose(args, _Progress)


_COMMANDS = {"network": _run_network, "proximity": _run_proximity, "demo": _run_demo,
             "serve": _run_serve, "segment": _run_segment,
             "train-cellpose": _run_train_cellpose, "branches": _run_branches,
             "datastack": _run_datastack, "serve-datastack": _run_serve_datastack,
             "convert": _run_convert, "label": _run_label}


def main(argv=None):
    """Entry point of the ``plexus`` command."""
    from engine import PlexusError

    args = build_parser().parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except PlexusError as err:
        print(f"plexus: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
