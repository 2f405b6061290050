"""Writing a lazy volume to an OME-Zarr, chunk by chunk, on the workers."""

import os

import numpy as np

from .._validate import check_count, check_spacing
from ._dask import TaskGraph, as_dask, chunk_grid


def store_ome_zarr(path, volume, *, spacing=(1.0, 1.0, 1.0), unit="micrometer", levels=1,
                   labels=False, overwrite=False, progress=None):
    """Compute ``volume`` chunk by chunk into an OME-Zarr (NGFF 0.4) at ``path``.

    Each worker writes the chunks it computes straight into the store
    (the zarr chunks are the dask chunks, so no two tasks write one zarr
    chunk); nothing but a small status returns to the client. The store is
    built in a temporary folder beside ``path`` and renamed into place
    when complete, so a failed or cancelled run leaves no half store.

    Parameters
    ----------
    path : str or os.PathLike
        Destination folder; its parent must exist.
    volume : dask array (or anything :func:`as_dask` takes), (z, y, x)
    spacing, unit, levels, labels, overwrite
        As :func:`engine.io.write_ome_zarr`; levels after the first are
        downsampled from the stored level 0, a slab at a time.
    progress : callable, optional
        ``progress(done, total)`` as chunks are written.

    Examples
    --------
    >>> import pathlib, tempfile, dask.array as da
    >>> from engine.io import read_zarr
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ones.zarr"
    >>> store_ome_zarr(path, da.ones((4, 6, 6), np.uint8, chunks=3), spacing=(2, 1, 1))
    >>> array, spacing = read_zarr(path)
    >>> int(array[...].sum()), spacing
    (144, (2.0, 1.0, 1.0))
    """
    from ..io import _zarr as zio

    zarr = zio._zarr()
    spacing = check_spacing(spacing)
    levels = check_count(levels, name="levels")
    unit = zio._ngff_unit(unit)
    array = as_dask(volume, name="volume")
    # zarr needs regular chunks: the first chunk of each axis sets the size
    regular = tuple(c[0] for c in array.chunks)
    if any(len(set(c[:-1])) > 1 or c[-1] > c[0] for c in array.chunks):
        array = array.rechunk(regular)
    zio._check_labels_dtype(array.dtype, labels, "the volume")
    plan = zio._level_plan(array.shape, spacing, levels)
    name = os.path.basename(os.fspath(path)).split(".")[0]
    with zio._atomic_folder(path, overwrite) as temporary:
        group = zarr.open_group(temporary, mode="w", zarr_format=2)
        zio._create_level(group, "0", array.shape, array.dtype, regular)
        graph = TaskGraph("store")
        level0 = os.path.join(temporary, "0")
        keys = [graph.add("write", index, _write_chunk, graph.block(array, index), level0,
                          [int(o) for o in origin])
                for index, origin in chunk_grid(array)]
        graph.run(keys, progress=progress)
        zio._write_pyramid(group, plan, regular, labels, lambda n: None)
        group.attrs.update(zio._multiscales(name, plan, unit, labels))


def _write_chunk(block, level_path, origin):
    from ..io import _zarr as zio

    target = zio._zarr().open_array(level_path, mode="r+")
    region = tuple(slice(o, o + n) for o, n in zip(origin, block.shape))
    target[region] = np.asarray(block)
    return True
