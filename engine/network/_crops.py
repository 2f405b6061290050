"""Work in node bounding boxes instead of whole-volume transforms.

A voxel can only be within physical distance ``r`` of a node if it lies in
the node's bounding box grown by ``floor(r / spacing)`` voxels per axis, so
each node's distance transform is computed on that small crop. Memory stays
proportional to the crops, never to a whole-volume float or index array.
"""

import edt
import numpy as np


def grow_pad(radius, spacing):
    """Voxels per axis that a physical ``radius`` can reach.

    >>> grow_pad(3.0, (1.5, 1.0, 1.0))
    (2, 3, 3)
    """
    return tuple(int(np.floor(radius / s + 1e-9)) for s in spacing)


def crop_slices(row, pad, shape):
    """Slices of a node's bounding box (``z0..x1`` in ``row``) grown by ``pad``."""
    lows = (row.z0, row.y0, row.x0)
    highs = (row.z1, row.y1, row.x1)
    return tuple(
        slice(max(int(lo) - p, 0), min(int(hi) + p, n))
        for lo, hi, p, n in zip(lows, highs, pad, shape)
    )


#: Below this many voxels scipy's transform is faster than edt's (whose
#: per-call set-up costs about 0.6 ms); above it, edt is.
_SMALL_CROP = 200_000


def distance_to_label(sub, label, spacing):
    """Physical distance from each voxel of ``sub`` to the nearest ``label`` voxel."""
    outside = sub != label
    if outside.size < _SMALL_CROP:
        from scipy import ndimage

        return ndimage.distance_transform_edt(outside, sampling=spacing)
    return edt.edt(outside, anisotropy=spacing, black_border=False)


def node_crops(nodes, table, radius, spacing, *, margin=0):
    """``(label, slices)`` of every node's bounding box grown by ``radius``.

    ``margin`` adds voxels beyond the radius on every side (to see the
    neighbours of the outermost voxels within reach).
    """
    pad = tuple(p + margin for p in grow_pad(radius, spacing))
    dtype = nodes.dtype.type
    return [
        (dtype(row.label), crop_slices(row, pad, nodes.shape))
        for row in table.itertuples(index=False)
    ]


def map_crops(func, crops, *, workers=1, progress=None):
    """Yield ``func(label, slices)`` for every crop, in order.

    With ``workers > 1`` crops run in threads (scipy's and edt's transforms
    release the GIL). ``progress`` is called as ``progress(done, total)``.
    """
    total = len(crops)
    if workers > 1 and total > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(workers)
        try:
            for done, result in enumerate(pool.map(lambda c: func(*c), crops), start=1):
                if progress is not None:
                    progress(done, total)
                yield result
        finally:
            # A progress callback raises to cancel: drop the crops still queued.
            pool.shutdown(wait=True, cancel_futures=True)
        return
    for done, crop in enumerate(crops, start=1):
        result = func(*crop)
        if progress is not None:
            progress(done, total)
        yield result


def default_workers():
    """Threads to use: the cores this process may run on."""
    import os

    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def flat_indices(mask, slices, shape):
    """Flat indices, in the full volume, of the true voxels of a crop mask."""
    coords = np.nonzero(mask)
    coords = [c + s.start for c, s in zip(coords, slices)]
    return np.ravel_multi_index(coords, shape)
