"""Connected components with cc3d, size filters with fastremap."""

import cc3d
import fastremap
import numpy as np

from .._validate import as_volume, check_distance, check_spacing

_CONNECTIVITY = {6, 18, 26}


def connected_components(mask, *, connectivity=26):
    """Label the connected objects of a mask or a label volume.

    Different labels in the input never merge, so an already-labelled
    volume is split into its connected pieces.

    Parameters
    ----------
    mask : ndarray, (z, y, x) or (y, x)
        Binary mask or label volume; 0 is background.
    connectivity : {6, 18, 26}
        Face, edge or corner neighbours (in 2D, 26 behaves as 8).

    Returns
    -------
    labels : ndarray
        Labels 1..N in the smallest unsigned dtype cc3d chooses.
    n : int
        Number of objects.

    Examples
    --------
    >>> m = np.zeros((1, 3, 5), bool); m[0, 1, 0] = m[0, 1, 2] = m[0, 1, 3] = 1
    >>> labels, n = connected_components(m)
    >>> n
    2
    """
    if connectivity not in _CONNECTIVITY:
        from .._errors import InvalidInputError

        raise InvalidInputError(
            f"connectivity must be one of 6, 18, 26, was {connectivity!r}"
        )
    volume = as_volume(mask, name="mask")
    if volume.dtype == bool:
        volume = volume.view(np.uint8)
    if volume.shape[0] == 1:
        out, n = cc3d.connected_components(
            volume[0], connectivity=8 if connectivity > 6 else 4, return_N=True
        )
        return out[np.newaxis], int(n)
    out, n = cc3d.connected_components(volume, connectivity=connectivity, return_N=True)
    return out, int(n)


def remove_small_objects(labels, *, min_volume, spacing=(1.0, 1.0, 1.0), in_place=False):
    """Set to 0 every label whose physical volume is below ``min_volume``.

    >>> lab = np.array([[[1, 1, 0, 2]]], np.uint8)
    >>> remove_small_objects(lab, min_volume=2, spacing=(1, 1, 1)).tolist()
    [[[1, 1, 0, 0]]]
    """
    min_volume = check_distance(min_volume, name="min_volume")
    spacing = check_spacing(spacing)
    voxel_volume = float(np.prod(spacing))
    min_voxels = int(np.ceil(min_volume / voxel_volume - 1e-9))
    keep = _labels_with_at_least(labels, min_voxels)
    return fastremap.mask_except(labels, keep, in_place=in_place)


def _labels_with_at_least(labels, min_voxels):
    ids, counts = fastremap.unique(labels, return_counts=True)
    keep = ids[(counts >= min_voxels) & (ids != 0)]
    return [int(k) for k in keep]
