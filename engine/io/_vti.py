"""A small reader of VTK XML ImageData (.vti) files, without VTK."""

import base64
import binascii
import xml.etree.ElementTree as ET
import zlib

import numpy as np

from .._errors import FileFormatError
from .._validate import as_volume
from ._paths import existing_file

_TYPES = {
    "Int8": "i1", "UInt8": "u1", "Int16": "i2", "UInt16": "u2",
    "Int32": "i4", "UInt32": "u4", "Int64": "i8", "UInt64": "u8",
    "Float32": "f4", "Float64": "f8",
}
_HEADERS = {"UInt32": "u4", "UInt64": "u8"}
_ZLIB = "vtkZLibDataCompressor"


def _b64(text):
    return base64.b64decode(text, validate=True)


def _b64_chars(n_bytes):
    """Number of base64 characters that encode ``n_bytes`` bytes."""
    return -(-n_bytes // 3) * 4


def _uncompressed(text, header):
    """Header (byte count) then data, in one base64 stream or in two."""
    size = header.itemsize
    try:
        raw = _b64(text)
    except binascii.Error:  # padding inside: header and data encoded apart
        raw = b""
    if len(raw) >= size and int(np.frombuffer(raw[:size], header)[0]) == len(raw) - size:
        return raw[size:]
    split = _b64_chars(size)  # some writers encode the header on its own
    n_bytes = int(np.frombuffer(_b64(text[:split])[:size], header)[0])
    data = _b64(text[split:])
    if len(data) != n_bytes:
        raise ValueError(f"header says {n_bytes} bytes, found {len(data)}")
    return data


def _compressed(text, header):
    """zlib blocks: header [n_blocks, block, last, sizes...] then the blocks."""
    size = header.itemsize
    n_blocks = int(np.frombuffer(_b64(text[: _b64_chars(size)])[:size], header)[0])
    header_chars = _b64_chars(size * (3 + n_blocks))
    values = np.frombuffer(_b64(text[:header_chars])[: size * (3 + n_blocks)], header)
    raw = _b64(text[header_chars:])
    ends = np.cumsum(values[3:].astype(np.int64))
    if n_blocks and ends[-1] != len(raw):
        raise ValueError(f"blocks total {ends[-1]} bytes, found {len(raw)}")
    starts = np.concatenate([[0], ends[:-1]])
    return b"".join(zlib.decompress(raw[a:b]) for a, b in zip(starts, ends))


def _numbers(text, what, path, count):
    try:
        values = [float(v) for v in text.split()]
    except (AttributeError, ValueError):
        values = []
    if len(values) != count:
        raise FileFormatError(f"{path}: {what} must be {count} numbers, was {text!r}")
    return values


def _first_array(root, path):
    """Return (extent, spacing, DataArray element) of a one-piece ImageData."""
    image = root.find("ImageData")
    if root.get("type") != "ImageData" or image is None:
        raise FileFormatError(
            f"{path} holds VTK {root.get('type')!r} data, expected ImageData"
        )
    pieces = image.findall("Piece")
    if len(pieces) != 1:
        raise FileFormatError(f"{path} has {len(pieces)} pieces; only 1 is supported")
    extent = [int(v) for v in _numbers(image.get("WholeExtent"), "WholeExtent", path, 6)]
    spacing = _numbers(image.get("Spacing", "1 1 1"), "Spacing", path, 3)
    if not all(np.isfinite(v) and v > 0 for v in spacing):
        raise FileFormatError(f"{path}: Spacing must be > 0, was {spacing}")
    arrays = pieces[0].findall("PointData/DataArray")
    if not arrays:
        raise FileFormatError(f"{path} has no point data array (cell data is not read)")
    return extent, spacing, arrays[0]


def _decode(array, root, path):
    """Return the values of one DataArray element as a 1D numpy array."""
    name, kind, fmt = array.get("Name"), array.get("type"), array.get("format")
    where = f"{path}, array {name!r}"
    if kind not in _TYPES:
        raise FileFormatError(f"{where}: data type {kind!r} is not supported")
    if int(array.get("NumberOfComponents", 1)) != 1:
        raise FileFormatError(f"{where}: only single-component arrays are supported")
    order = {"LittleEndian": "<", "BigEndian": ">"}.get(root.get("byte_order"), "<")
    dtype = np.dtype(order + _TYPES[kind])
    if fmt == "ascii":
        return np.array((array.text or "").split(), dtype=dtype)
    text = "".join((array.text or "").split())
    if fmt != "binary":
        raise FileFormatError(
            f"{where}: format {fmt!r} is not supported (only inline 'binary' "
            "base64 or 'ascii'); save with SetDataModeToBinary()"
        )
    header = root.get("header_type", "UInt32")
    compressor = root.get("compressor")
    if header not in _HEADERS or compressor not in (None, "", _ZLIB):
        raise FileFormatError(
            f"{where}: header_type {header!r} / compressor {compressor!r} not "
            f"supported (UInt32 or UInt64 headers, no compression or {_ZLIB})"
        )
    header = np.dtype(order + _HEADERS[header])
    decode = _compressed if compressor else _uncompressed
    try:
        raw = decode(text, header)
    except (ValueError, binascii.Error, zlib.error, IndexError) as err:
        raise FileFormatError(f"{where}: corrupt binary data ({err})") from err
    if len(raw) % dtype.itemsize:
        raise FileFormatError(f"{where}: {len(raw)} bytes is not a whole number "
                              f"of {kind} values")
    return np.frombuffer(bytearray(raw), dtype=dtype)


def read_vti(path):
    """Read the first point-data array of a VTK XML ImageData (.vti) file.

    Supports inline binary (base64) data, uncompressed or compressed with
    ``vtkZLibDataCompressor``, with UInt32 or UInt64 headers, and ASCII
    data, in one piece. ``Origin`` and ``Direction`` are not applied.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.vti`` file.

    Returns
    -------
    array : ndarray, shape (z, y, x)
        The values (VTK stores x fastest, so this is a plain reshape),
        in native byte order.
    spacing : tuple of 3 floats
        (dz, dy, dx), from the file's ``Spacing="dx dy dz"``.

    Raises
    ------
    MissingFileError
        If ``path`` does not exist.
    FileFormatError
        If the file is not VTK XML ImageData or uses what this reader does
        not support (appended raw data, other compressors, several pieces,
        multi-component arrays, no point data).

    Examples
    --------
    >>> import importlib.util, pathlib
    >>> spec = importlib.util.find_spec("pyvista")
    >>> path = pathlib.Path(spec.origin).parent / "examples" / "frog_tissues.vti"
    >>> labels, spacing = read_vti(path)  # doctest: +SKIP
    >>> labels.shape, spacing  # doctest: +SKIP
    ((136, 470, 500), (1.5, 1.0, 1.0))
    """
    path = existing_file(path)
    with open(path, "rb") as fh:
        content = fh.read()
    if b"<AppendedData" in content:
        raise FileFormatError(
            f"{path} stores its data in an <AppendedData> section, which is not "
            "supported; save it with inline binary data (SetDataModeToBinary())"
        )
    try:
        root = ET.fromstring(content)
    except ET.ParseError as err:
        raise FileFormatError(f"{path} is not a VTK XML file ({err})") from err
    if root.tag != "VTKFile":
        raise FileFormatError(f"{path} is XML but not a VTK file (<{root.tag}>)")
    extent, (dx, dy, dz), element = _first_array(root, path)
    shape = tuple(extent[i + 1] - extent[i] + 1 for i in (4, 2, 0))
    values = _decode(element, root, path)
    if values.size != np.prod(shape):
        raise FileFormatError(
            f"{path}: array holds {values.size} values, extent {extent} needs "
            f"{int(np.prod(shape))}"
        )
    volume = values.reshape(shape).astype(values.dtype.newbyteorder("="), copy=False)
    return as_volume(volume, name="image", source=path), (dz, dy, dx)
