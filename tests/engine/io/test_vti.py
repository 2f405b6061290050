"""read_vti: VTK XML ImageData without VTK, checked against VTK's own
writer and against pyvista's reading of the real frog tissues file."""

import base64
import importlib.util
import pathlib
import zlib

import numpy as np
import pytest

from engine._errors import FileFormatError, MissingFileError
from engine.io import read_vti

pv = pytest.importorskip("pyvista")
from vtkmodules.vtkIOXML import vtkXMLImageDataWriter  # noqa: E402  (comes with pyvista)

PYVISTA = pathlib.Path(importlib.util.find_spec("pyvista").origin).parent
FROG = PYVISTA / "examples" / "frog_tissues.vti"


def vtk_write(
    path, volume, spacing_xyz, *, compressor="zlib", header=32, mode="binary", block=None
):
    image = pv.ImageData(dimensions=volume.shape[::-1], spacing=spacing_xyz)
    image.point_data["values"] = volume.ravel()
    writer = vtkXMLImageDataWriter()
    writer.SetInputData(image)
    writer.SetFileName(str(path))
    {"binary": writer.SetDataModeToBinary, "ascii": writer.SetDataModeToAscii,
     "appended": writer.SetDataModeToAppended}[mode]()
    {"zlib": writer.SetCompressorTypeToZLib, "none": writer.SetCompressorTypeToNone,
     "lz4": writer.SetCompressorTypeToLZ4}[compressor]()
    (writer.SetHeaderTypeToUInt64 if header == 64 else writer.SetHeaderTypeToUInt32)()
    if block:
        writer.SetBlockSize(block)
    assert writer.Write() == 1
    return path


def test_frog_tissues_equal_pyvista():
    labels, spacing = read_vti(FROG)
    mesh = pv.examples.load_frog_tissues()
    values = np.asarray(mesh.point_data[mesh.point_data.keys()[0]])
    expected = values.reshape(mesh.dimensions[::-1])  # VTK: x fastest
    assert labels.shape == (136, 470, 500)
    assert labels.dtype == np.uint8
    assert spacing == (1.5, 1.0, 1.0)
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("compressor", ["none", "zlib"])
@pytest.mark.parametrize("header", [32, 64])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int16, np.uint32, np.uint64, np.float32, np.float64]
)
def test_vtk_written_files(tmp_path, compressor, header, dtype):
    rng = np.random.default_rng(0)
    volume = (rng.random((3, 4, 5)) * 100).astype(dtype)
    path = vtk_write(
        tmp_path / "v.vti", volume, (0.5, 0.25, 2.0), compressor=compressor, header=header
    )
    back, spacing = read_vti(path)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, volume)
    assert spacing == (2.0, 0.25, 0.5)


def test_many_zlib_blocks(tmp_path):
    volume = np.arange(20 * 30 * 40, dtype=np.uint32).reshape(20, 30, 40)
    path = vtk_write(tmp_path / "blocks.vti", volume, (1, 1, 1), block=1000)
    assert read_vti(path)[0].tolist() == volume.tolist()


def test_ascii(tmp_path):
    volume = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 5
    path = vtk_write(tmp_path / "a.vti", volume, (1, 2, 3), mode="ascii")
    back, spacing = read_vti(path)
    np.testing.assert_array_equal(back, volume)
    assert spacing == (3.0, 2.0, 1.0)


def hand_written(
    path, payload, *, header_type="UInt32", compressor=None, type_="UInt16",
    extent="0 3 0 2 0 1",
):
    attrs = f' compressor="{compressor}"' if compressor else ""
    path.write_text(
        f'<?xml version="1.0"?>\n<VTKFile type="ImageData" version="1.0" '
        f'byte_order="LittleEndian" header_type="{header_type}"{attrs}>\n'
        f'<ImageData WholeExtent="{extent}" Origin="0 0 0" Spacing="1 1 3">\n'
        f'<Piece Extent="{extent}"><PointData>\n'
        f'<DataArray type="{type_}" Name="a" format="binary">\n{payload}\n</DataArray>\n'
        "</PointData></Piece></ImageData></VTKFile>\n"
    )
    return path


def test_header_encoded_apart_from_the_data(tmp_path):
    values = np.arange(24, dtype="<u2")
    header = base64.b64encode(np.uint32(values.nbytes).tobytes())
    payload = (header + base64.b64encode(values.tobytes())).decode()
    back, spacing = read_vti(hand_written(tmp_path / "h.vti", payload))
    np.testing.assert_array_equal(back.ravel(), values)
    assert spacing == (3.0, 1.0, 1.0)


def test_unsupported_files_are_refused_clearly(tmp_path):
    volume = np.ones((2, 3, 4), np.uint8)
    appended = vtk_write(tmp_path / "app.vti", volume, (1, 1, 1), mode="appended")
    with pytest.raises(FileFormatError, match="app.vti.*AppendedData"):
        read_vti(appended)
    lz4 = vtk_write(tmp_path / "lz4.vti", volume, (1, 1, 1), compressor="lz4")
    with pytest.raises(FileFormatError, match="lz4.vti.*vtkLZ4DataCompressor"):
        read_vti(lz4)
    poly = tmp_path / "poly.vti"
    pv.Sphere().save(poly.with_suffix(".vtp"), binary=False)
    poly.write_bytes(poly.with_suffix(".vtp").read_bytes())
    with pytest.raises(FileFormatError, match="PolyData"):
        read_vti(poly)
    text = tmp_path / "text.vti"
    text.write_text("not xml at all")
    with pytest.raises(FileFormatError, match="text.vti"):
        read_vti(text)
    with pytest.raises(MissingFileError, match="none.vti"):
        read_vti(tmp_path / "none.vti")


def test_corrupt_or_mismatched_data(tmp_path):
    with pytest.raises(FileFormatError, match="corrupt"):
        read_vti(hand_written(tmp_path / "bad.vti", "@@@@"))
    values = np.arange(10, dtype="<u2")  # extent wants 24 values
    payload = base64.b64encode(np.uint32(values.nbytes).tobytes() + values.tobytes()).decode()
    with pytest.raises(FileFormatError, match="24"):
        read_vti(hand_written(tmp_path / "short.vti", payload))
    block = zlib.compress(np.arange(24, dtype="<u2").tobytes())
    header = np.array([1, 48, 48, len(block) + 5], "<u4").tobytes()
    payload = (base64.b64encode(header) + base64.b64encode(block)).decode()
    with pytest.raises(FileFormatError, match="corrupt"):
        read_vti(hand_written(tmp_path / "z.vti", payload, compressor="vtkZLibDataCompressor"))
    with pytest.raises(FileFormatError, match="Bit"):
        read_vti(hand_written(tmp_path / "bit.vti", "AAAA", type_="Bit"))


def test_multi_component_arrays_are_refused(tmp_path):
    image = pv.ImageData(dimensions=(4, 3, 2))
    image.point_data["rgb"] = np.zeros((24, 3), np.uint8)
    path = tmp_path / "rgb.vti"
    image.save(path)
    text = path.read_bytes()
    if b"<AppendedData" in text:  # pyvista saves appended data; rewrite inline
        writer = vtkXMLImageDataWriter()
        writer.SetInputData(image)
        writer.SetFileName(str(path))
        writer.SetDataModeToBinary()
        writer.Write()
    with pytest.raises(FileFormatError, match="single-component"):
        read_vti(path)
