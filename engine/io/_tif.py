"""TIFF volumes with voxel spacing: ImageJ, OME-TIFF and plain TIFF."""

import logging
import os
import struct

import numpy as np

from .._errors import FileFormatError, InvalidInputError
from .._validate import as_volume, check_labels, check_spacing
from ._atomic import atomic_write
from ._paths import existing_file
from ._tif_spacing import canonical_unit, tif_spacing

_log = logging.getLogger(__name__)

# what each flavour can hold; anything else is refused with a clear error
_IMAGEJ_DTYPES = {np.dtype(t) for t in ("uint8", "uint16", "float32")}
_OME_DTYPES = {np.dtype(t) for t in ("int8", "int16", "uint32", "int32", "float64")}
_JSON_DTYPES = {np.dtype(t) for t in ("uint64", "int64")}
_OME_UNITS = {"um": "µm", "angstrom": "Å", "inch": "in"}
# axes that hold channels, not planes of one volume
_CHANNEL_AXES = {"C": "channels", "S": "colour samples (RGB)"}


def _check_axes(tif, series, path):
    """Refuse colour or multichannel images; they are not one volume.

    A leading planar sample axis in a tifffile-shaped file is accepted:
    ``tifffile.imwrite`` stores a (3 or 4, y, x) stack as planar RGB
    unless told otherwise, yet the user saved a volume.
    """
    for i, (axis, size) in enumerate(zip(series.axes, series.shape)):
        if axis not in _CHANNEL_AXES or size == 1:
            continue
        if axis == "S" and i == 0 and tif.is_shaped:
            continue
        raise InvalidInputError(
            f"{path} has {size} {_CHANNEL_AXES[axis]} (axes {series.axes}, "
            f"shape {series.shape}); expected one grayscale volume: "
            "split or convert the channels first"
        )


def read_tif(path, *, spacing=None):
    """Read a 2D or 3D TIFF as a (z, y, x) array with its voxel spacing.

    The spacing comes from OME-XML ``PhysicalSize*``, ImageJ metadata
    (``spacing`` for z, the X/YResolution tags for y and x, pixel size =
    1 / resolution) or the ``spacing`` tifffile stores in its own JSON
    description; each axis without metadata gets 1.0. Values are in the
    unit the file states (axes in other length units are converted to
    the in-plane unit; TIFF inch or centimetre resolutions become
    micrometres). Inch resolutions of plain TIFFs (72 or 96 dpi screen
    values) are ignored.

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF file.
    spacing : float or sequence of 3 floats, optional
        (dz, dy, dx) that overrides whatever the file says.

    Returns
    -------
    array : ndarray, shape (z, y, x)
        The image; a 2D image becomes (1, y, x).
    spacing : tuple of 3 floats
        (dz, dy, dx).

    Raises
    ------
    MissingFileError
        If ``path`` does not exist.
    FileFormatError
        If the file is not a readable TIFF.
    InvalidInputError
        If the image is empty, has colour channels or more than 3 axes,
        or if ``spacing`` is not positive.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cells.tif"
    >>> write_tif(path, np.ones((4, 8, 8), np.uint16), spacing=(2.5, 0.3, 0.3))
    >>> image, spacing = read_tif(path)
    >>> image.shape, spacing
    ((4, 8, 8), (2.5, 0.3, 0.3))
    """
    path, array, _, found = _read_series(path, spacing, one_volume=True)
    array = as_volume(array, name="image", source=path)
    _log.debug("read %s: shape %s, spacing %s", path, array.shape, found)
    return array, found


def _read_series(path, spacing, *, one_volume):
    """(path, array, axes, spacing) of a TIFF's first series."""
    path = existing_file(path)
    override = None if spacing is None else check_spacing(spacing)
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise FileFormatError(f"{path} is a TIFF file without any image")
            series = tif.series[0]
            if one_volume:
                _check_axes(tif, series, path)
            array = series.asarray()
            found, _ = tif_spacing(tif)
    except (ValueError, struct.error, EOFError) as err:
        if isinstance(err, InvalidInputError):
            raise
        raise FileFormatError(f"{path} cannot be read as a TIFF image: {err}") from err
    return path, array, series.axes, (override if override is not None else found)


def read_tif_axes(path, *, spacing=None):
    """Read a TIFF as stored, channels and all, with its axes and spacing.

    For methods that take their own ``z_axis`` and ``channel_axis``
    (Cellpose): nothing is squeezed or refused, so a (z, c, y, x) stack
    stays 4D. Use :func:`read_tif` for one grayscale volume.

    Returns
    -------
    array : ndarray
    axes : str
        tifffile's axis letters (``"ZCYX"``, ``"YXS"``...).
    spacing : tuple of 3 floats
        (dz, dy, dx) from the metadata or ``spacing``.

    Examples
    --------
    >>> import pathlib, tempfile, tifffile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "two.tif"
    >>> tifffile.imwrite(path, np.zeros((5, 2, 8, 8), np.uint8), imagej=True,
    ...                  metadata={"axes": "ZCYX"})
    >>> array, axes, spacing = read_tif_axes(path)
    >>> array.shape, axes
    ((5, 2, 8, 8), 'ZCYX')
    """
    path, array, axes, spacing = _read_series(path, spacing, one_volume=False)
    if array.size == 0:
        raise InvalidInputError(f"image ({path}) is empty (shape {array.shape})")
    return array, axes, spacing


def read_labels(path, *, spacing=None, name="labels"):
    """Read a label volume (unsigned integers, 0 = background) from a TIFF.

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF file.
    spacing : float or sequence of 3 floats, optional
        (dz, dy, dx) that overrides the file's metadata.
    name : str
        What the labels are (``"nodes"``, ``"edges"``), used in messages.

    Returns
    -------
    labels : ndarray of unsigned integers, shape (z, y, x)
    spacing : tuple of 3 floats

    Raises
    ------
    InvalidInputError
        If the image holds floats or negative values, or no object at all
        (plus every error of :func:`read_tif`).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "nuclei.tif"
    >>> write_tif(path, np.array([[0, 7], [7, 3]], np.uint32))
    >>> labels, spacing = read_labels(path)
    >>> labels.shape, labels.dtype.name, spacing
    ((1, 2, 2), 'uint32', (1.0, 1.0, 1.0))
    """
    array, spacing = read_tif(path, spacing=spacing)
    return check_labels(array, name=name, source=os.fspath(path)), spacing


def _storable(array):
    """Return the array in a dtype some TIFF flavour holds, and the flavour."""
    if array.dtype == bool:
        array = array.view(np.uint8)
    elif array.dtype == np.float16:
        array = array.astype(np.float32)
    for flavour, dtypes in (
        ("imagej", _IMAGEJ_DTYPES), ("ome", _OME_DTYPES), ("json", _JSON_DTYPES)
    ):
        if array.dtype.newbyteorder("=") in dtypes:
            return np.ascontiguousarray(array, array.dtype.newbyteorder("=")), flavour
    raise InvalidInputError(
        f"array dtype {array.dtype} cannot be written as TIFF; use an "
        "integer, float or boolean array"
    )


def _write_options(flavour, spacing, unit):
    dz, dy, dx = spacing
    if flavour == "imagej":
        # ImageJ writes and reads "micron"; keep its description ASCII
        unit = "micron" if canonical_unit(unit) == "um" else unit
        return {
            "imagej": True,
            "resolution": (1.0 / dx, 1.0 / dy),
            "resolutionunit": "NONE",
            "metadata": {"axes": "ZYX", "spacing": dz, "unit": unit},
        }
    if flavour == "ome":
        ome_unit = canonical_unit(unit)
        ome_unit = _OME_UNITS.get(ome_unit, ome_unit) or "pixel"
        metadata = {"axes": "ZYX"}
        for axis, size in zip("ZYX", spacing):
            metadata[f"PhysicalSize{axis}"] = size
            metadata[f"PhysicalSize{axis}Unit"] = ome_unit
        return {"ome": True, "metadata": metadata}
    return {"metadata": {"axes": "ZYX", "spacing": list(spacing), "unit": unit}}


def write_tif(path, array, *, spacing=(1.0, 1.0, 1.0), unit="um"):
    """Write a 2D or 3D array as a TIFF that :func:`read_tif` reads back.

    uint8, uint16, float32 (and bool, stored as uint8) become an
    ImageJ hyperstack (z spacing and unit in the ImageJ description,
    y/x pixel sizes in the resolution tags). int8, int16, uint32, int32
    and float64, which ImageJ cannot hold, become OME-TIFF with
    ``PhysicalSize*``. uint64 and int64, which neither holds, become a
    plain TIFF with the spacing in tifffile's JSON description. The file
    is written atomically: an existing file is replaced only on success.

    Parameters
    ----------
    path : str or os.PathLike
        Destination (``.tif``; use ``.ome.tif`` for OME dtypes if you like).
    array : ndarray, shape (y, x) or (z, y, x)
        The image or label volume.
    spacing : float or sequence of 3 floats
        (dz, dy, dx) in ``unit``.
    unit : str
        Length unit, e.g. ``"um"`` or ``"nm"``.

    Raises
    ------
    InvalidInputError
        If the array is empty, not 2D/3D, of an unsupported dtype, or the
        spacing is not positive.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels.tif"
    >>> labels = np.zeros((3, 4, 4), np.uint64)
    >>> labels[1, 1:3, 1:3] = 2**40
    >>> write_tif(path, labels, spacing=(40, 4, 4), unit="nm")
    >>> back, spacing = read_tif(path)
    >>> int(back.max()) == 2**40, spacing
    (True, (40.0, 4.0, 4.0))
    """
    spacing = check_spacing(spacing)
    if not isinstance(unit, str) or not unit.strip():
        raise InvalidInputError(f"unit must be a non-empty string, was {unit!r}")
    array = as_volume(array, name="array", source=os.fspath(path))
    array, flavour = _storable(array)
    options = _write_options(flavour, spacing, unit.strip())
    import tifffile

    with atomic_write(path, "wb") as fh:
        tifffile.imwrite(fh, array, photometric="minisblack", **options)
