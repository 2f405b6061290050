"""Dask plumbing shared by the blockwise functions: inputs, chunk geometry,
running a list of per-chunk tasks with progress, on whatever scheduler is
active (threads, processes, or a ``dask.distributed`` client)."""

import itertools
import os

import numpy as np

from .._errors import InvalidInputError


def dask():
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError as err:  # pragma: no cover - the extra is installed in tests
        raise ImportError(
            "blockwise processing needs Dask: pip install 'plexus3d[scale]'") from err
    return dask


def as_dask(volume, *, chunks=None, name="volume"):
    """A 3D ``dask.array`` over ``volume``.

    ``volume`` may be a dask array, a zarr array, a path to a zarr or
    OME-Zarr store (level 0), or a numpy array. ``chunks`` rechunks; by
    default a zarr keeps its own chunks and a numpy array gets 128^3.
    """
    da = dask().array
    if chunks is not None:  # before any use: a numpy input is chunked with it
        chunks = check_chunks(chunks, name="chunks")
    if isinstance(volume, (str, os.PathLike)):
        from ..io import read_zarr

        volume, _spacing = read_zarr(volume)
    if isinstance(volume, da.Array):
        array = volume
    elif hasattr(volume, "chunks") and hasattr(volume, "shape") and not isinstance(volume, np.ndarray):
        array = da.from_array(volume, chunks=volume.chunks)
    else:
        volume = np.asarray(volume)
        if volume.ndim == 2:
            volume = volume[np.newaxis]
        # a wrong number of axes is refused below, by name
        size = (chunks or (128, 128, 128)) if volume.ndim == 3 else -1
        array = da.from_array(volume, chunks=size)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise InvalidInputError(
            f"{name} must be a (z, y, x) volume; got {array.ndim} dimensions, shape {array.shape}")
    if 0 in array.shape:
        raise InvalidInputError(f"{name} is empty (shape {array.shape})")
    if chunks is not None:
        array = array.rechunk(chunks)
    return array


def check_chunks(chunks, *, name="chunks"):
    try:
        values = tuple(int(c) for c in chunks)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be three positive integers (z, y, x), "
                                f"was {chunks!r}") from None
    if len(values) != 3 or min(values) < 1:
        raise InvalidInputError(f"{name} must be three positive integers (z, y, x), "
                                f"was {chunks!r}")
    return values


def chunk_grid(array):
    """``(index, origin)`` of every chunk, in C order of the chunk index."""
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in array.chunks]
    for index in itertools.product(*(range(len(c)) for c in array.chunks)):
        yield index, tuple(int(s[i]) for s, i in zip(starts, index))


def same_chunks(*arrays, names):
    """Rechunk every array to the first one's chunks (after a shape check)."""
    first = arrays[0]
    out = [first]
    for array, name in zip(arrays[1:], names[1:]):
        if array.shape != first.shape:
            raise InvalidInputError(
                f"{name} has shape {array.shape} but {names[0]} has {first.shape}; "
                "they must match voxel for voxel")
        out.append(array.rechunk(first.chunks) if array.chunks != first.chunks else array)
    return out


def current_client():
    """The active ``dask.distributed`` client, or None for a local scheduler."""
    scheduler = dask().config.get("scheduler", None)
    if scheduler not in (None, "dask.distributed", "distributed"):
        return None
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def run_tasks(tasks, *, progress=None, counted=None):
    """Compute a list of ``dask.delayed`` tasks; return their results in order.

    ``progress(done, total)`` is called as each task in ``counted`` (keys;
    default: all of ``tasks``) finishes, from the calling thread; raising
    from it cancels the run.
    """
    dask_module = dask()
    counted = {t.key for t in tasks} if counted is None else set(counted)
    total = len(counted)
    client = current_client()
    if client is not None:
        from distributed import as_completed

        futures = client.compute(tasks)
        by_key = {f.key: f for f in futures}
        done = 0
        try:
            for future in as_completed(futures):
                if future.status == "error":
                    future.result()  # raises the task's own error
                if progress is not None and future.key in counted:
                    done += 1
                    progress(done, total)
            return client.gather([by_key[t.key] for t in tasks])
        except BaseException:
            client.cancel(futures)
            raise
    if progress is None:
        return list(dask_module.compute(*tasks))
    from dask.callbacks import Callback

    state = {"done": 0}

    def posttask(key, _result, _dsk, _state, _worker):
        if key in counted:
            state["done"] += 1
            progress(state["done"], total)

    with Callback(posttask=posttask):
        return list(dask_module.compute(*tasks))
