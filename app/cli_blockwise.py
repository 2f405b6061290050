"""Volumes larger than memory on the command line: zarr inputs run blockwise.

``plexus network`` and ``plexus segment`` switch to the engine's blockwise
functions (:mod:`engine.blockwise`, over Dask) when an input is a zarr or
OME-Zarr folder, when ``segment``'s output ends in ``.zarr``, or when one
of the options of :func:`add_options` is given; ``plexus label`` (connected
components of a mask) is always blockwise. The results are those of the
in-memory commands, id for id. A tif input is read into memory and cut into
chunks; a zarr input is read one chunk (plus the overlap a step needs) at a
time.
"""

import contextlib
import os
import time
from pathlib import Path

#: Seconds to wait for a Dask scheduler at an address before giving up.
CONNECT_TIMEOUT = 10

LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
_OPTIONS = ("chunks", "scheduler", "memory_limit", "workers")


def add_options(parser):
    """The options that choose chunks and where they run (any one makes a run blockwise)."""
    from .cli_convert import _chunks

    group = parser.add_argument_group(
        "volumes larger than memory",
        "Run blockwise over Dask, one chunk at a time, with the results of the in-memory "
        "run. Automatic for zarr/OME-Zarr inputs; any of these options also asks for it.")
    group.add_argument("--chunks", type=_chunks, metavar="Z,Y,X",
                       help="chunk shape (default: the zarr's chunks; 128,128,128 for a tif)")
    group.add_argument("--scheduler", metavar="NAME",
                       help="threads (default), processes, synchronous, or the address of "
                       "a Dask scheduler (tcp://host:8786)")
    group.add_argument("--memory-limit", metavar="SIZE",
                       help="total memory of a local Dask cluster (e.g. 4GB); its workers "
                       "spill to disk rather than exceed it")
    group.add_argument("--workers", type=int, metavar="N",
                       help="worker threads or processes (default: one per core)")


def is_zarr_path(path):
    """A folder, or a name ending in ``.zarr``: handled as a zarr store."""
    path = Path(path)
    return path.is_dir() or path.name.lower().endswith(".zarr")


def wanted(args, *paths):
    """Whether the command should run blockwise."""
    return (any(is_zarr_path(p) for p in paths)
            or any(getattr(args, name, None) is not None for name in _OPTIONS))


# ---------------------------------------------------------------- inputs


def open_volume(path, *, name, spacing=None):
    """(array, spacing) of a tif (read into memory) or a zarr (lazy)."""
    from engine import io
    from engine._errors import FileFormatError

    path = Path(path)
    if is_zarr_path(path):
        if path.is_dir() and not any((path / m).exists()
                                     for m in (".zarray", ".zgroup", "zarr.json")):
            raise FileFormatError(
                f"{name} ({path}) is a folder but not a zarr store; give a tif file or a "
                "zarr/OME-Zarr folder (plexus convert makes one from a tif)")
        return io.read_zarr(path, spacing=spacing)
    try:
        return io.read_tif(path, spacing=spacing)
    except FileFormatError as err:
        if path.suffix.lower() in (".tif", ".tiff"):
            raise
        raise FileFormatError(
            f"{name} ({path}) is neither a tif file nor a zarr folder: {err}") from None


def open_labels(path, *, name, spacing=None):
    """A label or mask volume: integers or booleans (signed ids viewed as unsigned)."""
    import numpy as np

    from engine import InvalidInputError

    array, spacing = open_volume(path, name=name, spacing=spacing)
    dtype = np.dtype(array.dtype)
    if dtype.kind == "f":
        raise InvalidInputError(
            f"{name} ({path}) must hold integer labels, got floating-point data ({dtype}); "
            "export the segmentation as an integer image")
    if dtype.kind not in "biu":
        raise InvalidInputError(f"{name} ({path}) must be an integer label image, "
                                f"got dtype {dtype}")
    if dtype.kind == "i":
        unsigned = np.dtype(f"u{dtype.itemsize}")
        if isinstance(array, np.ndarray):
            if array.min() < 0:
                raise InvalidInputError(f"{name} ({path}) must not contain negative labels")
            array = array.view(unsigned)
        else:
            import dask.array as da

            array = da.from_array(array, chunks=array.chunks).astype(unsigned)
    return array, spacing


# ---------------------------------------------------------------- scheduler


def _check_scheduler(args):
    from engine import InvalidInputError, blockwise

    name = args.scheduler or "threads"
    local = name in LOCAL_SCHEDULERS
    if not local and "://" not in name and ":" not in name:
        raise InvalidInputError(
            "--scheduler must be threads, processes, synchronous or the address of a Dask "
            f"scheduler such as tcp://host:8786, was {name!r}")
    if args.memory_limit is not None:
        try:
            blockwise.parse_memory(args.memory_limit)
        except InvalidInputError:
            raise InvalidInputError(
                "--memory-limit must be a positive size such as 2GB or 512MiB, "
                f"was {args.memory_limit!r}") from None
        if not local:
            raise InvalidInputError(
                f"--memory-limit applies to a local cluster; the workers of the scheduler at "
                f"{name} get their limit when started (dask worker --memory-limit)")
        if name == "synchronous":
            raise InvalidInputError(
                "--memory-limit needs --scheduler threads or processes, not synchronous")
    if args.workers is not None:
        if args.workers < 1:
            raise InvalidInputError(f"--workers must be at least 1, was {args.workers}")
        if not local:
            raise InvalidInputError(
                f"--workers applies to a local scheduler; the scheduler at {name} has the "
                "workers that were started for it")
    if args.memory_limit is not None or not local:
        try:
            import distributed  # noqa: F401
        except ImportError:
            option = "--memory-limit" if local else f"--scheduler {name}"
            raise InvalidInputError(
                f"{option} needs dask.distributed: pip install 'plexus3d[scale]'") from None
    return name


@contextlib.contextmanager
def running(args):
    """The chosen scheduler, active for the blockwise calls inside."""
    import dask

    from engine import InvalidInputError, blockwise

    name = _check_scheduler(args)
    # only for an address (distributed is imported by then: its defaults stay whole)
    timeout = ({} if name in LOCAL_SCHEDULERS
               else {"distributed.comm.timeouts.connect": f"{CONNECT_TIMEOUT}s"})
    with dask.config.set(timeout), contextlib.ExitStack() as stack:
        try:
            stack.enter_context(blockwise.scheduler(
                name, memory_limit=args.memory_limit, workers=args.workers))
        except (OSError, TimeoutError) as err:
            raise InvalidInputError(
                f"--scheduler {name}: no Dask scheduler answered there "
                f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
        yield


# ---------------------------------------------------------------- outputs


def is_zarr_output(path):
    return os.fspath(path).lower().rstrip("/").endswith(".zarr")


def write_labels(path, labels, spacing, progress):
    """Write chunked labels: OME-Zarr (labels) for a .zarr path, else a uint32 tif."""
    import numpy as np

    from engine import blockwise, io

    volume = labels.to_dask()
    if is_zarr_output(path):
        volume = volume.astype(np.promote_types(volume.dtype, np.uint32))
        blockwise.store_ome_zarr(path, volume, spacing=spacing, labels=True, overwrite=True,
                                 progress=progress)
    else:
        io.write_tif(path, volume.astype(np.uint32).compute(), spacing=spacing)


def table_path(out):
    """``cells.zarr`` -> ``cells.csv`` (and ``cells.ome.zarr``, ``cells.tif`` alike)."""
    out = Path(os.fspath(out).rstrip("/"))
    stem = out.name
    for suffix in (".ome.zarr", ".zarr", ".ome.tiff", ".ome.tif", ".tiff", ".tif"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return out.with_name((stem or "labels") + ".csv")


# ---------------------------------------------------------------- network


def run_network(args, progress_type):
    """``plexus network`` on chunks; returns the Network it saved."""
    from engine import blockwise

    _check_scheduler(args)
    nodes, spacing = open_labels(args.nodes, name="nodes", spacing=args.spacing)
    edges, _ = open_labels(args.edges, name="edges", spacing=spacing)
    progress = progress_type("chunks", args.quiet)
    try:
        with running(args):
            net = blockwise.connect(nodes, edges, search=args.search, spacing=spacing,
                                    trunks=args.trunks, bridge=args.bridge,
                                    chunks=args.chunks, progress=progress)
    finally:
        progress.close()
    net.save(args.out, excel=args.excel)
    return net


# ---------------------------------------------------------------- segment


def check_segment(args):
    """Refuse what has no blockwise equivalent, naming the option."""
    from engine import InvalidInputError

    why = "for a zarr volume (or with --out *.zarr, --chunks, --scheduler, --memory-limit, " \
          "--workers)"
    if args.method == "cellpose":
        raise InvalidInputError(
            f"--method cellpose is not available {why}: Cellpose needs the whole volume; "
            "segment a tif in memory instead")
    if args.split:
        raise InvalidInputError(
            f"--split is not available {why}: the watershed needs whole objects, not chunks; "
            "leave out --split")
    if args.method == "rf" and args.scribbles is not None:
        raise InvalidInputError(
            f"--scribbles is not available {why}: train on a tif crop with --scribbles and "
            "--save-model FILE, then segment the zarr with --model FILE")


def run_segment(args, progress_type):
    """``plexus segment`` on chunks; returns the number of objects written."""
    from engine import blockwise

    check_segment(args)
    _check_scheduler(args)
    image, spacing = open_volume(args.image, name="image", spacing=args.spacing)
    sizes = {"min_volume": args.min_size, "max_volume": args.max_size}
    fill = not args.no_fill
    progress = progress_type("chunks", args.quiet)
    writing = progress_type("writing", args.quiet)
    try:
        with running(args):
            if args.method in ("threshold", "otsu"):
                labels = blockwise.segment_threshold(
                    image, spacing=spacing,
                    method="manual" if args.method == "threshold" else "otsu",
                    threshold=args.threshold, per_slice=args.per_slice, smooth=args.smooth,
                    fill=fill, chunks=args.chunks, progress=progress, **sizes)
            else:
                mask = blockwise.predict(args.model, image, spacing,
                                         probability=args.probability, chunks=args.chunks)
                if fill:
                    mask = blockwise.fill_holes(mask, progress=progress)
                labels = blockwise.connected_components(mask, connectivity=26,
                                                        progress=progress)
                labels = labels.filter_by_volume(spacing=spacing, **sizes)
            progress.close()
            write_labels(args.out, labels, spacing, writing)
    finally:
        progress.close()
        writing.close()
    return labels.n_kept


# ---------------------------------------------------------------- label


def add_parsers(sub, spacing_type):
    lab = sub.add_parser(
        "label", help="connected components of a mask, blockwise (zarr in, OME-Zarr out)",
        description="Label the connected objects of MASK (a zarr/OME-Zarr folder or a tif; "
        "a binary mask or a label volume, whose labels never merge) one chunk at a time, "
        "with the ids of the in-memory labelling (numbered by first voxel). Writes OUT "
        "(OME-Zarr labels for a .zarr name, else a uint32 tif; replaced if it exists) and "
        "a table of the objects beside it (OUT without its suffix + .csv: label, centroid "
        "z,y,x, voxels, volume, box), in physical units.")
    lab.add_argument("mask", type=Path, metavar="MASK", help="zarr/OME-Zarr folder or tif")
    lab.add_argument("out", type=Path, metavar="OUT.zarr")
    lab.add_argument("--connectivity", type=int, choices=(6, 18, 26), default=26,
                     help="voxel neighbourhood (default 26)")
    lab.add_argument("--min-volume", type=float, metavar="V",
                     help="smallest object volume kept (unit of the spacing, cubed)")
    lab.add_argument("--max-volume", type=float, metavar="V",
                     help="largest object volume kept")
    lab.add_argument("--spacing", type=spacing_type, metavar="DZ,DY,DX",
                     help="voxel size; overrides the zarr or tif metadata")
    lab.add_argument("--table", type=Path, metavar="CSV",
                     help="where to write the object table (default: beside OUT)")
    add_options(lab)
    lab.add_argument("--quiet", action="store_true", help="no progress bar")


def run_label(args, progress_type):
    from engine import blockwise, io

    started = time.perf_counter()
    _check_scheduler(args)
    mask, spacing = open_labels(args.mask, name="mask", spacing=args.spacing)
    progress = progress_type("chunks", args.quiet)
    writing = progress_type("writing", args.quiet)
    table = args.table or table_path(args.out)
    try:
        with running(args):
            labels = blockwise.connected_components(
                mask, connectivity=args.connectivity, chunks=args.chunks, progress=progress)
            labels = labels.filter_by_volume(spacing=spacing, min_volume=args.min_volume,
                                             max_volume=args.max_volume)
            progress.close()
            write_labels(args.out, labels, spacing, writing)
    finally:
        progress.close()
        writing.close()
    properties = labels.properties(spacing=spacing)
    first = ["label", "z", "y", "x", "voxels", "volume"]
    properties = properties[first + [c for c in properties.columns if c not in first]]
    io.write_table(properties, table)
    if not args.quiet:
        print(f"{labels.n_kept} objects ({time.perf_counter() - started:.1f} s); "
              f"labels in {args.out}, table in {table}")
