"""IoU stitching of 2D label slices into 3D labels.

Any 2D segmenter (Cellpose with ``do_3D=False``, a per-slice threshold,
StarDist...) labels each z slice on its own; stitching gives an object
that continues from one slice to the next a single id. The rule is
Cellpose's ``stitch_threshold``: a label of slice z+1 takes the id of
the label of slice z it overlaps most, if their intersection over union
is at least the threshold and no other label of slice z+1 overlaps that
label more; otherwise it gets a new id.
"""

import numpy as np

from .._errors import InvalidInputError
from .._validate import check_labels


def _slice_overlaps(upper, lower):
    """IoU of every overlapping pair of labels between two 2D slices.

    Returns (upper ids, lower ids, iou), one entry per overlapping pair,
    with IoU in float64 computed as Cellpose computes it.
    """
    both = (upper > 0) & (lower > 0)
    a = upper[both].astype(np.uint64)
    b = lower[both].astype(np.uint64)
    if a.size == 0:
        empty = np.zeros(0, np.uint64)
        return empty, empty, np.zeros(0)
    width = np.uint64(int(lower.max()) + 1)
    pairs, counts = np.unique(a * width + b, return_counts=True)
    ua, ub = pairs // width, pairs % width
    area_upper = np.bincount(upper.ravel(), minlength=int(upper.max()) + 1)
    area_lower = np.bincount(lower.ravel(), minlength=int(lower.max()) + 1)
    union = area_upper[ua.astype(np.intp)] + area_lower[ub.astype(np.intp)] - counts
    return ua, ub, counts / union


def stitch_slices(masks, stitch_threshold=0.25):
    """Stitch a stack of 2D label images into 3D labels by IoU.

    Parameters
    ----------
    masks : ndarray, shape (z, y, x)
        Integer labels of each slice, numbered independently (0 =
        background). Not modified.
    stitch_threshold : float
        Minimum intersection over union, in (0, 1], for a label to
        continue the label of the slice below.

    Returns
    -------
    labels : ndarray of uint32, shape (z, y, x)
        The same objects with ids that continue across slices. The ids
        equal those of Cellpose's ``utils.stitch3D`` on the same input.

    Examples
    --------
    >>> s = np.zeros((3, 4, 4), np.uint16)
    >>> s[0, :2, :2] = 1; s[1, :2, :2] = 1; s[2, 2:, 2:] = 1
    >>> stitch_slices(s)[:, 0, 0], stitch_slices(s)[2, 3, 3]
    (array([1, 1, 0], dtype=uint32), np.uint32(2))
    """
    try:
        stitch_threshold = float(stitch_threshold)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"stitch_threshold must be a number in (0, 1], was {stitch_threshold!r}"
        ) from None
    if not 0 < stitch_threshold <= 1:
        raise InvalidInputError(
            f"stitch_threshold must be in (0, 1], was {stitch_threshold!r}"
        )
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise InvalidInputError(
            f"masks must be a stack of 2D labels (z, y, x), got shape {masks.shape}"
        )
    out = check_labels(masks, name="masks", allow_empty=True).astype(np.uint32)
    top = int(out[0].max())
    stitched_once = False
    for z in range(len(out) - 1):
        upper, lower = out[z + 1], out[z]
        n_upper = int(upper.max())
        if n_upper == 0 or int(lower.max()) == 0:
            # Cellpose keeps the slice's own ids until the first stitch.
            if not stitched_once:
                top = n_upper
            else:
                out[z + 1] = _renumber(upper, np.arange(top + 1, top + n_upper + 1))
                top += n_upper
            continue
        ua, ub, iou = _slice_overlaps(upper, lower)
        keep = iou >= stitch_threshold
        ua, ub, iou = ua[keep], ub[keep], iou[keep]
        # each lower label goes only to the upper labels that overlap it most
        column_max = np.zeros(int(lower.max()) + 1)
        np.maximum.at(column_max, ub.astype(np.intp), iou)
        keep = iou >= column_max[ub.astype(np.intp)]
        ua, ub, iou = ua[keep], ub[keep], iou[keep]
        # each upper label takes its best lower label (ties: the smallest id)
        order = np.lexsort((ub, -iou, ua))
        ua, ub = ua[order], ub[order]
        first = np.ones(ua.size, bool)
        first[1:] = ua[1:] != ua[:-1]
        new_ids = np.zeros(n_upper + 1, np.int64)
        new_ids[ua[first].astype(np.intp)] = ub[first].astype(np.int64)
        unmatched = np.flatnonzero(new_ids[1:] == 0) + 1
        new_ids[unmatched] = np.arange(top + 1, top + unmatched.size + 1)
        top += unmatched.size
        out[z + 1] = new_ids.astype(np.uint32)[upper]
        stitched_once = True
    return out


def _renumber(labels, ids):
    lookup = np.concatenate([[0], ids]).astype(np.uint32)
    return lookup[labels]
