"""The slice browser on zarr volumes: planes read chunk by chunk, overviews
from the downsampled levels of an OME-Zarr, nothing read whole.

Reads are counted at zarr's own LocalStore (the chunk files on disk), so
every volume here is a real OME-Zarr written by engine.io.
"""

import numpy as np
import pytest
from zarr.storage import LocalStore

from app import slices
from app.explorer import read_inputs
from app.slice_browser import SliceBrowser
from app.volume_source import MultiscaleVolume, is_lazy, open_volume
from app.workspace import Workspace
from engine import io

SHAPE, CHUNKS, SPACING = (6, 64, 48), (2, 16, 16), (2.0, 1.0, 1.0)


def _volumes():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 4000, size=SHAPE).astype(np.uint16)
    nodes = np.zeros(SHAPE, np.uint32)
    nodes[1:3, 8:40, 4:20] = 7
    nodes[2:6, 30:60, 24:44] = 2**20 + 3
    nodes[4, 0:12, 0:12] = 5
    return image, nodes


def _mean_level(volume, factors):
    """One level of engine.io's intensity pyramid: block mean, rounded to int."""
    nz, ny, nx = volume.shape
    fz, fy, fx = factors
    blocks = volume.reshape(nz // fz, fz, ny // fy, fy, nx // fx, fx)
    return np.rint(blocks.mean(axis=(1, 3, 5))).astype(volume.dtype)


@pytest.fixture
def zarrs(tmp_path):
    image, nodes = _volumes()
    io.write_ome_zarr(tmp_path / "image.ome.zarr", image, spacing=SPACING, levels=3,
                      chunks=CHUNKS)
    io.write_ome_zarr(tmp_path / "nodes.ome.zarr", nodes, spacing=SPACING, levels=3,
                      chunks=CHUNKS, labels=True)
    return tmp_path, image, nodes


@pytest.fixture
def reads(monkeypatch):
    """Keys of the store files read, as "<store>:<key>"."""
    keys = []
    original = LocalStore.get

    async def get(self, key, *args, **kwargs):
        keys.append(f"{self.root.name}:{key}")
        return await original(self, key, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "get", get)
    return keys


def _chunks(keys, store):
    """(level, cz, cy, cx) of each chunk of ``store`` read."""
    out = set()
    for key in keys:
        name, _, path = key.partition(":")
        parts = path.split("/")
        if name == store and len(parts) == 4 and all(p.isdigit() for p in parts):
            out.add(tuple(int(p) for p in parts))
    return out


def test_pyramid_levels_are_the_expected_factors(zarrs):
    folder, image, _ = zarrs
    volume, spacing = open_volume(folder / "image.ome.zarr")
    # z is kept while dz * sqrt(2) > 2 * dy: only the third level halves it.
    assert volume.factors == ((1, 1, 1), (1, 2, 2), (2, 4, 4))
    assert spacing == SPACING and volume.shape == SHAPE and volume.dtype == image.dtype
    assert is_lazy(volume) and not is_lazy(image)
    # A label pyramid made by mean would invent ids: only level 0 is used.
    io.write_ome_zarr(folder / "mean.ome.zarr", image, levels=3, chunks=CHUNKS)
    assert open_volume(folder / "mean.ome.zarr", labels=True)[0].factors == ((1, 1, 1),)
    assert len(open_volume(folder / "nodes.ome.zarr", labels=True)[0].factors) == 3


@pytest.mark.parametrize("axis", ["z", "y", "x"])
def test_full_resolution_planes_are_the_volume(zarrs, axis):
    folder, image, nodes = zarrs
    volume, _ = open_volume(folder / "image.ome.zarr")
    labels, _ = open_volume(folder / "nodes.ome.zarr", labels=True)
    n = slices.axis_number(axis)
    for index in (0, SHAPE[n] // 2, SHAPE[n] - 1):
        key = [slice(None)] * 3
        key[n] = index
        np.testing.assert_array_equal(slices.plane(volume, axis, index), image[tuple(key)])
        np.testing.assert_array_equal(slices.plane(labels, axis, index), nodes[tuple(key)])


def test_browser_frame_on_zarr_equals_the_numpy_frame(zarrs):
    folder, image, nodes = zarrs
    lazy = Workspace()
    lazy.set_volumes(image=open_volume(folder / "image.ome.zarr")[0],
                     labels={"nodes": open_volume(folder / "nodes.ome.zarr", labels=True)[0]},
                     spacing=SPACING)
    memory = Workspace()
    memory.set_volumes(image=image, labels={"nodes": nodes}, spacing=SPACING)
    for axis in ("z", "y", "x"):
        a = SliceBrowser(workspace=lazy, axis=axis, display_size=512)
        b = SliceBrowser(workspace=memory, axis=axis, display_size=512)
        a.clim = b.clim = (100.0, 3000.0)
        fa, fb = a.frame(), b.frame()
        assert fa["step"] == fb["step"] == 1
        np.testing.assert_array_equal(fa["image"], fb["image"])
        # Codes differ (the lazy layer codes per plane) but decode to the same labels.
        np.testing.assert_array_equal(a.layer_ids("nodes")[fa["code"]],
                                      b.layer_ids("nodes")[fb["code"]])
        np.testing.assert_array_equal(np.array(fa["palette"])[fa["code"]],
                                      np.array(fb["palette"])[fb["code"]])


def test_one_z_plane_reads_only_its_chunks(zarrs, reads):
    folder, image, _ = zarrs
    volume, _ = open_volume(folder / "image.ome.zarr")
    reads.clear()
    plane = slices.plane(volume, "z", 3)
    np.testing.assert_array_equal(plane, image[3])
    grid = [-(-n // c) for n, c in zip(SHAPE, CHUNKS)]
    expected = {(0, 3 // CHUNKS[0], j, i) for j in range(grid[1]) for i in range(grid[2])}
    assert _chunks(reads, "image.ome.zarr") == expected
    assert len(reads) == len(expected)  # each chunk once, no metadata again
    # A plain zarr array (no pyramid) is read the same way.
    array, _ = io.read_zarr(folder / "image.ome.zarr", level=0)
    reads.clear()
    np.testing.assert_array_equal(slices.plane(array, "y", 20), image[:, 20])
    assert {c[3] for c in _chunks(reads, "image.ome.zarr")} == set(range(grid[2]))
    assert {c[2] for c in _chunks(reads, "image.ome.zarr")} == {20 // CHUNKS[1]}


def test_overview_reads_a_downsampled_level(zarrs, reads):
    folder, image, nodes = zarrs
    volume, _ = open_volume(folder / "image.ome.zarr")
    labels, _ = open_volume(folder / "nodes.ome.zarr", labels=True)
    level1 = _mean_level(image, (1, 2, 2))
    level2 = _mean_level(level1, (2, 2, 2))
    reads.clear()
    # Stride 4 >= the in-plane factor 4 of level 2: the plane comes from there.
    plane = slices.plane(volume, "z", 3, step=4)
    assert plane.shape == image[3, ::4, ::4].shape
    np.testing.assert_array_equal(plane, level2[3 // 2])
    assert {c[0] for c in _chunks(reads, "image.ome.zarr")} == {2}
    # Along y the plane axes are z (factor 2) and x (factor 4).
    np.testing.assert_array_equal(slices.plane(volume, "y", 41, step=4),
                                  level2[::2, 41 // 4])
    # Stride 3 is not a multiple of 2: level 1 at the voxels covering 0, 3, 6...
    reads.clear()
    rows, cols = (np.arange(-(-n // 3)) * 3 // 2 for n in SHAPE[1:])
    plane = slices.plane(volume, "z", 5, step=3)
    np.testing.assert_array_equal(plane, level1[5][np.ix_(rows, cols)])
    assert plane.shape == image[5, ::3, ::3].shape
    assert {c[0] for c in _chunks(reads, "image.ome.zarr")} == {1}
    # Labels by stride: the same shape as the image, and only ids that exist.
    np.testing.assert_array_equal(slices.plane(labels, "z", 3, step=4),
                                  nodes[::2, ::4, ::4][3 // 2])
    assert [volume.level_for(a, s) for a, s in (("z", 1), ("x", 2), ("y", 3), ("y", 4))] \
        == [0, 1, 1, 2]


def test_contrast_limits_sample_only_the_coarsest_level(zarrs, reads):
    folder, image, _ = zarrs
    volume, _ = open_volume(folder / "image.ome.zarr")
    reads.clear()
    low, high, lowest, highest = slices.robust_limits(volume)
    assert {c[0] for c in _chunks(reads, "image.ome.zarr")} == {2}
    assert 0 <= lowest <= low < high <= highest <= 4000
    # One level of 40 planes: 8 of them are read, not every chunk.
    tall = np.repeat(image, 7, axis=0)[:40]
    io.write_ome_zarr(folder / "tall.zarr", tall, chunks=CHUNKS)
    array, _ = io.read_zarr(folder / "tall.zarr")
    reads.clear()
    assert slices.robust_limits(array)[2:] == (float(tall.min()), float(tall.max()))
    assert len({c[1] for c in _chunks(reads, "tall.zarr")}) == 8


def test_browser_on_zarr_reads_only_what_it_shows(zarrs, reads):
    folder, _, nodes = zarrs
    ws = Workspace()
    volume, spacing = open_volume(folder / "image.ome.zarr")
    labels, _ = open_volume(folder / "nodes.ome.zarr", labels=True)
    reads.clear()
    ws.set_volumes(image=volume, labels={"nodes": labels}, spacing=spacing)
    assert ws.image is volume and ws.labels["nodes"] is labels
    browser = SliceBrowser(workspace=ws, axis="z", display_size=64)
    browser.index = 4
    frame = browser.frame()
    assert frame["step"] == 1
    ids = browser.layer_ids("nodes")
    np.testing.assert_array_equal(ids[frame["code"]], nodes[4])
    assert "label 1048579" in browser.hover_texts("nodes")[list(ids).index(2**20 + 3)]
    # Level 0: only the chunks of plane 4; the contrast came from level 2.
    for store in ("image.ome.zarr", "nodes.ome.zarr"):
        full = {c for c in _chunks(reads, store) if c[0] == 0}
        assert full and {c[1] for c in full} == {4 // CHUNKS[0]}
        assert {c[0] for c in _chunks(reads, store)} <= {0, 2}
    # A click reads one voxel and selects the label under it, which is highlighted.
    reads.clear()
    browser.click(30.5, 40.5)
    assert ws.selected == 2**20 + 3 and ws.cursor == (4, 40, 30)
    assert _chunks(reads, "nodes.ome.zarr") == {(0, 2, 2, 1)}
    frame = browser.frame()
    colours = np.array(frame["palette"])[frame["code"]]
    assert ((colours == "#ffffff") == (nodes[4] == 2**20 + 3)).all()
    # Zoomed out, both layers come from level 2 and still line up.
    reads.clear()
    browser.display_size = 16
    frame = browser.frame()
    assert frame["step"] == 4 and frame["image"].shape == frame["code"].shape == (16, 12)
    np.testing.assert_array_equal(browser.layer_ids("nodes")[frame["code"]],
                                  nodes[::2, ::4, ::4][2])
    assert {c[0] for s in ("image.ome.zarr", "nodes.ome.zarr")
            for c in _chunks(reads, s)} == {2}


def test_view_redraws_on_zarr_volumes(zarrs):
    from bokeh.document import Document
    from pyviz_comms import Comm

    folder, _, nodes = zarrs
    ws = Workspace()
    ws.set_volumes(image=open_volume(folder / "image.ome.zarr")[0],
                   labels={"nodes": open_volume(folder / "nodes.ome.zarr", labels=True)[0]})
    browser = SliceBrowser(workspace=ws, display_size=64)
    root = browser.panel().get_root(Document(), Comm())
    source = next(m for m in root.references()
                  if type(m).__name__ == "ColumnDataSource" and "code" in m.data)
    for index in (1, 4):
        browser.index = index
        np.testing.assert_array_equal(
            browser.layer_ids("nodes")[source.data["code"][0]], nodes[index])
    ws.select(5, voxel=(4, 5, 5))  # a lazy layer redraws: its codes are per plane
    assert ws.centroid_voxel(5) is None  # would mean reading every chunk


def test_explorer_opens_a_zarr_image(zarrs):
    folder, image, nodes = zarrs
    io.write_tif(folder / "nodes.tif", nodes, spacing=SPACING)
    inputs = read_inputs(folder / "nodes.tif", None, folder / "image.ome.zarr")
    assert isinstance(inputs["image"], MultiscaleVolume)
    assert inputs["image"].shape == image.shape and inputs["spacing"] == SPACING
