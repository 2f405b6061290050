"""Segmentation of volumes larger than memory, chunk by chunk.

The steps of :mod:`engine.segment`'s threshold and pixel-classifier paths,
with the same results bit for bit: a mask or a probability map is a lazy
``dask.array`` (computed chunk by chunk, or written to zarr), labels are a
:class:`~engine.blockwise.ChunkedLabels`. What needs the whole volume is
reduced exactly across chunks: Otsu's histogram (integer counts add up),
the intensity sample of ``robust_range`` (the same voxels), the holes (a
background piece is a hole iff its box misses the volume's faces).

Gaussians and features read each chunk with an overlap of the filter's
radius (``map_overlap``; chunks smaller than the overlap are merged first),
so the output chunks may be larger than the input's. A step that needs a
value of the whole volume (Otsu, the intensity range, the holes) reads the
input once for it: the input is read again, and smoothed again, by each
later step, so a slow source is best written to zarr first.
"""

import copy

import numpy as np

from .._errors import InvalidInputError
from .._validate import check_choice, check_distance, check_spacing
from ..segment._threshold import METHODS, _sigma_voxels
from . import _segment
from ._dask import TaskGraph, as_dask, chunk_grid, current_client, dask
from .labels import connected_components

# Histograms summed per task of the reduction tree.
_FAN_IN = 4


def threshold_mask(image, *, spacing=None, method="otsu", threshold=None, per_slice=False,
                   smooth=0.0, chunks=None, progress=None):
    """Foreground mask of a chunked intensity volume, manual or Otsu threshold.

    Equal to :func:`engine.segment.threshold_mask` voxel for voxel, with
    the same threshold value: the Gaussian reads each chunk with an
    overlap of its kernel radius (edges extended as in memory), and Otsu's
    histogram is summed across chunks (exact integer counts; 1024 bins
    between the exact minimum and maximum for floats and wide integers).

    Parameters
    ----------
    image : dask array, zarr array, zarr path or ndarray, (z, y, x)
        Grayscale intensities.
    spacing : float or sequence of 3 floats, optional
        Voxel spacing (dz, dy, dx); ``smooth`` is in its unit.
    method : {"otsu", "manual"}
    threshold : float, optional
        Intensity above which a voxel is foreground (``manual``).
    per_slice : bool
        Otsu's threshold of each z slice.
    smooth : float
        Physical sigma of a Gaussian applied first (0: none).
    chunks : (int, int, int), optional
        Rechunk the image first (default: its own chunks).
    progress : callable, optional
        ``progress(done, total)`` as the chunks of Otsu's two passes
        (extrema, histograms) finish; may raise to cancel.

    Returns
    -------
    mask : dask array of bool
        Lazy; its chunks are the image's, merged where smaller than the
        Gaussian's radius.
    value : float or ndarray
        The threshold (one per slice with ``per_slice``), computed now.

    Examples
    --------
    >>> img = np.zeros((4, 6, 6), np.uint8); img[1:3, 2:5, 2:5] = 9
    >>> mask, value = threshold_mask(img, chunks=(2, 3, 3))
    >>> int(mask.sum().compute()), value
    (18, 0.0)
    """
    method = check_choice(method, METHODS, name="method")
    spacing = check_spacing(spacing)
    threshold = _check_threshold(method, threshold)
    source = _intensities(image, chunks)
    return _threshold(source, spacing, method, threshold, bool(per_slice), smooth,
                      _stages(progress, 2, source))


def _threshold(source, spacing, method, threshold, per_slice, smooth, stages):
    values = gaussian(source, smooth, spacing=spacing) if smooth else source
    if method == "manual":
        return values > threshold, threshold
    levels = _otsu_levels(values, per_slice, stages)
    if per_slice:
        planes = dask().array.from_array(levels[:, None, None], chunks=(values.chunks[0], 1, 1))
        return values > planes, levels
    level = float(levels[0])  # a Python float compares as in memory (NEP 50)
    return values > level, level


def gaussian(image, sigma, *, spacing=None):
    """Lazy float32 Gaussian with a physical sigma, equal to the in-memory one.

    ``map_overlap`` with the kernel's radius per axis and edges extended
    by the nearest voxel, as :func:`engine.segment._threshold.gaussian`.

    >>> g = gaussian(np.ones((4, 4, 4)), 1.0, spacing=(2, 1, 1))
    >>> g.dtype, float(g.max().compute())
    (dtype('float32'), 1.0)
    """
    spacing = check_spacing(spacing)
    sigma = check_distance(sigma, name="smooth")
    values = _intensities(image, None).astype(np.float32)
    if sigma == 0:
        return values
    sigmas = _sigma_voxels(sigma, spacing)
    # an axis shorter than the radius is read whole: 'nearest' then
    # extends it just as the in-memory filter does
    depth = tuple(min(_segment.gaussian_radius(s), n) for s, n in zip(sigmas, values.shape))
    return values.map_overlap(_segment.smooth_chunk, depth=depth, boundary="nearest",
                              dtype=np.float32, sigma=sigmas)


def fill_holes(mask, *, chunks=None, progress=None):
    """Fill the enclosed holes of a chunked mask (in 3D).

    A hole is a face-connected (6-connected) piece of background that
    does not touch the volume's border, as in
    :func:`engine.segment.fill_holes`. The background is labelled across
    chunks (one pass); a piece is a hole iff its bounding box misses all
    six faces. The result is lazy: each chunk holding part of a hole is
    labelled again and filled, the others are passed through.

    Parameters
    ----------
    mask : dask array, zarr array, zarr path or ndarray, (z, y, x)
        Nonzero is foreground.
    chunks : (int, int, int), optional
        Rechunk first.
    progress : callable, optional
        ``progress(done, total)`` as the labelling pass finishes chunks.

    Returns
    -------
    dask array of bool

    Examples
    --------
    >>> m = np.ones((5, 5, 5), bool); m[1:4, 2, 2] = False
    >>> filled = fill_holes(m, chunks=(2, 2, 2))
    >>> bool(filled.all().compute())
    True
    """
    source = as_dask(mask, chunks=chunks, name="mask")
    source = source if source.dtype == bool else source.astype(bool)
    background = connected_components(~source, connectivity=6, progress=progress)
    table = background.properties()
    lows = table[["z0", "y0", "x0"]].to_numpy()
    highs = table[["z1", "y1", "x1"]].to_numpy()
    touches = (lows == 0).any(axis=1) | (highs == np.asarray(source.shape)).any(axis=1)
    holes = np.zeros(background.n + 1, bool)
    holes[table["label"].to_numpy(np.int64)[~touches]] = True
    if not holes.any():
        return source
    graph = TaskGraph("fill-holes")
    renumber = background._renumbering()  # once: lookup() would redo it per chunk

    def make(index):
        local = holes[background.lookup(index, renumber)]
        if local.any():
            return (_segment.fill_chunk, graph.block(source, index), local)
        return (_segment.same_chunk, graph.block(source, index))

    return graph.array("filled", source, bool, make)


def segment_threshold(image, *, spacing=None, method="otsu", threshold=None, per_slice=False,
                      smooth=0.0, fill=True, min_volume=None, max_volume=None, split=None,
                      chunks=None, progress=None):
    """Objects of a chunked intensity volume by threshold, as chunked labels.

    :func:`threshold_mask`, :func:`fill_holes` (3D), 26-connected labels
    across chunks, physical volume range: the labels of
    :func:`engine.segment.segment_threshold`, id for id.

    Parameters
    ----------
    image : dask array, zarr array, zarr path or ndarray, (z, y, x)
    spacing, method, threshold, per_slice, smooth
        See :func:`threshold_mask`.
    fill : bool
        Fill enclosed holes.
    min_volume, max_volume : float, optional
        Physical volume range of the objects kept (unit cubed).
    split : None
        Not available: a watershed of the distance transform needs whole
        objects, not chunks.
    chunks : (int, int, int), optional
    progress : callable, optional
        ``progress(done, total)`` over the passes (Otsu's two, filling,
        labelling), in units of chunks; may raise to cancel.

    Returns
    -------
    ChunkedLabels
        Kept objects numbered 1..k by first voxel; ``.to_dask()`` gives the
        label volume (smallest unsigned dtype, values equal to the
        in-memory uint32 labels).

    Examples
    --------
    >>> img = np.zeros((3, 8, 8)); img[1, 1:3, 1:3] = 5; img[1, 5:7, 5:7] = 9
    >>> labels = segment_threshold(img, method="manual", threshold=1, chunks=(2, 4, 4))
    >>> labels.n_kept, int(labels.to_dask().max().compute())
    (2, 2)
    """
    if split:
        raise InvalidInputError(
            f"split={split!r} is not available blockwise: the watershed of the distance "
            "transform needs whole objects, not chunks. Leave split=None, or split "
            "large objects one at a time with engine.segment.split_touching on each "
            "object's box (ChunkedLabels.properties gives the boxes)")
    method = check_choice(method, METHODS, name="method")
    spacing = check_spacing(spacing)
    threshold = _check_threshold(method, threshold)
    low = 0.0 if min_volume is None else check_distance(min_volume, name="min_volume")
    high = np.inf if max_volume is None else check_distance(max_volume, name="max_volume")
    if high < low:
        raise InvalidInputError(f"max_volume ({high}) must be at least min_volume ({low})")
    source = _intensities(image, chunks)
    otsu = 2 if method == "otsu" else 0
    stages = _stages(progress, otsu + (1 if fill else 0) + 1, source)
    mask, _value = _threshold(source, spacing, method, threshold, bool(per_slice), smooth,
                              stages[:otsu])
    if fill:
        mask = fill_holes(mask, progress=stages[otsu])
    labels = connected_components(mask, connectivity=26, progress=stages[-1])
    return labels.filter_by_volume(spacing=spacing, min_volume=min_volume,
                                   max_volume=max_volume)


def predict_proba(classifier, image, spacing=None, *, intensity_range=None, chunks=None):
    """Lazy foreground probability of a trained pixel classifier, chunk by chunk.

    Equal bit for bit to ``classifier.predict_proba(image, spacing)``:
    each chunk is read with the features' halo (clipped at the volume's
    faces, as the in-memory blocks are) and goes through the classifier's
    own feature and forest code, one thread per chunk.

    Parameters
    ----------
    classifier : PixelClassifier or path
        Trained, or the file :meth:`PixelClassifier.save` wrote.
    image : dask array, zarr array, zarr path or ndarray, (z, y, x)
    spacing : float or (dz, dy, dx), optional
        Default: the training spacing.
    intensity_range : (low, high) or "training", optional
        Default: ``robust_range`` of this image, computed now from the
        same voxels the in-memory function samples (one pass).
    chunks : (int, int, int), optional
        Rechunk first; chunks smaller than the halo are merged.

    Returns
    -------
    dask array of float32

    Examples
    --------
    >>> from engine.segment import PixelClassifier
    >>> img = np.zeros((4, 12, 12), np.float32); img[:, 3:9, 3:9] = 1
    >>> marks = np.zeros(img.shape, np.uint8); marks[2, 6, 4:8] = 1; marks[2, 0, :] = 2
    >>> clf = PixelClassifier(sigmas=[1], features=["gaussian"], n_estimators=3).fit(img, marks)
    >>> proba = predict_proba(clf, img, chunks=(4, 6, 6))
    >>> bool((proba.compute() == clf.predict_proba(img)).all())
    True
    """
    from dask.array.overlap import ensure_minimum_chunksize, overlap

    from ..segment._features import feature_halo
    from ..segment._forest import resolve_intensity_range

    classifier = _check_classifier(classifier)
    source = _intensities(image, chunks)
    voxel_size = check_spacing(classifier.spacing_ if spacing is None else spacing)
    value_range = resolve_intensity_range(
        intensity_range, classifier.intensity_range_, lambda: robust_range(source))
    halo = feature_halo(classifier.sigmas_, classifier.features, voxel_size)
    # an axis shorter than the halo is read whole, as the in-memory block is
    depth = tuple(min(h, n) for h, n in zip(halo, source.shape))
    # chunks smaller than the overlap are merged (as map_overlap does), so
    # that a chunk's overlap comes from its neighbours alone
    source = source.rechunk(tuple(ensure_minimum_chunksize(d, c)
                                  for d, c in zip(depth, source.chunks)))
    grown = overlap(source, depth=depth, boundary="none")
    worker = copy.copy(classifier)
    worker._leaf_probabilities()  # cached once, shared by every task
    worker.n_jobs = 1  # Dask runs the chunks in parallel: no threads within
    graph = TaskGraph("proba")
    # one task holds the classifier: every chunk's task names its key, so a
    # worker process receives (unpickles) it once, not once per chunk
    shared = graph.add("classifier", (0,), _segment.same_chunk, worker)
    grid = tuple(len(c) for c in source.chunks)

    def make(index):
        return (_segment.proba_chunk, graph.block(grown, index), shared, index, grid, depth,
                halo, voxel_size, value_range)

    return graph.array("proba", source, np.float32, make)


def predict(classifier, image, spacing=None, *, probability=0.5, intensity_range=None,
            chunks=None):
    """Lazy foreground mask: probability >= ``probability``, as ``classifier.predict``.

    Takes the arguments of :func:`predict_proba`.

    >>> from engine.segment import PixelClassifier
    >>> img = np.zeros((4, 12, 12), np.float32); img[:, 3:9, 3:9] = 1
    >>> marks = np.zeros(img.shape, np.uint8); marks[2, 6, 4:8] = 1; marks[2, 0, :] = 2
    >>> clf = PixelClassifier(sigmas=[1], features=["gaussian"], n_estimators=3).fit(img, marks)
    >>> bool((predict(clf, img, chunks=(4, 6, 6)).compute() == clf.predict(img)).all())
    True
    """
    from ..segment._forest import _check_probability

    probability = _check_probability(probability)
    proba = predict_proba(classifier, image, spacing, intensity_range=intensity_range,
                          chunks=chunks)
    return proba >= probability


def robust_range(image):
    """``engine.segment.robust_range`` of a chunked volume, from the same voxels.

    The in-memory function takes every ``step``-th voxel in C order; each
    chunk gives its share of them, so the percentiles are the same.

    >>> robust_range(np.arange(1001.0).reshape(1, 7, 143))
    (5.0, 995.0)
    """
    from ..segment._features import _PERCENTILE_SAMPLES
    from ..segment._features import robust_range as in_memory

    source = _intensities(image, None)
    step = max(1, source.size // _PERCENTILE_SAMPLES)
    graph = TaskGraph("sample")
    parts = graph.run([graph.add("sample", index, _segment.chunk_sample,
                                 graph.block(source, index), list(origin), list(source.shape),
                                 step)
                       for index, origin in chunk_grid(source)])
    # the sample is below 2 * _PERCENTILE_SAMPLES voxels: in_memory takes it whole
    return in_memory(np.concatenate(parts))


# ---------------------------------------------------------------- helpers


def _intensities(image, chunks):
    """The image as a dask array of intensities (booleans become 0/1 uint8)."""
    source = as_dask(image, chunks=chunks, name="image")
    if source.dtype == bool:
        return source.astype(np.uint8)
    if source.dtype.kind not in "uif":
        raise InvalidInputError(
            f"image must hold intensities (integers or floats), got {source.dtype}")
    return source


def _check_threshold(method, threshold):
    if method != "manual":
        return threshold
    if threshold is None:
        raise InvalidInputError("method 'manual' needs a threshold value")
    try:
        return float(threshold)
    except (TypeError, ValueError):
        raise InvalidInputError(f"threshold must be a number, was {threshold!r}") from None


def _check_classifier(classifier):
    from ..segment._forest import PixelClassifier

    if isinstance(classifier, PixelClassifier):
        classifier._check_fitted()
        return classifier
    if isinstance(classifier, (str, bytes)) or hasattr(classifier, "__fspath__"):
        return PixelClassifier.load(classifier)
    raise InvalidInputError(
        "classifier must be a trained PixelClassifier or the path of a saved one, "
        f"was {type(classifier).__name__}")


def _stages(progress, count, array):
    """Split ``progress`` over ``count`` passes, each in units of ``array``'s chunks."""
    if progress is None:
        return [None] * count
    unit = int(np.prod([len(c) for c in array.chunks]))

    def stage(k):
        def report(done, total):
            progress(k * unit + (done * unit) // max(total, 1), count * unit)
        return report

    return [stage(k) for k in range(count)]


def _otsu_levels(values, per_slice, stages):
    """Otsu's level per row (z plane, or one for the volume), as ``_otsu``."""
    dtype = values.dtype
    grid = list(chunk_grid(values))
    graph = TaskGraph("otsu")
    found = graph.run([graph.add("extrema", i, _segment.chunk_extrema, graph.block(values, i),
                                 per_slice)
                       for i, _ in grid], progress=stages[0])
    rows = values.shape[0] if per_slice else 1
    if dtype.kind == "f":
        lows, highs = np.full(rows, np.inf, dtype), np.full(rows, -np.inf, dtype)
    else:
        lows, highs = np.full(rows, np.iinfo(dtype).max, dtype), np.full(rows, np.iinfo(dtype).min, dtype)
    for (_index, origin), (low, high) in zip(grid, found):
        at = slice(origin[0], origin[0] + len(low)) if per_slice else slice(0, 1)
        lows[at] = np.minimum(lows[at], low)
        highs[at] = np.maximum(highs[at], high)
    differ = lows != highs
    if dtype.kind == "f" and not (np.isfinite(lows[differ]).all()
                                  and np.isfinite(highs[differ]).all()):
        raise InvalidInputError("image contains NaN or infinite values")
    if not differ.any():
        return lows.astype(np.float64)
    # one reduction tree per z row of chunks (per_slice) or for the volume
    groups = {}
    for index, origin in grid:
        row = index[0] if per_slice else 0
        at = slice(origin[0], origin[0] + values.chunks[0][index[0]]) if per_slice else slice(0, 1)
        groups.setdefault(row, (at, []))[1].append(index)
    leaves, finals = [], []
    for row, (at, indices) in groups.items():
        width = max(_otsu_width(dtype, lo, hi) for lo, hi in zip(lows[at], highs[at]))
        counts = [graph.add("histogram", i, _segment.chunk_histograms, graph.block(values, i),
                            lows[at], highs[at], width, per_slice) for i in indices]
        leaves.extend(counts)
        finals.append(graph.add("level", (row,), _segment.row_levels,
                                _tree_sum(graph, row, counts), lows[at], highs[at], dtype))
    # a distributed client reports the tasks it returns; a local one any key
    counted = finals if current_client() is not None else leaves
    levels = graph.run(finals, progress=stages[1], counted=counted)
    return np.concatenate(levels)


def _otsu_width(dtype, low, high):
    from ..segment._threshold import _otsu_bins

    return 1 if low == high else _otsu_bins(dtype, low, high)[0]


def _tree_sum(graph, row, parts):
    """Key of the sum of the histograms at keys ``parts``, ``_FAN_IN`` at a time
    (memory stays bounded); the tasks go into ``graph`` under ``row``."""
    depth = 0
    while len(parts) > 1:
        depth += 1
        parts = [graph.add(f"sum{depth}", (row, k), _segment.add_counts,
                           *parts[k:k + _FAN_IN]) if len(parts[k:k + _FAN_IN]) > 1 else parts[k]
                 for k in range(0, len(parts), _FAN_IN)]
    return parts[0]
