"""The 26-neighbourhood of voxel coordinates, vectorised."""

import itertools

import numpy as np

#: The 26 neighbour offsets (dz, dy, dx); the first 13 are one half.
OFFSETS = np.array(
    [d for d in itertools.product((-1, 0, 1), repeat=3) if d != (0, 0, 0)], dtype=np.int64
)


def shifted(coords, offset, shape):
    """Flat indices of ``coords + offset`` inside ``shape``, and which were.

    >>> flat, inside = shifted(np.array([[0, 0, 0], [0, 0, 1]]), np.array([0, 0, 1]), (1, 1, 2))
    >>> flat.tolist(), inside.tolist()
    ([1], [True, False])
    """
    moved = coords + offset
    inside = np.all((moved >= 0) & (moved < np.asarray(shape)), axis=1)
    return np.ravel_multi_index(moved[inside].T, shape), inside
