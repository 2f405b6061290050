"""Dask plumbing shared by the blockwise functions: inputs, chunk geometry,
a plain task graph over the chunks, run with progress on whatever scheduler
is active (threads, processes, or a ``dask.distributed`` client)."""

import itertools
import os
import uuid

import numpy as np

from .._errors import InvalidInputError


def dask():
    try:
        import dask
        import dask.array  # noqa: F401
        import dask.threaded  # noqa: F401
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
    if hasattr(scheduler, "get") and hasattr(scheduler, "gather"):
        return scheduler  # a Client set as the scheduler
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


class TaskGraph:
    """A plain dask task graph over the chunks of some dask arrays.

    ``dask.delayed`` merges (and in recent Dask materialises) the whole
    input graph at every call, which is quadratic in the number of chunks;
    here tasks are tuples in one dict, run once by the active scheduler.

    >>> import dask.array as da
    >>> graph = TaskGraph("demo")
    >>> x = da.ones((4, 4, 4), chunks=2)
    >>> keys = [graph.add("sum", i, np.sum, graph.block(x, i)) for i, _ in chunk_grid(x)]
    >>> sum(graph.run(keys))
    np.float64(64.0)
    """

    def __init__(self, name):
        # unique per graph: two lazy results must never share keys (an id()
        # is reused once the graph object is freed, as it is after array())
        self.name = f"plexus-{name}-{uuid.uuid4().hex}"
        self.tasks = {}
        self._sources = {}
        self._optimised = None

    def block(self, array, index):
        """The key of ``array``'s chunk at ``index`` (registers the array)."""
        self._sources.setdefault(array.name, array)
        return (array.name, *index)

    def add(self, kind, index, func, *args):
        """Add ``func(*args)`` (keys among the args are replaced by results)."""
        key = (f"{self.name}-{kind}", *tuple(index))
        self.tasks[key] = (func, *args)
        return key

    def graph(self):
        """The tasks and the sources' graphs, optimised as ``compute`` would
        (culled, element-wise steps fused into the chunks' tasks)."""
        from dask.highlevelgraph import HighLevelGraph

        names = tuple(self._sources)
        if self._optimised is None or self._optimised[0] != names:
            sources = list(self._sources.values())
            optimised = {}
            if sources:
                graphs = HighLevelGraph.merge(*(a.__dask_graph__() for a in sources))
                keys = [a.__dask_keys__() for a in sources]
                optimised.update(sources[0].__dask_optimize__(graphs, keys))
            self._optimised = (names, optimised)  # a second run reuses it
        merged = dict(self._optimised[1])
        merged.update(self.tasks)
        return merged

    def array(self, kind, like, dtype, make):
        """A dask array whose chunk ``index`` is ``make(index)`` = (func, *args).

        The tasks added so far (:meth:`add`) go into the array's graph too,
        so a chunk's task may use their keys (one shared input, say).
        """
        from dask.highlevelgraph import HighLevelGraph

        da = dask().array
        name = f"{self.name}-{kind}"
        layer = dict(self.tasks)
        layer.update({(name, *index): make(index) for index, _ in chunk_grid(like)})
        graph = HighLevelGraph.from_collections(
            name, layer, dependencies=list(self._sources.values()))
        return da.Array(graph, name, chunks=like.chunks, dtype=dtype)

    def run(self, keys, *, progress=None, counted=None):
        """Results of ``keys`` in order; ``progress(done, total)`` per counted key."""
        return run_graph(self.graph(), list(keys), progress=progress, counted=counted)


def run_graph(graph, keys, *, progress=None, counted=None):
    """Compute ``keys`` of a task graph with the active scheduler."""
    dask_module = dask()
    counted = set(keys) if counted is None else set(counted)
    total = len(counted)
    client = current_client()
    if client is not None:
        from distributed import as_completed

        futures = client.get(graph, keys, sync=False)
        done = 0
        try:
            for future in as_completed(futures):
                if future.status == "error":
                    future.result()  # raises the task's own error
                if progress is not None and future.key in counted:
                    done += 1
                    progress(done, total)
            return client.gather(futures)
        except BaseException:
            client.cancel(futures)
            raise
    from dask.base import get_scheduler

    get = get_scheduler() or dask_module.threaded.get
    if progress is None:
        return list(get(graph, keys))
    from dask.callbacks import Callback

    state = {"done": 0}

    def posttask(key, _result, _dsk, _state, _worker):
        if key in counted:
            state["done"] += 1
            progress(state["done"], total)

    with Callback(posttask=posttask):
        return list(get(graph, keys))
