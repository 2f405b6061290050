"""The 3D scene and view: geometry in physical (x, y, z), colours, modes.

Known answers come from two boxes placed by hand in a volume with a
different spacing on each axis, so a swapped axis cannot pass.
"""

import io
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn
import pytest
from bokeh.document import Document
from browser import CHROMIUM, CHROMIUM_ARGS, PageWatch, chromium, free_port  # noqa: F401
from panel.models.markup import HTML as PanelHTML
from PIL import Image
from pyviz_comms import Comm

from app import scene3d
from app.palette import label_rgb
from app.view3d import View3D, WebGLProbe
from app.workspace import Workspace
from engine import InvalidInputError
from engine.network import Network

SPACING = (2.0, 0.5, 1.0)  # dz, dy, dx: all different
# label -> (z0, z1, y0, y1, x0, x1), voxel index ranges [start, stop)
BOXES = {3: (2, 4, 3, 7, 4, 9), 7: (6, 9, 9, 14, 12, 18)}
SHAPE = (11, 16, 20)


def box_volume():
    labels = np.zeros(SHAPE, np.uint16)
    for label, (z0, z1, y0, y1, x0, x1) in BOXES.items():
        labels[z0:z1, y0:y1, x0:x1] = label
    return labels


def physical_bounds(label):
    """(xmin, xmax, ymin, ymax, zmin, zmax) of a box's outer voxel faces."""
    z0, z1, y0, y1, x0, x1 = BOXES[label]
    dz, dy, dx = SPACING
    return ((x0 - 0.5) * dx, (x1 - 0.5) * dx, (y0 - 0.5) * dy, (y1 - 0.5) * dy,
            (z0 - 0.5) * dz, (z1 - 0.5) * dz)


def centroid_zyx(label):
    z0, z1, y0, y1, x0, x1 = BOXES[label]
    return np.array([(z0 + z1 - 1) / 2, (y0 + y1 - 1) / 2, (x0 + x1 - 1) / 2]) * SPACING


def box_network():
    rows = [{"label": label, **dict(zip("zyx", centroid_zyx(label))), "voxels": 1, "volume": 1.0}
            for label in BOXES]
    edges = pd.DataFrame({"node_a": [3], "node_b": [7], "edge_id": [1]})
    return Network(nodes=pd.DataFrame(rows), edges=edges, spacing=SPACING)


@pytest.fixture
def workspace():
    ws = Workspace()
    ws.set_volumes(labels={"nodes": box_volume()}, spacing=SPACING)
    ws.set_network(box_network())
    return ws


@pytest.fixture
def view(workspace):
    view = View3D(workspace, smoothing=False, width=400, height=300)
    yield view
    view.close()


def cells_of(mesh, mask):
    return mesh.extract_cells(np.flatnonzero(mask))


# ---- scene3d ---------------------------------------------------------------


def test_surface_bounds_are_the_boxes_physical_bounds_in_xyz_order():
    mesh = scene3d.label_surfaces(box_volume(), SPACING, smoothing=False)
    for label in BOXES:
        box = cells_of(mesh, mesh["labels"][:, 0] == label)
        np.testing.assert_allclose(box.bounds, physical_bounds(label), atol=1e-6)


def test_smoothed_surfaces_stay_inside_by_less_than_a_voxel():
    mesh = scene3d.label_surfaces(box_volume(), SPACING, smoothing=True)
    box = np.asarray(cells_of(mesh, mesh["labels"][:, 0] == 7).bounds)
    outer = np.asarray(physical_bounds(7))
    voxel = np.repeat(SPACING[::-1], 2)
    inward = np.where(np.arange(6) % 2 == 0, box - outer, outer - box)
    assert (inward > 0).all() and (inward < voxel).all()


def test_each_label_has_its_palette_colour_per_triangle():
    mesh = scene3d.label_surfaces(box_volume(), SPACING, smoothing=False)
    assert mesh.is_all_triangles
    for label in BOXES:
        rgb = mesh["rgb"][mesh["labels"][:, 0] == label]
        assert len(rgb) and (rgb == label_rgb([label])[0]).all()


def test_triangle_estimate_is_exact_and_the_budget_strides_the_volume():
    labels = box_volume()
    scene = scene3d.build_scene(labels, SPACING, smoothing=False)
    # Surface nets: one quad (two triangles) per voxel face of each box.
    faces = sum(2 * ((z1 - z0) * (y1 - y0) + (z1 - z0) * (x1 - x0) + (y1 - y0) * (x1 - x0))
                for z0, z1, y0, y1, x0, x1 in BOXES.values())
    assert scene3d.estimate_triangles(labels) == 2 * faces == scene3d.triangle_count(scene.plotter)
    step = scene3d.fitting_step(labels, max_triangles=300)
    assert step > 1 and scene3d.estimate_triangles(labels, step) <= 300
    assert scene3d.estimate_triangles(labels, step - 1) > 300
    assert scene3d.build_scene(labels, SPACING, max_triangles=300).step == step


def test_spheres_sit_at_the_physical_centroids_and_tubes_join_them():
    scene = scene3d.build_scene(box_volume(), SPACING, network=box_network(), node_radius=0.5)
    for label in BOXES:
        sphere = cells_of(scene.nodes, scene.node_labels == label)
        centre = np.asarray(sphere.bounds).reshape(3, 2).mean(axis=1)
        np.testing.assert_allclose(centre, centroid_zyx(label)[::-1], atol=1e-6)
    ends = [centroid_zyx(label)[::-1] for label in BOXES]
    tube = np.asarray(scene.edges.bounds).reshape(3, 2)
    np.testing.assert_allclose(tube[:, 0], np.minimum(*ends), atol=0.2)
    np.testing.assert_allclose(tube[:, 1], np.maximum(*ends), atol=0.2)


def test_off_screen_png_is_not_blank():
    scene = scene3d.build_scene(box_volume(), SPACING, network=box_network(), window_size=(320, 240))
    image = np.asarray(Image.open(io.BytesIO(scene3d.screenshot_png(scene.plotter))))
    assert image.shape[:2] == (240, 320)
    assert image.std() > 5
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 20


def test_64_bit_ids_keep_their_identity():
    big = 2**60 + 7
    labels = box_volume().astype(np.uint64)
    labels[labels == 3] = big
    nodes = pd.DataFrame({"label": np.array([big], np.uint64), "z": [1.0], "y": [1.0], "x": [1.0]})
    scene = scene3d.build_scene(labels, SPACING, network=nodes, smoothing=False)
    assert set(np.unique(scene.surface_labels)) == {0, 7, big}
    scene3d.highlight(scene, big)
    on_big = (scene.surface_labels == big).any(axis=1)
    np.testing.assert_array_equal((scene.surfaces["rgb"] == scene3d.SELECTED_RGB).all(axis=1), on_big)
    assert (scene.nodes["rgb"] == scene3d.SELECTED_RGB).all()


def test_bad_volumes_raise_clear_errors():
    with pytest.raises(InvalidInputError, match="3D"):
        scene3d.label_surfaces(np.zeros((4, 4), np.uint8))
    with pytest.raises(InvalidInputError, match="spacing"):
        scene3d.label_surfaces(box_volume(), (1.0, 0.0, 1.0))
    with pytest.raises(InvalidInputError, match="opacity"):
        scene3d.set_opacity(scene3d.build_scene(box_volume()), 2)


# ---- View3D: state ---------------------------------------------------------


def test_selecting_a_node_recolours_it_without_rebuilding(view, workspace):
    scene = view.scene
    surfaces, nodes = scene.surfaces["rgb"].copy(), scene.nodes["rgb"].copy()
    workspace.select(3)
    assert view.scene is scene
    white = scene3d.SELECTED_RGB
    on_3 = (scene.surface_labels == 3).any(axis=1)
    assert (scene.surfaces["rgb"][on_3] == white).all()
    dimmed = (surfaces[~on_3] * scene3d.DIM_FACTOR
              + scene3d.BACKGROUND_RGB * (1 - scene3d.DIM_FACTOR)).astype(np.uint8)
    np.testing.assert_array_equal(scene.surfaces["rgb"][~on_3], dimmed)
    is_white = (scene.nodes["rgb"] == white).all(axis=1)
    np.testing.assert_array_equal(is_white, scene.node_labels == 3)
    assert (scene.edges["rgb"] == white).all()  # the only edge touches node 3
    workspace.select(None)
    np.testing.assert_array_equal(scene.surfaces["rgb"], surfaces)
    np.testing.assert_array_equal(scene.nodes["rgb"], nodes)


def test_other_layers_do_not_highlight_surfaces_by_node_id(view, workspace):
    assert view.param.layer.objects == ["nodes", "communities"]
    view.layer = "communities"
    workspace.select(3)
    assert not (view.scene.surfaces["rgb"] == scene3d.SELECTED_RGB).all(axis=1).any()
    assert (view.scene.nodes["rgb"] == scene3d.SELECTED_RGB).all(axis=1).any()
    view.layer = None  # the network alone
    assert view.scene.surfaces is None and view.layer is None
    assert view.n_triangles == view.scene.nodes.n_cells + view.scene.edges.n_cells


def test_triangle_budget_switches_to_the_server(view):
    assert view.active_mode == "browser"
    assert view.status == f"{view.n_triangles} triangles: drawn in the browser with WebGL"
    view.triangle_budget = view.n_triangles - 1
    assert view.active_mode == "server"
    assert "rendered on the server" in view.status


def test_no_webgl_switches_to_the_image(view):
    layout = view.panel()
    view.webgl = False
    assert view.active_mode == "image"
    assert "no WebGL" in view.status
    shown = [p for p in layout.select(pn.pane.PNG) if p.visible]
    assert len(shown) == 1 and shown[0].object.startswith(b"\x89PNG")
    view.mode = "browser"  # an explicit mode wins
    assert view.active_mode == "browser"


def test_hiding_the_network_removes_its_triangles(view):
    with_network = view.n_triangles
    view.show_network = False
    surfaces_only = scene3d.estimate_triangles(box_volume())
    assert view.n_triangles == surfaces_only < with_network
    view.opacity = 0.25
    assert view.scene.actors["surfaces"].prop.opacity == 0.25


def test_panel_builds_bokeh_models_in_each_mode(view, workspace):
    layout = view.panel()
    root = layout.get_root(Document(), Comm())
    # Until the browser reports WebGL, auto mode shows no VTK pane: without
    # WebGL a VTK pane blanks the whole page.
    assert not [m for m in root.references() if type(m).__name__ == "VTKSynchronizedPlot"]
    view.webgl = True
    vtk = [m for m in root.references() if type(m).__name__ == "VTKSynchronizedPlot"]
    assert len(vtk) == 1 and vtk[0].visible and vtk[0].arrays
    workspace.select(7)  # synchronises the pane
    view.mode = "server"
    url = view.remote_url
    assert url.startswith("http://127.0.0.1:")
    html = [m for m in root.references() if isinstance(m, PanelHTML) and url in m.text]
    assert html and html[0].visible


def test_frog_surfaces_go_to_the_server_above_the_budget():
    from engine.datasets import frog_network_inputs

    nodes, _, spacing = frog_network_inputs()
    ws = Workspace()
    ws.set_volumes(labels={"nodes": nodes}, spacing=spacing)
    view = View3D(ws)
    try:
        assert view.n_triangles == scene3d.estimate_triangles(nodes) > view.triangle_budget
        assert view.active_mode == "server"
        assert view.status.startswith(f"{view.n_triangles / 1e6:.1f}M triangles: rendered on the server")
        view.max_triangles = 400_000
        assert view.scene.step == 2 and view.n_triangles <= 400_000
        assert view.active_mode == "browser" and "1-in-2" in view.status
    finally:
        view.close()


# ---- in a browser ----------------------------------------------------------


def wait_for_change(read, before, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        now = read()
        if now != before:
            return now
        time.sleep(0.1)
    raise AssertionError("nothing changed")


def wait_until_drawn(element, timeout=10.0):
    """Wait until an element shows a picture: many colours, not a flat fill."""
    end = time.time() + timeout
    while True:
        pixels = np.asarray(Image.open(io.BytesIO(element.screenshot())).convert("RGB"))
        if pixels.std() > 5 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20:
            return
        assert time.time() < end, "the element stayed blank"
        time.sleep(0.2)


@pytest.mark.slow
def test_server_mode_streams_an_interactive_rendering(view, workspace, chromium):  # noqa: F811
    view.mode = "server"
    view.panel().get_root(Document(), Comm())
    page = chromium.new_page(viewport={"width": 400, "height": 300})
    watch = PageWatch(page)
    page.goto(view.remote_url)
    page.wait_for_selector("img", timeout=20_000)
    frame = page.locator("img").first

    def rendering():
        return frame.get_attribute("src")

    wait_for_change(rendering, None)
    wait_until_drawn(frame)
    first = rendering()
    page.mouse.move(200, 150)
    page.mouse.down()
    page.mouse.move(260, 190, steps=5)
    page.mouse.up()
    rotated = wait_for_change(rendering, first)
    workspace.select(3)  # re-rendered on the server and pushed
    wait_for_change(rendering, rotated)
    watch.check()
    page.close()


@pytest.mark.slow
def test_webgl_probe_reports_the_browser_and_picks_the_image(workspace, chromium):  # noqa: F811
    views = []  # one view per session, as in an app

    def app():
        pn.extension("vtk")
        views.append(View3D(workspace, smoothing=False, width=400, height=300))
        return views[-1].panel()

    port = free_port()
    server = pn.serve({"view": app}, port=port, address="127.0.0.1", threaded=True,
                      show=False, websocket_origin=[f"127.0.0.1:{port}"])
    try:
        no_webgl = chromium.browser_type.launch(executable_path=CHROMIUM,
                                                args=[*CHROMIUM_ARGS, "--disable-3d-apis"])
        for browser, expected, shown in ((chromium, True, "canvas"), (no_webgl, False, "img")):
            page = browser.new_page()
            watch = PageWatch(page)
            page.goto(f"http://127.0.0.1:{port}/view")
            page.wait_for_selector(shown, timeout=20_000)
            wait_until_drawn(page.locator(shown).first)
            assert views[-1].webgl is expected
            assert views[-1].active_mode == ("browser" if expected else "image")
            watch.check()
            page.close()
        no_webgl.close()
    finally:
        server.stop()
        for view in views:
            view.close()


@pytest.mark.slow
def test_show_in_notebook_serves_the_scene_from_the_kernel(chromium):  # noqa: F811
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    setup = (
        "import numpy as np\n"
        "from app.workspace import Workspace\n"
        "from app.view3d import View3D\n"
        "labels = np.zeros((11, 16, 20), np.uint16); labels[2:4, 3:7, 4:9] = 3\n"
        "ws = Workspace(); ws.set_volumes(labels={'nodes': labels}, spacing=(2.0, 0.5, 1.0))\n"
        "view = View3D(ws, width=400, height=300)"
    )
    code = [
        setup,
        "widget = view.show_in_notebook(mode='server'); print(widget.value)",
        "ws.select(3)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in code])
    root = Path(__file__).resolve().parents[2]
    client = nbclient.NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(root)}})
    with client.setup_kernel():
        client.execute_cell(notebook.cells[0], 0)
        client.execute_cell(notebook.cells[1], 1)
        printed = "".join(out.get("text", "") for out in notebook.cells[1].outputs)  # stderr too
        url = re.search(r'<iframe src="([^"]+)"', printed).group(1)
        page = chromium.new_page(viewport={"width": 400, "height": 300})
        page.goto(url)
        frame = page.locator("img").first
        frame.wait_for(timeout=20_000)
        wait_until_drawn(frame)
        before = wait_for_change(lambda: frame.get_attribute("src"), None)
        client.execute_cell(notebook.cells[2], 2)  # the selection reaches the notebook's view
        wait_for_change(lambda: frame.get_attribute("src"), before)
        page.close()


def test_probe_is_a_plain_js_component():
    probe = WebGLProbe()
    assert probe.webgl is None and "getContext" in probe._esm
