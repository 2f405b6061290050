"""Planes of a (z, y, x) volume, cut to what a screen can show.

Pure numpy, no UI: the slice browser calls these for every slider step,
so each does work proportional to the displayed pixels, not the volume.
A zarr array or a :class:`~app.volume_source.MultiscaleVolume` works as
well as a numpy array, and only the chunks of the plane shown are read.

>>> vol = np.arange(4 * 6 * 8).reshape(4, 6, 8)
>>> plane(vol, "y", 2).shape
(4, 8)
>>> display_step((2000, 1000), 500)
4
"""

import math

import numpy as np

from engine import InvalidInputError

from .volume_source import AXES, MultiscaleVolume, is_lazy


def axis_number(axis):
    """0, 1 or 2 for ``"z"``, ``"y"``, ``"x"``."""
    if axis not in AXES:
        raise InvalidInputError(f"axis must be one of {AXES}, got {axis!r}")
    return AXES.index(axis)


def plane_axes(axis):
    """Names of the (row, column) axes of the plane normal to ``axis``.

    >>> plane_axes("z"), plane_axes("y"), plane_axes("x")
    (('y', 'x'), ('z', 'x'), ('z', 'y'))
    """
    return tuple(a for a in AXES if a != axis)


def plane(volume, axis, index, step=1):
    """The plane at ``index`` along ``axis``, every ``step``-th pixel.

    Striding a memmap or a zarr array reads only the rows or chunks it
    needs; a :class:`~app.volume_source.MultiscaleVolume` reads from the
    coarsest level that has a voxel per pixel, with the same result shape.
    """
    n = axis_number(axis)
    if not 0 <= index < volume.shape[n]:
        raise InvalidInputError(
            f"{axis} index {index} is outside the volume (0 .. {volume.shape[n] - 1})"
        )
    if isinstance(volume, MultiscaleVolume):
        return volume.plane(axis, index, step)
    key = [slice(None, None, step)] * 3
    key[n] = index
    return np.asarray(volume[tuple(key)])


def display_step(shape, display_size):
    """Smallest integer stride that fits a plane in ``display_size`` pixels."""
    return max(1, math.ceil(max(shape) / max(int(display_size), 1)))


def to_uint8(values, low, high):
    """Contrast-stretch to 0..255 (values at or below ``low`` are 0)."""
    values = np.asarray(values, dtype=np.float32)
    if high <= low:
        return np.where(values > low, np.uint8(255), np.uint8(0))
    scaled = (values - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)


def robust_limits(volume, *, samples=2_000_000, percentiles=(0.5, 99.8)):
    """Contrast limits from a strided sample of the volume.

    Returns ``(low, high, lowest, highest)``: the percentile window and
    the sample's full range (the bounds of a contrast slider). A lazy
    volume (zarr) is sampled on a few z planes of its coarsest level, see
    :func:`plane_sample`.
    """
    if is_lazy(volume):
        sample = plane_sample(volume, samples)
    else:
        step = max(1, round((volume.size / samples) ** (1 / 3)))
        sample = np.asarray(volume[::step, ::step, ::step]).ravel()
    if sample.size == 0:
        return 0.0, 1.0, 0.0, 1.0
    low, high = np.percentile(sample, percentiles)
    lowest, highest = float(sample.min()), float(sample.max())
    if high <= low:
        low, high = lowest, max(highest, lowest + 1)
    return float(low), float(high), lowest, max(highest, lowest + 1)


def plane_sample(volume, samples=2_000_000, planes=8):
    """About ``samples`` values from ``planes`` evenly spaced z planes.

    For a zarr volume: a 3D stride finer than the chunks touches every
    chunk, so the whole volume would be read; a z plane touches only one
    layer of chunks. A :class:`~app.volume_source.MultiscaleVolume` is
    sampled on its coarsest level.

    >>> plane_sample(np.arange(4 * 10 * 10).reshape(4, 10, 10), 50, planes=2).size
    50
    """
    if isinstance(volume, MultiscaleVolume):
        volume = volume.coarsest()
    nz, ny, nx = volume.shape
    if not nz * ny * nx:
        return np.zeros(0)
    zs = np.unique(np.linspace(0, nz - 1, min(planes, nz)).round().astype(int))
    per_plane = max(samples // len(zs), 1)
    step = max(1, math.ceil(math.sqrt(ny * nx / per_plane)))
    return np.concatenate([np.asarray(volume[int(z), ::step, ::step]).ravel() for z in zs])


def physical_extent(shape, axis, spacing):
    """(width, height) of the plane normal to ``axis`` in physical units."""
    rows, cols = (axis_number(a) for a in plane_axes(axis))
    return shape[cols] * spacing[cols], shape[rows] * spacing[rows]


def voxel_at(axis, index, u, v, shape, spacing):
    """Voxel (z, y, x) under the physical point (u, v) of a plane.

    ``u`` runs along the plane's columns and ``v`` along its rows; both
    start at the volume's corner. Returns None outside the volume.
    """
    rows, cols = (axis_number(a) for a in plane_axes(axis))
    row, col = math.floor(v / spacing[rows]), math.floor(u / spacing[cols])
    if not (0 <= row < shape[rows] and 0 <= col < shape[cols]):
        return None
    voxel = [0, 0, 0]
    voxel[axis_number(axis)], voxel[rows], voxel[cols] = index, row, col
    return tuple(voxel)
