"""The segmentation dashboard's view-model on the real nuclei stack, without a browser."""

import importlib.util

import sys

import numpy as np
import pytest

from app import handoff
from app.explorer import NetworkExplorer
from app.segmenter import BACKGROUND, FOREGROUND, SHIPPED_MODEL, Segmenter, demo_volume
from engine import InvalidInputError, MissingExtraError, io, segment

HAS_FOREST = importlib.util.find_spec("engine.segment._forest") is not None


@pytest.fixture
def seg():
    seg = Segmenter()
    seg.load_demo()
    return seg


def _run(seg, timeout=120):
    seg.run()
    seg.runner.wait(timeout)
    assert seg.runner.error == ""
    return seg.labels


def test_demo_opens_on_the_nuclei(seg):
    image, truth, spacing = demo_volume()
    assert seg.image is image and image.shape == (60, 256, 256)
    assert seg.spacing == spacing == (0.29, 0.26, 0.26)
    assert int(truth.max()) == 20
    assert seg.spacing_text == "0.29, 0.26, 0.26"
    assert seg.scribbles.shape == image.shape and not seg.scribbles.any()
    assert seg.workspace.cursor[0] == 30
    assert (seg.smooth, seg.min_volume, seg.split) == (0.5, 100.0, 6.0)  # physical sizes
    assert seg.preview_plane() is not None  # Otsu previews at once


def test_otsu_run_finds_the_ground_truth_nuclei(seg):
    _, truth, spacing = demo_volume()
    labels = _run(seg)  # the demo's own settings
    assert labels.dtype == np.uint32 and labels.shape == truth.shape
    assert 17 <= seg.n_objects <= 22, seg.n_objects
    assert f"{seg.n_objects} objects" in seg.message
    assert segment.average_precision(truth, labels)[0] >= 0.9
    # The page runs exactly the engine's call.
    direct = segment.segment_threshold(seg.image, spacing=spacing, smooth=0.5,
                                       min_volume=100.0, split=6.0)
    np.testing.assert_array_equal(labels, direct)
    assert seg.workspace.cursor[0] == 30  # the result does not move the slice


@pytest.mark.parametrize("settings", [
    {"threshold_method": "otsu", "smooth": 0.4},
    {"threshold_method": "otsu", "per_slice": True, "smooth": 0.3},
    {"threshold_method": "manual", "threshold": 3000.0, "smooth": 0.0},
])
def test_preview_is_the_plane_of_the_full_mask(seg, settings):
    seg.param.update(method="threshold", **settings)
    full, _ = segment.threshold_mask(seg.image, spacing=seg.spacing,
                                     **seg.threshold_settings())
    for z in (0, 17, 30, 59):
        seg.workspace.cursor = (z, 100, 100)
        np.testing.assert_array_equal(seg.preview_plane(), full[z])
        assert seg._preview[0] == z  # the preview followed the slice
    rgba = seg.annotation("z", 59)
    assert (rgba != 0).sum() == full[59].sum()


def test_painting_writes_exactly_the_voxels_under_the_brush(seg):
    dy, dx = seg.spacing[1:]
    seg.param.update(brush="scribble foreground", brush_radius=3.0)
    seg.workspace.cursor = (12, 0, 0)
    # A tap: one disk around the voxel (row 40, col 50), centre at its middle.
    seg.pointer("tap", 50.5 * dx, 40.5 * dy)
    rows, cols = np.mgrid[:256, :256] + 0.5
    disk = (rows - 40.5) ** 2 + (cols - 50.5) ** 2 <= 9
    np.testing.assert_array_equal(seg.scribbles[12], disk.astype(np.uint8))
    assert seg.scribbles.sum() == disk.sum() == 29
    # A drag from (100, 20) to (110, 80): the capsule swept by the disk.
    seg.brush = "scribble background"
    seg.pointer("start", 20 * dx, 100 * dy)
    seg.pointer("drag", 50 * dx, 105 * dy)
    seg.pointer("drag", 80 * dx, 110 * dy)
    seg.pointer("end", 80 * dx, 110 * dy)
    stroke = seg.scribbles[12] == BACKGROUND
    t = np.linspace(0, 1, 4001)[:, None]
    path = np.array([100, 20]) + t * np.array([10, 60])  # dense points on the path
    centres = np.argwhere(stroke) + 0.5
    nearest = np.sqrt(((centres[:, None, :] - path[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert nearest.max() <= 3.0 + 1e-6  # nothing painted beyond the brush
    every = np.argwhere(np.ones((256, 256), bool)) + 0.5
    near = np.sqrt(((every[:, None, :] - path[None, ::40, :]) ** 2).sum(-1)).min(axis=1)
    assert stroke.ravel()[near <= 2.99].all()  # everything within the brush painted
    assert seg.scribbles[:12].sum() == 0 and seg.scribbles[13:].sum() == 0
    assert seg.scribble_counts() == (29, int(stroke.sum()))
    # Erasing, and the overlay shows what is painted.
    rgba = seg.annotation("z", 12)
    assert ((rgba != 0) >= (seg.scribbles[12] > 0)).all()
    seg.brush = "erase scribbles"
    seg.pointer("tap", 50.5 * dx, 40.5 * dy)
    assert seg.scribble_counts()[0] == 0
    seg.brush = "off (pan and select)"
    seg.pointer("tap", 80 * dx, 110 * dy)  # brush off: nothing is painted
    assert seg.scribble_counts()[0] == 0


def test_object_brushes_correct_the_labels(seg):
    seg.param.update(smooth=0.3, min_volume=5.0)
    labels = _run(seg).copy()
    n = seg.n_objects
    dy, dx = seg.spacing[1:]
    z = seg.workspace.cursor[0]
    # an empty spot: the brushes below stay inside rows r-3..r+3, cols c-3..c+7
    r, c = next((r, c) for r in range(4, 250, 4) for c in range(4, 240, 4)
                if not labels[z, r - 3:r + 4, c - 3:c + 8].any())
    seg.param.update(brush="new object", brush_radius=2.0)
    seg.pointer("tap", (c + 0.5) * dx, (r + 0.5) * dy)
    assert seg.labels[z, r, c] == labels.max() + 1 and seg.n_objects == n + 1
    seg.brush = "extend selected object"
    seg.workspace.selected = None
    seg.pointer("tap", (c + 4.5) * dx, (r + 0.5) * dy)
    assert "select an object first" in seg.runner.error
    seg.workspace.selected = int(labels.max() + 1)
    seg.pointer("tap", (c + 4.5) * dx, (r + 0.5) * dy)
    assert seg.labels[z, r, c + 4] == labels.max() + 1
    seg.brush = "erase objects"
    seg.pointer("tap", (c + 0.5) * dx, (r + 0.5) * dy)
    seg.pointer("tap", (c + 4.5) * dx, (r + 0.5) * dy)
    np.testing.assert_array_equal(seg.labels, labels)


def test_save_labels_with_spacing(seg, tmp_path):
    with pytest.raises(InvalidInputError, match="run a segmentation"):
        seg.save_labels(tmp_path / "x.tif")
    seg.param.update(smooth=0.3, min_volume=5.0)
    labels = _run(seg)
    path = seg.save_labels(tmp_path / "out" / "labels.tif")
    back, spacing = io.read_tif(path)
    np.testing.assert_array_equal(back, labels)
    assert spacing == pytest.approx(seg.spacing)


def test_labels_go_to_the_explorer_as_nodes_and_edges(seg, monkeypatch):
    seg.param.update(smooth=0.3, min_volume=5.0)
    labels = _run(seg)
    link = seg.send_to_explorer("nodes")
    token = link.split("nodes=")[1]
    assert link == f"network_explorer?nodes={token}" == seg.explorer_link
    explorer = NetworkExplorer()
    assert explorer.load_page_args({"nodes": [token.encode()]})
    ws = explorer.workspace
    np.testing.assert_array_equal(ws.labels["nodes"], labels)
    assert ws.spacing == seg.spacing and ws.image is seg.image
    assert explorer.method == "proximity (centroids)"
    explorer.k = 2
    explorer.build()
    explorer.runner.wait(60)
    assert explorer.runner.error == ""
    assert explorer.workspace.network.graph.number_of_nodes() == seg.n_objects
    # Edges next: the link carries both; another process reads them from disk.
    link = seg.send_to_explorer("edges")
    assert link.startswith(f"network_explorer?nodes={token}&edges=")
    monkeypatch.setattr(handoff, "_memory", {})
    explorer = NetworkExplorer()
    args = dict(part.split("=") for part in link.split("?")[1].split("&"))
    assert explorer.load_page_args({k: [v.encode()] for k, v in args.items()})
    np.testing.assert_array_equal(explorer._edges, labels)
    assert explorer.method == "connecting objects"  # unchanged: edges came along
    # A page without tokens opens as before; a bad token is a message, not a crash.
    assert not NetworkExplorer().load_page_args({})
    explorer = NetworkExplorer()
    assert explorer.load_page_args({"nodes": [b"0123456789abcdef"]})
    assert "unknown or expired" in explorer.runner.error
    with pytest.raises(InvalidInputError, match="not a hand-off token"):
        handoff.get("../../etc/passwd")


def test_cellpose_settings_errors_and_training(seg, monkeypatch, tmp_path):
    seg.param.update(method="cellpose", diameter=17.0, anisotropy=0.0, do_3D=False,
                     stitch_threshold=0.3)
    _, func, kwargs = seg.segmentation_job()
    assert func is segment.segment_cellpose
    assert kwargs["model"] is None and kwargs["diameter"] == 17.0
    assert kwargs["anisotropy"] is None and kwargs["do_3D"] is False
    assert kwargs["stitch_threshold"] == 0.3

    # cellpose not installed: the engine's own check names the extra
    monkeypatch.setitem(sys.modules, "cellpose", None)
    seg.run()
    seg.runner.wait(30)
    assert "plexus3d[cellpose]" in seg.runner.error and seg.labels is None
    monkeypatch.undo()

    with pytest.raises(InvalidInputError, match="make labels first"):
        seg.train_cellpose()
    # real training, on a small labelled crop to keep it short
    pytest.importorskip("cellpose")
    image, truth, spacing = demo_volume()
    sub = (slice(10, 42), slice(0, 96), slice(0, 96))
    seg.load_array(np.ascontiguousarray(image[sub]), spacing, "crop")
    seg.workspace.labels = {"nodes": np.ascontiguousarray(truth[sub])}

    seg.param.update(out_dir=str(tmp_path), train_epochs=1)
    seg.train_cellpose()
    seg.runner.wait(300)
    assert seg.runner.error == ""
    model = str(tmp_path / "cellpose-model.pt")
    from engine.segment._cellpose_net import model_kind

    assert model_kind(model) == "plexus"  # a real model file, loadable
    assert seg.cellpose_model == model and seg.method == "cellpose"
    assert seg.param.cellpose_model.objects == [SHIPPED_MODEL, model]
    assert seg.segmentation_job()[2]["model"] == model


def test_errors_are_named(seg, tmp_path):
    with pytest.raises(InvalidInputError, match="paint both foreground and background"):
        seg.train()
    seg.method = "random forest"
    with pytest.raises(InvalidInputError, match="train the classifier first"):
        seg.segmentation_job()
    with pytest.raises(InvalidInputError, match="load an image first"):
        Segmenter().segmentation_job()
    other = Segmenter(image_path=str(tmp_path / "missing.tif"))
    other.load_path()
    other.runner.wait(10)
    assert "missing.tif" in other.runner.error


def test_load_path_and_upload(tmp_path):
    image = demo_volume()[0][20:30, :64, :64]
    path = tmp_path / "crop.tif"
    io.write_tif(path, image, spacing=(2.0, 0.5, 0.5))
    seg = Segmenter(image_path=str(path))
    seg.load_path()
    seg.runner.wait(10)
    assert seg.runner.error == ""
    np.testing.assert_array_equal(seg.image, image)
    assert seg.spacing == (2.0, 0.5, 0.5) and seg.workspace.title == "crop.tif"
    seg = Segmenter(spacing_text="1, 1, 1")
    seg.load_upload(path.read_bytes(), "up.tif")
    seg.runner.wait(10)
    assert seg.spacing == (1.0, 1.0, 1.0) and seg.scribbles.shape == image.shape


@pytest.mark.skipif(not HAS_FOREST, reason="engine.segment._forest not there yet")
def test_random_forest_from_scribbles(tmp_path):
    image, truth, spacing = demo_volume()
    # A crop keeps the forest's features quick; its largest scale spans the crop.
    crop = (slice(20, 40), slice(64, 192), slice(64, 192))
    image, truth = image[crop], truth[crop]
    seg = Segmenter()
    seg.load_array(image, spacing, "crop")
    dy, dx = spacing[1:]
    seg.brush_radius = 2.0
    # Scribbles where the ground truth says: inside nuclei, and background.
    for z in (5, 10, 15):
        seg.workspace.cursor = (z, 0, 0)
        for brush, points in (("scribble foreground", np.argwhere(truth[z] > 0)),
                              ("scribble background", np.argwhere(truth[z] == 0))):
            seg.brush = brush
            for row, col in points[:: max(len(points) // 8, 1)][:8]:
                seg.pointer("tap", (col + 0.5) * dx, (row + 0.5) * dy)
    foreground, background = seg.scribble_counts()
    assert foreground and background
    assert (truth[seg.scribbles == FOREGROUND] > 0).mean() > 0.8
    seg.train()
    seg.runner.wait(300)
    assert seg.runner.error == "" and seg.classifier is not None
    assert seg.method == "random forest"
    z = 10
    seg.workspace.cursor = (z, 64, 64)
    seg.wait_preview()
    assert seg._preview is not None and seg._preview[0] == z  # drawn once predicted
    full = seg.classifier.predict_proba(image, spacing=spacing)
    np.testing.assert_allclose(seg.probability_plane(z), full[z], atol=1e-6)
    np.testing.assert_array_equal(seg.preview_plane(), full[z] >= seg.probability)
    labels = _run(seg, timeout=300)
    np.testing.assert_array_equal(labels > 0, segment.postprocess_mask(
        full >= seg.probability, spacing=spacing, **seg.cleanup_settings()) > 0)
    assert seg.n_objects >= 3
    path = seg.save_classifier(tmp_path / "rf.plexus")
    seg.classifier = None
    seg.load_classifier(path)
    np.testing.assert_allclose(seg.probability_plane(z), full[z], atol=1e-6)
