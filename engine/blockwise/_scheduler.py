"""Choosing where the chunks run: threads, processes or a Dask cluster."""

import contextlib
import os

from .._errors import InvalidInputError
from ._dask import dask

LOCAL = ("threads", "processes", "synchronous")
#: How long a task may wait with no worker alive before the run fails.
NO_WORKERS_TIMEOUT = "120s"


def parse_memory(text):
    """Bytes from ``"2GB"``, ``"512 MiB"`` or a number of bytes.

    >>> parse_memory("2GB"), parse_memory("1.5 GiB"), parse_memory(1000)
    (2000000000, 1610612736, 1000)
    """
    if text is None:
        return None
    from dask.utils import parse_bytes

    try:
        value = parse_bytes(text) if isinstance(text, str) else int(text)
    except (ValueError, TypeError):
        raise InvalidInputError(
            f"memory_limit must be a size such as 2GB or 512MiB, was {text!r}") from None
    if value <= 0:
        raise InvalidInputError(f"memory_limit must be positive, was {text!r}")
    return int(value)


def _cores():
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def scheduler(name="threads", *, memory_limit=None, workers=None):
    """Run the blockwise functions called inside on the chosen scheduler.

    Parameters
    ----------
    name : str
        ``"threads"`` (default), ``"processes"``, ``"synchronous"`` (one
        thread, for debugging), or the address of a running
        ``dask.distributed`` scheduler (``"tcp://10.0.0.5:8786"``).
    memory_limit : str or int, optional
        Total memory for the workers (``"2GB"``). Starts a
        ``dask.distributed.LocalCluster`` of worker processes sharing the
        limit (``threads``: one process with ``workers`` threads;
        ``processes``: ``workers`` processes of one thread): Dask spills,
        pauses and restarts a worker that goes over it. Not allowed with an address: a cluster's workers get
        their limit when they are started (``dask worker --memory-limit``).
    workers : int, optional
        Worker processes or threads (default: the cores this process may use).

    Yields
    ------
    client : distributed.Client or None
        The client of the cluster, or None for a local scheduler.

    Examples
    --------
    >>> import numpy as np
    >>> from engine.blockwise import connected_components
    >>> with scheduler("synchronous"):
    ...     connected_components(np.ones((4, 4, 4), bool), chunks=(2, 2, 2)).n
    1
    """
    workers = _cores() if workers is None else int(workers)
    if workers < 1:
        raise InvalidInputError(f"workers must be at least 1, was {workers}")
    limit = parse_memory(memory_limit)
    if not isinstance(name, str) or not name:
        raise InvalidInputError(
            f"scheduler must be threads, processes, synchronous or a scheduler address, "
            f"was {name!r}")
    config = dask().config
    if name not in LOCAL:
        if "://" not in name and ":" not in name:
            raise InvalidInputError(
                f"scheduler must be threads, processes, synchronous or a scheduler address "
                f"such as tcp://host:8786, was {name!r}")
        if limit is not None:
            raise InvalidInputError(
                "memory_limit applies to a local cluster; the workers of the cluster at "
                f"{name} get theirs when started (dask worker --memory-limit)")
        distributed = _distributed()
        with distributed.Client(name) as client, config.set(scheduler=client):
            yield client
        return
    if limit is None and name == "processes":
        # one pool for every pass inside (dask would start a pool per compute)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context(config.get("multiprocessing.context", "spawn"))
        with ProcessPoolExecutor(workers, mp_context=context) as pool, \
                config.set(scheduler=name, pool=pool, num_workers=workers):
            yield None
        return
    if limit is None:
        with config.set(scheduler=name, num_workers=workers):
            yield None
        return
    if name == "synchronous":
        raise InvalidInputError("memory_limit needs threads or processes, not synchronous")
    distributed = _distributed()
    processes = name == "processes"
    n_workers = workers if processes else 1
    # should every worker die for good, fail the run instead of waiting forever
    with config.set({"distributed.scheduler.no-workers-timeout": NO_WORKERS_TIMEOUT}):
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1 if processes else workers,
            # always worker processes: a worker inside this process would count
            # this whole process's memory against its limit
            processes=True, memory_limit=max(limit // n_workers, 1),
            dashboard_address=None, silence_logs=40)
    try:
        with distributed.Client(cluster) as client, config.set(scheduler=client):
            yield client
    finally:
        cluster.close()


def _distributed():
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - installed with the extra
        raise ImportError(
            "a memory limit or a cluster address needs dask.distributed: "
            "pip install 'plexus3d[scale]'") from err
    return distributed
