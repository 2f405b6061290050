"""``plexus segment`` and ``plexus train-cellpose`` on real tif files."""

import numpy as np
import pytest
import tifffile
from segment_data import UNSEEN, load_nuclei, nuclei_scribbles

from app.cli import main
from engine import io
from engine.segment import average_precision


@pytest.fixture(scope="module")
def nuclei_tifs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nuclei")
    image, truth, spacing = load_nuclei()
    io.write_tif(folder / "nuclei.tif", image, spacing=spacing)
    io.write_tif(folder / "scribbles.tif", nuclei_scribbles(truth), spacing=spacing)
    return folder, truth, spacing


def run(*argv):
    return main([str(a) for a in argv])


def unseen_ap(path, truth):
    labels, _ = io.read_labels(path)
    return average_precision(truth[..., UNSEEN], labels[..., UNSEEN], (0.5, 0.75))


def test_otsu_with_physical_options(nuclei_tifs, tmp_path, capsys):
    folder, truth, spacing = nuclei_tifs
    out = tmp_path / "otsu.tif"
    assert run("segment", folder / "nuclei.tif", "--method", "otsu", "--smooth", 0.5,
               "--split", 6, "--min-size", 100, "--out", out, "--quiet") == 0
    labels, read_spacing = io.read_labels(out)
    assert labels.dtype == np.uint32 and read_spacing == pytest.approx(spacing)
    assert unseen_ap(out, truth)[0] >= 0.9
    # read as voxels, the same numbers over-split the nuclei: the sizes are physical
    assert run("segment", folder / "nuclei.tif", "--smooth", 0.5, "--split", 6,
               "--min-size", 100, "--spacing", "1,1,1", "--out", tmp_path / "vox.tif",
               "--quiet") == 0
    assert io.read_labels(tmp_path / "vox.tif")[0].max() > 2 * labels.max()
    assert capsys.readouterr().err == ""


def test_manual_threshold_and_size_range(nuclei_tifs, tmp_path):
    folder, truth, spacing = nuclei_tifs
    image, _ = io.read_tif(folder / "nuclei.tif")
    out = tmp_path / "manual.tif"
    assert run("segment", folder / "nuclei.tif", "--method", "threshold",
               "--threshold", 9000, "--no-fill", "--min-size", 300, "--max-size", 2000,
               "--out", out, "--quiet") == 0
    labels, _ = io.read_labels(out)
    volumes = np.bincount(labels.ravel())[1:] * np.prod(spacing)
    assert volumes.min() >= 300 and volumes.max() <= 2000
    assert image[labels > 0].min() > 9000


def test_random_forest_from_scribbles_then_saved_model(nuclei_tifs, tmp_path):
    folder, truth, _ = nuclei_tifs
    out, model = tmp_path / "rf.tif", tmp_path / "nuclei.rf"
    assert run("segment", folder / "nuclei.tif", "--method", "rf", "--scribbles",
               folder / "scribbles.tif", "--split", 6, "--min-size", 100,
               "--save-model", model, "--out", out, "--quiet") == 0
    assert unseen_ap(out, truth)[0] >= 0.9
    again = tmp_path / "rf2.tif"
    assert run("segment", folder / "nuclei.tif", "--method", "rf", "--model", model,
               "--split", 6, "--min-size", 100, "--out", again, "--quiet") == 0
    np.testing.assert_array_equal(io.read_labels(out)[0], io.read_labels(again)[0])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--method", "threshold"], "needs --threshold"),
        (["--method", "rf"], "needs --scribbles"),
        (["--method", "otsu", "--diameter", "30"], "--diameter cannot be used"),
        (["--method", "cellpose", "--split", "6"], "--split cannot be used"),
        (["--method", "cellpose", "--model", "no-such-model.pth"], "no-such-model.pth"),
        (["--method", "rf", "--model", "no-such.rf"], "no-such.rf"),
    ],
)
def test_bad_options_name_what_to_fix(nuclei_tifs, tmp_path, capsys, argv, message):
    folder, _, _ = nuclei_tifs
    code = run("segment", folder / "nuclei.tif", *argv, "--out", tmp_path / "x.tif")
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_bad_files_name_what_to_fix(nuclei_tifs, tmp_path, capsys):
    folder, _, _ = nuclei_tifs
    image, _, _ = load_nuclei()
    # scribbles of the wrong shape
    io.write_tif(tmp_path / "small.tif", np.ones((4, 8, 8), np.uint8))
    assert run("segment", folder / "nuclei.tif", "--method", "rf", "--scribbles",
               tmp_path / "small.tif", "--out", tmp_path / "x.tif") == 2
    err = capsys.readouterr().err
    assert "scribbles" in err and "(4, 8, 8)" in err
    # a 4D (z, c, y, x) stack: cellpose asks which axis holds the channels
    four = tmp_path / "zcyx.tif"
    tifffile.imwrite(four, np.stack([image[:8], image[:8]], axis=1), imagej=True,
                     metadata={"axes": "ZCYX"})
    assert run("segment", four, "--method", "cellpose", "--out", tmp_path / "x.tif") == 2
    assert "--channel-axis 1" in capsys.readouterr().err
    assert run("segment", four, "--method", "otsu", "--out", tmp_path / "x.tif") == 2
    assert "2 channels" in capsys.readouterr().err
    # an RGB image where grey was expected
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.zeros((64, 64, 3), np.uint8), photometric="rgb")
    assert run("segment", rgb, "--method", "otsu", "--out", tmp_path / "x.tif") == 2
    assert "colour" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_cellpose_flags_reach_the_engine(tmp_path):
    """The command runs the shipped model with the flags it was given.

    (Accuracy on the whole volume is tests/engine/segment/test_cellpose.py.)
    """
    pytest.importorskip("cellpose")
    from engine.segment import segment_cellpose

    image, _, spacing = load_nuclei()
    crop = np.ascontiguousarray(image[20:40, :96, 128:224])
    io.write_tif(tmp_path / "crop.tif", crop, spacing=spacing)
    out = tmp_path / "cellpose.tif"
    assert run("segment", tmp_path / "crop.tif", "--method", "cellpose", "--min-size", 100,
               "--cellprob-threshold", -2, "--flow3d-smooth", 1, "--out", out,
               "--quiet") == 0
    labels, read_spacing = io.read_labels(out)
    assert read_spacing == pytest.approx(spacing)
    direct = segment_cellpose(crop, spacing=spacing, min_volume=100, cellprob_threshold=-2,
                              flow3D_smooth=1)
    assert direct.max() >= 1
    np.testing.assert_array_equal(labels, direct)
