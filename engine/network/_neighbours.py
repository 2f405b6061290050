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


class Neighbourhood:
    """Fast 26-neighbour lookups for a fixed set of voxels in a volume.

    Voxels away from the volume's faces (nearly all of them) use a plain
    flat-index offset; the few on a face are bounds-checked.

    >>> hood = Neighbourhood(np.array([[0, 0, 0], [1, 1, 1]]), (3, 3, 3))
    >>> flat, which = hood.shift(np.array([-1, 0, 0]))
    >>> flat.tolist(), which.tolist()
    ([4], [1])
    """

    def __init__(self, coords, shape):
        self.shape = tuple(shape)
        self.flat = np.ravel_multi_index(coords.T, self.shape) if len(coords) else np.zeros(0, np.int64)
        strides = np.array([self.shape[1] * self.shape[2], self.shape[2], 1], np.int64)
        self._strides = strides
        interior = np.all((coords >= 1) & (coords < np.asarray(self.shape) - 1), axis=1)
        self._inner = np.flatnonzero(interior)
        self._outer = np.flatnonzero(~interior)
        self._outer_coords = coords[self._outer]

    def shift(self, offset):
        """Flat indices of the neighbours at ``offset`` and the positions
        (into the voxel list) they belong to."""
        flat = self.flat[self._inner] + int(offset @ self._strides)
        if not self._outer.size:
            return flat, self._inner
        edge_flat, inside = shifted(self._outer_coords, offset, self.shape)
        return np.concatenate([flat, edge_flat]), np.concatenate([self._inner, self._outer[inside]])
