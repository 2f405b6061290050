"""Per-label properties of a label volume, in one pass.

cc3d.statistics indexes its results by label value, so sparse or huge ids
(connectomics uint64) are first renumbered to 1..N with fastremap; the
original ids are always what the caller sees.
"""

import cc3d
import fastremap
import numpy as np

from .._validate import check_labels, check_same_shape, check_spacing, is_chunked

#: Columns of :func:`label_properties`, in order.
PROPERTY_COLUMNS = (
    "label", "voxels", "volume", "z", "y", "x",
    "z0", "y0", "x0", "z1", "y1", "x1",
)


#: Largest id used directly as an index (cc3d.statistics allocates per id).
_DIRECT_MAX = 1_000_000


def dense_labels(labels):
    """Return ``(dense, ids)`` where ``dense`` numbers objects 1..N.

    ``ids[k]`` is the original id of dense label ``k`` (``ids[0] == 0``).
    When the input ids are already small, ``dense`` is the input itself
    (no copy) and ``ids`` maps every value to itself.
    """
    top = int(labels.max()) if labels.size else 0
    # Index arrays of size max + 1 stay small: keep the ids as they are
    # (cc3d.statistics wants ids below the voxel count: tiny chunks renumber).
    if top <= _DIRECT_MAX and top < labels.size:
        return labels, np.arange(top + 1, dtype=np.uint64)
    present = fastremap.unique(labels)
    present = present[present != 0]
    if top <= 4 * present.size and top < labels.size:
        return labels, np.arange(top + 1, dtype=np.uint64)
    dense, mapping = fastremap.renumber(labels, preserve_zero=True, in_place=False)
    ids = np.zeros(len(mapping), dtype=np.uint64)
    for original, new in mapping.items():
        ids[new] = original
    return dense, ids


def label_properties(labels, *, spacing=(1.0, 1.0, 1.0), image=None):
    """Measure every labelled object: size, physical volume, centroid, box.

    Parameters
    ----------
    labels : ndarray of unsigned int, (z, y, x)
        Label volume; 0 is background. Ids may be sparse, up to uint64.
        A zarr path, zarr array or dask array is measured chunk by chunk
        (:func:`engine.blockwise.label_properties`), with the same table.
    spacing : tuple of 3 floats
        Voxel size (dz, dy, dx) in physical units.
    image : ndarray, optional
        Intensity volume of the same shape; adds ``mean_intensity``.

    Returns
    -------
    pandas.DataFrame
        One row per label, sorted by label, with columns ``label``;
        ``voxels`` (count); ``volume`` (voxels x dz*dy*dx); ``z, y, x``
        (centroid in physical units, never rounded); ``z0, y0, x0, z1,
        y1, x1`` (bounding box in voxels, half-open); and
        ``mean_intensity`` when an image is given.

    Examples
    --------
    >>> lab = np.zeros((2, 4, 4), np.uint8); lab[:, 1:3, 1:3] = 7
    >>> props = label_properties(lab, spacing=(3, 1, 1))
    >>> props[["label", "voxels", "volume", "z", "y", "x"]].values.tolist()
    [[7.0, 8.0, 24.0, 1.5, 1.5, 1.5]]
    """
    import pandas as pd

    if is_chunked(labels):
        from ..blockwise import label_properties as label_properties_blockwise

        return label_properties_blockwise(labels, spacing=spacing, image=image)
    labels = check_labels(labels, name="labels", allow_empty=True)
    spacing = np.asarray(check_spacing(spacing))
    dense, ids = dense_labels(labels)
    stats = cc3d.statistics(dense, no_slice_conversion=True)
    counts = np.asarray(stats["voxel_counts"], dtype=np.int64)
    present = np.flatnonzero(counts)
    present = present[present != 0]
    boxes = np.asarray(stats["bounding_boxes"])[present].astype(np.int64)
    centroids = np.asarray(stats["centroids"])[present] * spacing
    table = pd.DataFrame(
        {
            "label": ids[present],
            "voxels": counts[present],
            "volume": counts[present] * float(np.prod(spacing)),
            "z": centroids[:, 0],
            "y": centroids[:, 1],
            "x": centroids[:, 2],
            # cc3d gives inclusive (min, max) pairs per axis.
            "z0": boxes[:, 0], "y0": boxes[:, 2], "x0": boxes[:, 4],
            "z1": boxes[:, 1] + 1, "y1": boxes[:, 3] + 1, "x1": boxes[:, 5] + 1,
        }
    )
    if image is not None:
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[np.newaxis]
        check_same_shape(labels, image, names=("labels", "image"))
        sums = np.bincount(
            dense.ravel(), weights=image.ravel().astype(np.float64), minlength=len(counts)
        )
        table["mean_intensity"] = sums[present] / counts[present]
    return table.sort_values("label", ignore_index=True)
