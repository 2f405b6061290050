"""Voxel spacing and length units from TIFF metadata (OME, ImageJ, tags).

Every source yields, per axis (z, y, x), either ``None`` or a pair
``(size, unit)`` where ``unit`` is a canonical length unit or ``None``
(unitless, e.g. ImageJ's ``pixel``). :func:`tif_spacing` merges the
sources and converts all axes into one unit.
"""

import logging
import math
import xml.etree.ElementTree as ET

_log = logging.getLogger(__name__)

# metres per canonical unit
_METRES = {
    "m": 1.0, "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "nm": 1e-9,
    "angstrom": 1e-10, "pm": 1e-12, "inch": 0.0254,
}
_ALIASES = {
    "meter": "m", "metre": "m", "centimeter": "cm", "centimetre": "cm",
    "millimeter": "mm", "millimetre": "mm", "micron": "um", "microns": "um",
    "micrometer": "um", "micrometre": "um", "µm": "um", "μm": "um",
    "\\u00b5m": "um", "nanometer": "nm", "nanometre": "nm", "å": "angstrom",
    "picometer": "pm", "in": "inch", "inches": "inch",
}
# TIFF ResolutionUnit values (4 and 5 are tifffile's extensions)
_RESOLUTION_UNITS = {2: "inch", 3: "cm", 4: "mm", 5: "um"}
# units of scanners and printers, not of microscopes: shown in micrometres
_DOCUMENT_UNITS = ("inch", "cm")


def canonical_unit(unit):
    """Return the canonical name of a length unit, or None if not a length.

    >>> canonical_unit("micron"), canonical_unit("pixel")
    ('um', None)
    """
    if unit is None:
        return None
    name = str(unit).strip().lower()
    name = _ALIASES.get(name, name)
    return name if name in _METRES else None


def _positive(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _axis(size, unit):
    size = _positive(size)
    return None if size is None else (size, canonical_unit(unit))


def _pixel_size(page, tag):
    """Pixel size from an X/YResolution tag (1 / resolution), or None."""
    found = page.tags.get(tag)
    try:
        numerator, denominator = found.value
        resolution = numerator / denominator
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None
    return 1.0 / resolution if resolution > 0 else None


def _first_page(tif):
    return tif.pages[0] if len(tif.pages) else None


def _resolution_unit(page):
    found = page.tags.get("ResolutionUnit")
    return 1 if found is None else int(found.value)


def _ome_axes(tif):
    try:
        root = ET.fromstring(tif.ome_metadata)
    except (ET.ParseError, TypeError, ValueError) as err:
        _log.warning("%s: ignoring unreadable OME-XML (%s)", tif.filehandle.path, err)
        return [None] * 3
    pixels = next((e for e in root.iter() if e.tag.endswith("}Pixels")), None)
    if pixels is None:
        return [None] * 3
    # OME's default unit for PhysicalSize* is the micrometre
    return [
        _axis(pixels.get(f"PhysicalSize{a}"), pixels.get(f"PhysicalSize{a}Unit", "µm"))
        for a in "ZYX"
    ]


def _imagej_axes(tif):
    meta = tif.imagej_metadata or {}
    page = _first_page(tif)
    unit = meta.get("unit")
    y_unit = x_unit = _RESOLUTION_UNITS.get(_resolution_unit(page))
    if x_unit is None:  # ResolutionUnit NONE: ImageJ's own units apply
        y_unit, x_unit = meta.get("yunit", unit), unit
    return [
        _axis(meta.get("spacing"), meta.get("zunit", unit)),
        _axis(_pixel_size(page, "YResolution"), y_unit),
        _axis(_pixel_size(page, "XResolution"), x_unit),
    ]


def _shaped_axes(tif):
    meta = (tif.shaped_metadata or ({},))[0]
    values = meta.get("spacing")
    if not isinstance(values, (list, tuple)) or len(values) not in (2, 3):
        return [None] * 3
    values = [None] * (3 - len(values)) + list(values)
    return [None if v is None else _axis(v, meta.get("unit")) for v in values]


def _tag_axes(tif):
    """Plain TIFF: resolution tags only when their unit is metric.

    Inch resolutions in plain TIFFs are screen or print DPI (72, 96, 300)
    written by general image tools, not microscope pixel sizes.
    """
    page = _first_page(tif)
    unit = _RESOLUTION_UNITS.get(_resolution_unit(page))
    if unit in (None, "inch"):
        return [None] * 3
    return [None] + [
        _axis(_pixel_size(page, tag), unit) for tag in ("YResolution", "XResolution")
    ]


def _convert(axis, target):
    size, unit = axis
    if unit is None or target is None or unit == target:
        return size
    return size * _METRES[unit] / _METRES[target]


def tif_spacing(tif):
    """Return ``((dz, dy, dx), unit)`` from an open ``tifffile.TiffFile``.

    Sources, first found per axis wins: OME-XML ``PhysicalSize*``,
    ImageJ metadata (``spacing`` for z, resolution tags for y and x),
    tifffile's JSON ``spacing``, then metric resolution tags. Axes
    without metadata get 1.0. All axes are expressed in the unit of the
    in-plane axes (inch and centimetre become micrometres); ``unit`` is
    that unit's canonical name, or None when the file names none.
    """
    sources = []
    if tif.is_ome:
        sources.append(_ome_axes(tif))
    if tif.is_imagej:
        sources.append(_imagej_axes(tif))
    if tif.is_shaped:
        sources.append(_shaped_axes(tif))
    if _first_page(tif) is not None:
        sources.append(_tag_axes(tif))
    axes = [next((s[i] for s in sources if s[i] is not None), None) for i in range(3)]
    units = [a[1] for a in (axes[2], axes[1], axes[0]) if a is not None and a[1]]
    target = units[0] if units else None
    if target in _DOCUMENT_UNITS:
        target = "um"
    spacing = tuple(
        1.0 if a is None else float(f"{_convert(a, target):.10g}") for a in axes
    )
    return spacing, target
