"""Slice maths and the slice browser's state, without a browser."""

import numpy as np
import pytest
from bokeh.document import Document
from pyviz_comms import Comm

from app import slices
from app.palette import PALETTE, SELECTED_INDEX, color_index, label_color, label_rgb
from app.slice_browser import SliceBrowser
from app.workspace import Workspace
from engine import InvalidInputError


def _workspace(spacing=(2.0, 1.0, 0.5)):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 1000, size=(6, 40, 60)).astype(np.uint16)
    nodes = np.zeros(image.shape, np.uint32)
    nodes[1:3, 5:15, 10:30] = 7          # node 7 in planes z = 1, 2
    nodes[4, 20:30, 40:50] = 2**20 + 3   # a big id in plane z = 4
    ws = Workspace()
    ws.set_volumes(image=image, labels={"nodes": nodes}, spacing=spacing)
    return ws, image, nodes


def test_planes_are_the_volume_cut_along_each_axis():
    vol = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    np.testing.assert_array_equal(slices.plane(vol, "z", 2), vol[2])
    np.testing.assert_array_equal(slices.plane(vol, "y", 1), vol[:, 1])
    np.testing.assert_array_equal(slices.plane(vol, "x", 4), vol[:, :, 4])
    np.testing.assert_array_equal(slices.plane(vol, "z", 0, step=2), vol[0, ::2, ::2])
    with pytest.raises(InvalidInputError, match="z index 3 is outside"):
        slices.plane(vol, "z", 3)
    with pytest.raises(InvalidInputError, match="axis must be one of"):
        slices.plane(vol, "t", 0)


def test_display_step_fits_the_screen():
    assert slices.display_step((470, 500), 512) == 1
    assert slices.display_step((1024, 1024), 512) == 2
    assert slices.display_step((1025, 100), 512) == 3


def test_contrast_stretch():
    out = slices.to_uint8(np.array([0, 10, 20, 30]), 10, 20)
    assert out.tolist() == [0, 0, 255, 255]
    assert slices.to_uint8(np.array([15]), 10, 20).tolist() == [127]


def test_voxel_under_a_physical_point_is_anisotropic():
    shape, spacing = (6, 40, 60), (2.0, 1.0, 0.5)
    # z-plane: u runs along x (0.5 per voxel), v along y (1 per voxel).
    assert slices.voxel_at("z", 3, 10.2, 7.9, shape, spacing) == (3, 7, 20)
    # x-plane: u along y, v along z (2 per voxel).
    assert slices.voxel_at("x", 5, 3.5, 5.0, shape, spacing) == (2, 3, 5)
    assert slices.voxel_at("z", 3, 31.0, 1.0, shape, spacing) is None
    assert slices.physical_extent(shape, "y", spacing) == (30.0, 12.0)


def test_palette_is_shared_and_reserves_background_and_selection():
    assert len(PALETTE) == 256 and PALETTE[0].endswith("00")
    assert PALETTE[SELECTED_INDEX] == "#ffffff"
    ids = np.array([0, 1, 254, 255, 2**63 + 5], dtype=np.uint64)
    assert color_index(ids).tolist() == [0, 1, 254, 1, ((2**63 + 4) % 254 + 1)]
    assert label_color(255) == label_color(1) == PALETTE[1]
    assert label_rgb([1]).tolist() == [[int(PALETTE[1][i:i + 2], 16) for i in (1, 3, 5)]]


def test_frame_is_the_plane_at_display_size():
    ws, image, nodes = _workspace()
    browser = SliceBrowser(workspace=ws, display_size=30)
    assert browser.index == 3 and browser.param.index.bounds == (0, 5)
    browser.index = 1
    frame = browser.frame()
    assert frame["step"] == 2
    assert frame["code"].shape == (20, 30) == frame["image"].shape
    # The codes index the layer's ids: decoding them gives the labels back,
    # and each pixel's colour is its label's colour.
    ids = browser.layer_ids("nodes")
    np.testing.assert_array_equal(ids[frame["code"]], nodes[1, ::2, ::2])
    colours = np.array(frame["palette"])[frame["code"]]
    expected = np.array(PALETTE)[color_index(nodes[1, ::2, ::2])]
    np.testing.assert_array_equal(colours, expected)
    low, high = browser.clim
    np.testing.assert_array_equal(frame["image"], slices.to_uint8(image[1, ::2, ::2], low, high))
    assert (frame["width"], frame["height"]) == (30.0, 40.0)


def test_contrast_limits_start_from_the_data():
    ws, image, _ = _workspace()
    browser = SliceBrowser(workspace=ws)
    low, high = browser.clim
    assert 0 <= low < 20 and 980 < high <= 999
    assert browser.clim_bounds == (float(image.min()), float(image.max()))


def test_slider_and_cursor_stay_in_step():
    ws, _, _ = _workspace()
    z_view = SliceBrowser(workspace=ws, axis="z")
    x_view = SliceBrowser(workspace=ws, axis="x")
    z_view.index = 4
    assert ws.cursor[0] == 4
    x_view.index = 17
    assert ws.cursor == (4, 20, 17)
    x_view.axis = "y"
    assert x_view.index == 20 and x_view.param.index.bounds == (0, 39)


def test_selection_is_highlighted_and_moves_every_view():
    ws, _, nodes = _workspace()
    z_view = SliceBrowser(workspace=ws, axis="z")
    y_view = SliceBrowser(workspace=ws, axis="y")
    ws.select(7)
    # The centroid of node 7 is (1.5, 9.5, 19.5) voxels: rounded half to even.
    assert ws.cursor == (2, 10, 20)
    assert (z_view.index, y_view.index) == (2, 10)
    frame = z_view.frame()
    colours = np.array(frame["palette"])[frame["code"]]
    assert ((colours == PALETTE[SELECTED_INDEX]) == (nodes[2] == 7)).all()
    ws.select(None)
    frame = z_view.frame()
    assert PALETTE[SELECTED_INDEX] not in frame["palette"]


def test_many_labels_fall_back_to_palette_indices(monkeypatch):
    import app.slice_browser as sb

    ws, _, nodes = _workspace()
    monkeypatch.setattr(sb, "MAX_CODED_LABELS", 2)
    browser = SliceBrowser(workspace=ws, axis="z")
    ws.select(7)
    frame = browser.frame()
    assert frame["palette"] == PALETTE
    expected = color_index(nodes[2])
    expected[nodes[2] == 7] = SELECTED_INDEX
    np.testing.assert_array_equal(frame["code"], expected)


def test_click_selects_the_node_under_the_pointer_and_keeps_the_plane():
    ws, _, _ = _workspace()
    browser = SliceBrowser(workspace=ws, axis="z")
    browser.index = 4
    # (u, v) = (x, y) physical: voxel (4, 25, 45) is inside the big-id node.
    browser.click(45 * 0.5 + 0.1, 25.3)
    assert ws.selected == 2**20 + 3
    assert ws.cursor == (4, 25, 45) and browser.index == 4
    assert "label 1048579" in browser.hover_texts("nodes")[2]
    browser.click(1.0, 1.0)  # background clears the selection
    assert ws.selected is None


def test_overlay_choices_follow_the_layers():
    ws, _, nodes = _workspace()
    browser = SliceBrowser(workspace=ws)
    assert browser.param.overlay.objects == ["none", "nodes"]
    ws.set_volumes(labels={"edges": nodes.copy()}, spacing=(1, 1, 1))
    assert browser.overlay == "edges"
    browser.overlay = "none"
    assert browser.frame()["code"] is None


def test_view_builds_bokeh_models_and_redraws_on_slider():
    ws, _, nodes = _workspace()
    browser = SliceBrowser(workspace=ws, display_size=64)
    layout = browser.panel()
    root = layout.get_root(Document(), Comm())
    assert root is not None
    view_source = next(m for m in root.references()
                       if type(m).__name__ == "ColumnDataSource" and "code" in m.data)
    mapper = next(m for m in root.references()
                  if type(m).__name__ == "LinearColorMapper" and len(m.palette) == 3)
    browser.index = 1
    ids = browser.layer_ids("nodes")
    np.testing.assert_array_equal(ids[view_source.data["code"][0]], nodes[1])
    browser.index = 0
    assert view_source.data["code"][0].max() == 0
    # Selecting changes the palette, not the pixels sent.
    before = view_source.data["code"][0]
    ws.select(7, voxel=(0, 0, 0))
    assert view_source.data["code"][0] is before
    assert list(mapper.palette).index(PALETTE[SELECTED_INDEX]) == list(ids).index(7)
    assert (mapper.low, mapper.high) == (-0.5, 2.5)
