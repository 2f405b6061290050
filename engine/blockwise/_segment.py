"""Per-chunk work of the blockwise segmentation (see ``segment.py``).

Every function here runs on one chunk inside a Dask task and calls the
in-memory code of :mod:`engine.segment` on it, so that the blockwise
results are those of the whole volume, bit for bit.
"""

import numpy as np

from ..segment._threshold import _otsu_bins, _otsu_histogram, _otsu_level
from . import _labels

#: scipy.ndimage's Gaussian truncation (``truncate`` of gaussian_filter).
GAUSSIAN_TRUNCATE = 4.0


def gaussian_radius(sigma_voxels):
    """Kernel radius scipy.ndimage.gaussian_filter uses for this sigma."""
    return int(GAUSSIAN_TRUNCATE * float(sigma_voxels) + 0.5)


def smooth_chunk(block, sigma):
    """The in-memory Gaussian (mode "nearest") of a chunk and its overlap."""
    from scipy import ndimage

    return ndimage.gaussian_filter(block, sigma, mode="nearest",
                                   truncate=GAUSSIAN_TRUNCATE)


# ------------------------------------------------------------------ Otsu


def chunk_extrema(block, per_slice):
    """Minimum and maximum of a chunk (per z plane with ``per_slice``)."""
    block = np.asarray(block)
    if per_slice:
        return block.min(axis=(1, 2)), block.max(axis=(1, 2))
    return block.min().reshape(1), block.max().reshape(1)


def chunk_histograms(block, lows, highs, width, per_slice):
    """``_otsu``'s histogram counts of a chunk, one row per histogram.

    ``lows``/``highs`` are the global extrema of the rows (the chunk's z
    planes with ``per_slice``, else one row for the whole volume); rows
    whose extrema are equal need no histogram and stay zero.
    """
    block = np.asarray(block)
    planes = block if per_slice else block[np.newaxis]
    out = np.zeros((len(planes), width), np.int64)
    for row, (plane, low, high) in enumerate(zip(planes, lows, highs)):
        if low != high:
            counts = _otsu_histogram(plane, low, high)
            out[row, : counts.size] = counts
    return out


def add_counts(*parts):
    """Sum of histogram arrays (a node of the reduction tree)."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def row_levels(counts, lows, highs, dtype):
    """Otsu's level of each row of summed histograms, as ``_otsu`` gives it."""
    levels = np.empty(len(lows), np.float64)
    for row, (low, high) in enumerate(zip(lows, highs)):
        if low == high:
            levels[row] = float(low)
            continue
        bins, _exact = _otsu_bins(dtype, low, high)
        levels[row] = _otsu_level(counts[row, :bins], dtype, low, high)
    return levels


# ------------------------------------------------------------ hole filling


def same_chunk(value):
    """The value itself: a chunk passed through, or an object shared by tasks."""
    return value


def fill_chunk(block, holes):
    """Set the chunk's holes: ``holes[k]`` says if local background id k is one.

    The local ids are those of pass 1 of ``connected_components(~mask,
    connectivity=6)`` (cc3d is deterministic), so no label volume is kept.
    """
    block = np.asarray(block, dtype=bool)
    labels, _n = _labels.label_chunk(~block, 6)
    return block | holes[labels]


# ----------------------------------------------------------- pixel forest


def chunk_sample(block, origin, shape, step):
    """Voxels of a chunk whose C-order index in the volume is a multiple of step.

    Together, the chunks give ``volume.reshape(-1)[::step]`` (in another
    order), the sample :func:`engine.segment.robust_range` takes.
    """
    block = np.asarray(block)
    if step == 1:
        return block.reshape(-1)
    cz, cy, cx = block.shape
    z = np.arange(origin[0], origin[0] + cz, dtype=np.int64)
    y = np.arange(origin[1], origin[1] + cy, dtype=np.int64)
    starts = (z[:, None] * shape[1] + y[None, :]) * shape[2] + origin[2]
    first = (-starts) % step  # x offset of each row's first sampled voxel
    xs = first[..., None] + step * np.arange(-(-cx // step), dtype=np.int64)
    inside = xs < cx
    picked = np.take_along_axis(block, np.minimum(xs, cx - 1), axis=2)
    return picked[inside]


def core_of(block_shape, depth, location, grid):
    """Slices of a block grown by ``depth`` (not at the volume's faces) that are
    its chunk; ``location`` is the chunk's index in a grid of ``grid`` chunks."""
    core = []
    for size, d, at, count in zip(block_shape, depth, location, grid):
        low = d if at > 0 else 0
        high = d if at < count - 1 else 0
        core.append(slice(low, size - high))
    return tuple(core)


def proba_chunk(block, classifier, location, grid, overlap, halo, spacing, value_range):
    """Foreground probability of a chunk's core from the chunk and its overlap.

    The overlap is the features' halo, clipped at the volume's faces, which
    is the block ``PixelClassifier._features`` cuts out of a whole volume.
    """
    core = core_of(block.shape, overlap, location, grid)
    values = classifier._features(block, core, halo, spacing, value_range)
    shape = tuple(c.stop - c.start for c in core)
    return classifier._forest_proba(values).reshape(shape)
