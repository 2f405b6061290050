"""Volumes read plane by plane from disk, at the resolution a screen needs.

Pure numpy, no UI. A zarr volume larger than memory is never loaded:
:class:`MultiscaleVolume` holds the levels of an OME-Zarr (finest first)
and :meth:`MultiscaleVolume.plane` reads one plane from the coarsest
level that still has a voxel per displayed pixel, so a zoomed-out view
reads a fraction of the bytes of the full-resolution plane.

>>> fine = np.arange(2 * 8 * 8).reshape(2, 8, 8)
>>> volume = MultiscaleVolume([fine, fine[:, ::2, ::2]], [(1, 1, 1), (1, 2, 2)])
>>> volume.shape, volume.level_for("z", 2), volume.level_for("z", 1)
((2, 8, 8), 1, 0)
>>> volume.plane("z", 1, 4).tolist()
[[64, 68], [96, 100]]
"""

import os

import numpy as np

from engine import InvalidInputError

AXES = ("z", "y", "x")
#: Downsampling methods that keep only existing values (safe for label ids).
_LABEL_SAFE = {"stride", "nearest", "mode"}


def is_lazy(volume):
    """True for a volume that reads from disk when sliced (zarr, multiscale).

    A numpy array (``numpy.memmap`` included) is in memory or mapped, so
    whole-volume operations on it are what they always were.
    """
    return volume is not None and not isinstance(volume, np.ndarray)


def _integer_factors(fine, coarse):
    """Integer (fz, fy, fx) from ``fine`` to ``coarse`` spacing, or None."""
    ratio = np.asarray(coarse, float) / np.asarray(fine, float)
    factors = np.rint(ratio)
    if (factors < 1).any() or not np.allclose(ratio, factors, rtol=1e-6):
        return None
    return tuple(int(f) for f in factors)


class MultiscaleVolume:
    """The resolution levels of one (z, y, x) volume, finest first.

    Indexing (``volume[z, y, x]``), ``shape`` and ``dtype`` are those of
    level 0; :meth:`plane` picks the level. Level k must be level 0
    reduced by an integer factor per axis (``ceil(n / f)`` or ``n // f``
    voxels); levels that are not are ignored.

    Parameters
    ----------
    levels : sequence of array-like, shape (z, y, x)
        zarr arrays (or numpy arrays), finest first.
    spacings : sequence of (dz, dy, dx)
        Voxel size of each level; their ratios to level 0 are the factors.
    """

    def __init__(self, levels, spacings):
        levels, spacings = list(levels), [tuple(map(float, s)) for s in spacings]
        if not levels or len(levels) != len(spacings):
            raise InvalidInputError(
                f"need one spacing per level; got {len(levels)} levels, {len(spacings)} spacings")
        shape = tuple(levels[0].shape)
        if len(shape) != 3:
            raise InvalidInputError(f"a volume must be 3D (z, y, x), level 0 has shape {shape}")
        kept, factors = [levels[0]], [(1, 1, 1)]
        for level, spacing in zip(levels[1:], spacings[1:]):
            f = _integer_factors(spacings[0], spacing)
            if f is not None and all(m in (n // k, -(-n // k))
                                     for n, m, k in zip(shape, level.shape, f)):
                kept.append(level)
                factors.append(f)
        self.levels, self.factors = tuple(kept), tuple(factors)
        self.spacing = spacings[0]

    shape = property(lambda self: tuple(self.levels[0].shape), doc="(z, y, x) of level 0")
    dtype = property(lambda self: np.dtype(self.levels[0].dtype), doc="dtype of level 0")
    ndim = property(lambda self: 3)
    size = property(lambda self: int(np.prod(self.shape)))

    def __getitem__(self, key):
        return self.levels[0][key]

    def __array__(self, dtype=None, copy=None):
        # Loads all of level 0, as np.asarray on a zarr array does.
        return np.asarray(self.levels[0][...], dtype=dtype)

    def __repr__(self):
        return f"MultiscaleVolume(shape={self.shape}, dtype={self.dtype}, factors={self.factors})"

    def level_for(self, axis, step):
        """Index of the coarsest level whose in-plane factors are <= ``step``."""
        n = AXES.index(axis)
        best = 0
        for k, f in enumerate(self.factors):
            if all(f[a] <= step for a in range(3) if a != n):
                best = k
        return best

    def plane(self, axis, index, step=1):
        """The plane at level-0 ``index`` along ``axis``, every ``step``-th pixel.

        The result has the shape of ``level0[index, ::step, ::step]`` (for
        axis z). From a level with factor f it holds the coarse voxels at
        ``(j * step) // f``, the ones covering level-0 voxel ``j * step``;
        along ``axis`` the plane is ``index // f``.
        """
        n = AXES.index(axis)
        k = self.level_for(axis, step)
        level, f = self.levels[k], self.factors[k]
        key = [None, None, None]
        key[n] = min(index // f[n], level.shape[n] - 1)
        exact = True
        for a in range(3):
            if a == n:
                continue
            wanted = -(-self.shape[a] // step)
            if step % f[a] == 0 and -(-level.shape[a] // (step // f[a])) == wanted:
                key[a] = slice(None, None, step // f[a])
            else:  # the stride falls between coarse voxels: take the covering ones
                key[a] = np.minimum(np.arange(wanted) * step // f[a], level.shape[a] - 1)
                exact = False
        if exact:
            return np.asarray(level[tuple(key)])
        if hasattr(level, "oindex"):  # zarr: reads only the chunks of those voxels
            return np.asarray(level.oindex[tuple(key)])
        rows, cols = (key[a] for a in range(3) if a != n)
        whole = [slice(None)] * 3
        whole[n] = key[n]
        return np.asarray(level[tuple(whole)])[rows][:, cols]

    def coarsest(self):
        """The coarsest level (what a whole-volume sample should read)."""
        return self.levels[-1]


def _multiscales_type(path):
    """The ``type`` of an OME-Zarr's first multiscale ("mean", "stride"...), or None."""
    import zarr

    node = zarr.open(path, mode="r")
    if not isinstance(node, zarr.Group):
        return None, 1
    attrs = node.attrs.asdict()
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    meta = multiscales[0]
    return meta.get("type"), len(meta["datasets"])


def open_volume(path, *, spacing=None, labels=False):
    """Open a zarr or OME-Zarr lazily as a :class:`MultiscaleVolume`.

    Parameters
    ----------
    path : str or os.PathLike
        An OME-Zarr group (all its levels are used) or a plain zarr array.
    spacing : (dz, dy, dx), optional
        Overrides the metadata of level 0; coarser levels keep their
        factors.
    labels : bool
        The volume holds label ids: downsampled levels are used only when
        the metadata say they were made by stride or nearest neighbour (a
        mean invents ids that do not exist).

    Returns
    -------
    volume : MultiscaleVolume
    spacing : tuple of 3 floats
        (dz, dy, dx) of level 0.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from engine.io import write_ome_zarr
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "v.ome.zarr"
    >>> write_ome_zarr(path, np.ones((2, 8, 8), np.uint8), levels=2)
    >>> volume, spacing = open_volume(path)
    >>> volume.factors, spacing
    (((1, 1, 1), (2, 2, 2)), (1.0, 1.0, 1.0))
    """
    from engine.io import read_zarr

    path = os.fspath(path)
    first, found = read_zarr(path)  # validates the store and its metadata
    kind, count = _multiscales_type(path)
    if labels and kind not in _LABEL_SAFE:
        count = 1
    levels, spacings = [first], [found]
    for k in range(1, count):
        array, level_spacing = read_zarr(path, level=k)
        levels.append(array)
        spacings.append(level_spacing)
    volume = MultiscaleVolume(levels, spacings)
    if spacing is not None:
        volume.spacing = tuple(float(s) for s in spacing)
    return volume, volume.spacing
