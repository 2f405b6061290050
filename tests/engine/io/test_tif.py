"""read_tif / read_labels / write_tif: arrays and voxel spacing survive
our writer and files written by tifffile directly (ImageJ, OME, plain)."""

import numpy as np
import pytest
import tifffile

from engine import InvalidInputError
from engine._errors import FileFormatError, MissingFileError
from engine.io import read_labels, read_tif, write_tif

ANISO = (2.5, 0.3, 0.3)


def labels_volume(dtype, shape=(3, 5, 7), big=False):
    labels = np.zeros(shape, dtype)
    labels[..., 1:3, 2:5] = 7
    labels[..., 3:, :2] = np.iinfo(dtype).max if big else 2
    return labels


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("shape", [(5, 7), (3, 5, 7)])
def test_label_round_trip(tmp_path, dtype, shape):
    labels = labels_volume(dtype, shape, big=True)
    path = tmp_path / "labels.tif"
    write_tif(path, labels, spacing=ANISO)
    back, spacing = read_labels(path)
    assert back.dtype == dtype
    assert back.shape == (1, 5, 7) if len(shape) == 2 else shape
    np.testing.assert_array_equal(back.reshape(shape), labels)
    assert spacing == ANISO


@pytest.mark.parametrize(
    "dtype", [bool, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]
)
def test_other_dtypes_round_trip(tmp_path, dtype):
    data = (np.arange(60).reshape(3, 4, 5) % 3).astype(dtype)
    path = tmp_path / "image.tif"
    write_tif(path, data, spacing=(4, 0.5, 0.25))
    back, spacing = read_tif(path)
    np.testing.assert_array_equal(back, data)
    assert spacing == (4.0, 0.5, 0.25)


def test_flavours_match_what_imagej_and_ome_hold(tmp_path):
    for dtype, imagej, ome in [
        (np.uint8, True, False), (np.float32, True, False),
        (np.uint32, False, True), (np.float64, False, True), (np.uint64, False, False),
    ]:
        path = tmp_path / f"{np.dtype(dtype).name}.tif"
        write_tif(path, np.ones((2, 3, 4), dtype))
        with tifffile.TiffFile(path) as tif:
            assert (tif.is_imagej, tif.is_ome) == (imagej, ome)


def test_unit_is_kept_in_the_file(tmp_path):
    path = tmp_path / "em.tif"
    write_tif(path, np.ones((2, 4, 4), np.uint32), spacing=(40, 4, 4), unit="nm")
    with tifffile.TiffFile(path) as tif:
        assert 'PhysicalSizeXUnit="nm"' in tif.ome_metadata
    assert read_tif(path)[1] == (40.0, 4.0, 4.0)
    write_tif(path, np.ones((2, 4, 4), np.uint16), spacing=(2, 0.1, 0.1))
    with tifffile.TiffFile(path) as tif:
        assert tif.imagej_metadata["unit"] == "micron"


def test_imagej_file_written_by_tifffile(tmp_path):
    path = tmp_path / "fiji.tif"
    data = np.arange(3 * 4 * 6, dtype=np.uint16).reshape(3, 4, 6)
    tifffile.imwrite(
        path, data, imagej=True, resolution=(1 / 0.65, 1 / 0.5),
        metadata={"spacing": 2.0, "unit": "micron", "axes": "ZYX"},
    )
    back, spacing = read_tif(path)
    np.testing.assert_array_equal(back, data)
    assert spacing == (2.0, 0.5, 0.65)


def test_imagej_2d_without_spacing_gets_unit_z(tmp_path):
    path = tmp_path / "slice.tif"
    tifffile.imwrite(path, np.ones((4, 6), np.uint8), imagej=True, resolution=(4, 4))
    back, spacing = read_tif(path)
    assert back.shape == (1, 4, 6)
    assert spacing == (1.0, 0.25, 0.25)


def test_ome_file_written_by_tifffile(tmp_path):
    path = tmp_path / "scan.ome.tif"
    data = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    tifffile.imwrite(
        path, data, ome=True, photometric="minisblack",
        metadata={
            "axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.25,
            "PhysicalSizeZ": 0.001, "PhysicalSizeZUnit": "mm",
        },
    )
    back, spacing = read_tif(path)
    np.testing.assert_array_equal(back, data)
    assert spacing == (1.0, 0.25, 0.2)  # z converted from mm to µm (the default)


def test_ome_without_z_size(tmp_path):
    path = tmp_path / "plane.ome.tif"
    tifffile.imwrite(
        path, np.ones((3, 4), np.uint8), ome=True,
        metadata={"axes": "YX", "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1},
    )
    assert read_tif(path)[1] == (1.0, 0.1, 0.1)


def test_plain_tif_resolution_units(tmp_path):
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.ones((4, 4), np.uint8))
    assert read_tif(plain)[1] == (1.0, 1.0, 1.0)
    metric = tmp_path / "cm.tif"
    tifffile.imwrite(
        metric, np.ones((4, 4), np.uint8), resolution=(2e4, 1e4), resolutionunit="CENTIMETER"
    )
    assert read_tif(metric)[1] == (1.0, 1.0, 0.5)  # in µm
    screen = tmp_path / "dpi.tif"
    tifffile.imwrite(screen, np.ones((4, 4), np.uint8), resolution=(72, 72), resolutionunit="INCH")
    assert read_tif(screen)[1] == (1.0, 1.0, 1.0)  # 72 dpi is no pixel size


def test_spacing_argument_overrides_metadata(tmp_path):
    path = tmp_path / "a.tif"
    write_tif(path, np.ones((2, 3, 3), np.uint8), spacing=ANISO)
    assert read_tif(path, spacing=0.5)[1] == (0.5, 0.5, 0.5)
    assert read_labels(path, spacing=(3, 2, 1))[1] == (3.0, 2.0, 1.0)
    for bad in (0, -1, (1, 1), (1, 0, 1)):
        with pytest.raises(InvalidInputError, match="spacing"):
            read_tif(path, spacing=bad)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="nothing.tif"):
        read_tif(tmp_path / "nothing.tif")
    with pytest.raises(FileNotFoundError):  # the built-in still catches it
        read_labels(tmp_path / "nothing.tif")


def test_not_a_tif(tmp_path):
    text = tmp_path / "notes.tif"
    text.write_text("hello world\n")
    png = tmp_path / "image.tif"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    for path in (text, png, empty):
        with pytest.raises(FileFormatError, match=path.name):
            read_tif(path)


def test_truncated_tif(tmp_path):
    path = tmp_path / "cut.tif"
    data = np.arange(4 * 64 * 64, dtype=np.uint16).reshape(4, 64, 64)
    tifffile.imwrite(path, data, photometric="minisblack")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(FileFormatError, match="cut.tif"):
        read_tif(path)


def test_4d_and_channels_are_refused(tmp_path):
    path = tmp_path / "tzyx.tif"
    tifffile.imwrite(path, np.ones((2, 3, 4, 5), np.uint8), imagej=True, metadata={"axes": "TZYX"})
    with pytest.raises(InvalidInputError, match="tzyx.tif.*4D"):
        read_tif(path)
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.ones((4, 5, 3), np.uint8), photometric="rgb")
    with pytest.raises(InvalidInputError, match="rgb.tif.*RGB"):
        read_tif(rgb)


def test_small_stack_tifffile_stored_as_planar_rgb_is_a_volume(tmp_path):
    path = tmp_path / "three_planes.tif"
    data = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    with tifffile.TiffWriter(path) as tif:  # what old tifffile did by default
        tif.write(data, photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_tif(path)[0], data)


def test_singleton_axes_are_squeezed(tmp_path):
    path = tmp_path / "t1.tif"
    tifffile.imwrite(path, np.ones((1, 3, 4, 5), np.uint8), imagej=True, metadata={"axes": "TZYX"})
    assert read_tif(path)[0].shape == (3, 4, 5)


def test_empty_image(tmp_path):
    path = tmp_path / "zero.tif"
    with pytest.warns(UserWarning):
        tifffile.imwrite(path, np.zeros((0, 4, 4), np.uint8))
    with pytest.raises(InvalidInputError, match="zero.tif.*empty"):
        read_tif(path)


def test_read_labels_errors_name_the_file(tmp_path):
    floats = tmp_path / "prob.tif"
    write_tif(floats, np.full((2, 3, 3), 0.5, np.float32))
    with pytest.raises(InvalidInputError, match="nodes .*prob.tif.*floating"):
        read_labels(floats, name="nodes")
    negative = tmp_path / "neg.tif"
    write_tif(negative, np.array([[0, -3]], np.int16))
    with pytest.raises(InvalidInputError, match="neg.tif.*negative"):
        read_labels(negative)
    empty = tmp_path / "blank.tif"
    write_tif(empty, np.zeros((2, 3, 3), np.uint16))
    with pytest.raises(InvalidInputError, match="blank.tif.*no objects"):
        read_labels(empty)


def test_signed_labels_become_unsigned(tmp_path):
    path = tmp_path / "signed.tif"
    write_tif(path, np.array([[0, 5], [300, 5]], np.int16))
    labels, _ = read_labels(path)
    assert labels.dtype == np.uint16
    assert labels.ravel().tolist() == [0, 5, 300, 5]


def test_write_tif_refuses_bad_input(tmp_path):
    with pytest.raises(InvalidInputError, match="dtype"):
        write_tif(tmp_path / "c.tif", np.ones((2, 2), np.complex64))
    with pytest.raises(InvalidInputError, match="4D"):
        write_tif(tmp_path / "c.tif", np.ones((2, 2, 2, 2), np.uint8))
    with pytest.raises(InvalidInputError, match="empty"):
        write_tif(tmp_path / "c.tif", np.ones((0, 2), np.uint8))
    with pytest.raises(InvalidInputError, match="spacing"):
        write_tif(tmp_path / "c.tif", np.ones((2, 2), np.uint8), spacing=(1, 0, 1))
    with pytest.raises(InvalidInputError, match="unit"):
        write_tif(tmp_path / "c.tif", np.ones((2, 2), np.uint8), unit="")
    assert not (tmp_path / "c.tif").exists()
