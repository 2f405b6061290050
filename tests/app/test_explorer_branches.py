"""Branches in the network explorer: branch labels, skeleton in 3D, branchpoint network.

Known answers come from a Y of three tubes drawn with numpy in a volume
whose z voxels are twice as long as the others: three branches meeting at
one junction at the Y's centre, each as long as its arm (plus at most the
tube's radius, where the skeleton runs into the rounded tip).
"""

from io import BytesIO

import holoviews as hv
import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import HoverTool
from panel.models.tabulator import DataTabulator
from PIL import Image
from pyviz_comms import Comm

from app import scene3d
from app.branch_view import BranchNetworkView
from app.explorer import NetworkExplorer, demo_inputs
from app.palette import label_color, label_rgb
from app.slice_browser import SliceBrowser
from app.tables import BranchTableView
from app.view3d import View3D
from app.workspace import Workspace
from engine import InvalidInputError, io
from engine.skeleton import Branches, label_branches, skeletonize

SPACING = (2.0, 1.0, 1.0)
SHAPE = (16, 48, 48)
CENTRE = np.array([16.0, 24.0, 24.0])  # physical (z, y, x)
TIPS = np.array([[16.0, 4.0, 24.0], [16.0, 40.0, 8.0], [16.0, 40.0, 40.0]])
RADIUS = 2.5


def y_mask():
    """Three tubes of radius 2.5 from the centre to the tips (physical units)."""
    points = np.stack(np.indices(SHAPE), axis=-1) * np.asarray(SPACING)
    mask = np.zeros(SHAPE, bool)
    for tip in TIPS:
        d = tip - CENTRE
        t = np.clip((points - CENTRE) @ d / (d @ d), 0, 1)
        mask |= np.linalg.norm(points - (CENTRE + t[..., None] * d), axis=-1) <= RADIUS
    return mask


@pytest.fixture(scope="module")
def y_explorer(tmp_path_factory):
    """The explorer after loading the Y (as edges, from tifs) and measuring its branches."""
    folder = tmp_path_factory.mktemp("y")
    mask = y_mask()
    nodes = np.zeros(SHAPE, np.uint8)
    nodes[:3, :3, :3] = 1  # a node far from the Y: the explorer needs node labels
    io.write_tif(folder / "nodes.tif", nodes, spacing=SPACING)
    io.write_tif(folder / "edges.tif", mask.astype(np.uint8), spacing=SPACING)
    explorer = NetworkExplorer(nodes_path=str(folder / "nodes.tif"),
                               edges_path=str(folder / "edges.tif"))
    explorer.load_paths()
    explorer.runner.wait(30)
    assert explorer.runner.error == ""
    browser = SliceBrowser(workspace=explorer.workspace, axis="z", display_size=64)
    explorer.branches.link(browser)
    assert browser.overlay == "nodes"
    explorer.branches.analyze()
    explorer.runner.wait(60)
    assert explorer.runner.error == "", explorer.runner.error
    explorer.browser = browser
    return explorer


def test_the_y_has_three_branches_meeting_at_one_junction(y_explorer):
    branches = y_explorer.workspace.branches
    table, nodes = branches.table, branches.nodes
    assert len(table) == 3 and (table["kind"] == "junction-end").all()
    assert list(nodes["kind"]).count("junction") == 1 and list(nodes["kind"]).count("end") == 3
    junction = nodes.loc[nodes["kind"] == "junction", ["z", "y", "x"]].to_numpy()[0]
    assert np.linalg.norm(junction - CENTRE) < 1.0
    # Each branch runs from the centre to the tip of its arm.
    for row in table.itertuples():
        end = nodes.loc[nodes["node"] == (row.node_b if row.node_a == 1 else row.node_a),
                        ["z", "y", "x"]].to_numpy()[0]
        arm = np.linalg.norm(TIPS - CENTRE, axis=1)[np.argmin(np.linalg.norm(TIPS - end, axis=1))]
        assert arm <= row.length <= arm + RADIUS
        assert abs(row.mean_radius - RADIUS) < 1.0
    assert "3 branches, 1 junction," in y_explorer.branches.message


def test_branch_labels_cover_exactly_the_mask(y_explorer):
    ws = y_explorer.workspace
    labels = ws.labels["branches"]
    assert labels.shape == SHAPE
    np.testing.assert_array_equal(labels > 0, y_mask())
    ids = np.unique(labels[labels > 0])
    assert len(ids) == len(ws.branches.table)
    np.testing.assert_array_equal(ids, ws.branches.table["branch_id"])
    # Each tip lies in the branch that ends there.
    for tip in TIPS:
        voxel = ws.voxel_of(tip - np.sign(tip - CENTRE) * RADIUS)
        tip_id = labels[voxel]
        row = ws.branches.table.set_index("branch_id").loc[tip_id]
        end = ws.branches.nodes.set_index("node").loc[[row.node_a, row.node_b]]
        assert (np.linalg.norm(end[["z", "y", "x"]].to_numpy() - tip, axis=1) < 2 * RADIUS).any()


def test_slices_switch_to_branch_labels_with_branch_colours_and_hover(y_explorer):
    ws, browser, analysis = y_explorer.workspace, y_explorer.browser, y_explorer.branches
    assert analysis.overlay == "branch labels" and browser.overlay == "branches"
    browser.index = 8  # the plane of the Y
    frame = browser.frame()
    labels = ws.labels["branches"][8]
    palette = np.asarray(frame["palette"], dtype=object)
    for branch_id in ws.branches.table["branch_id"]:
        assert set(palette[frame["code"][labels == branch_id]]) == {label_color(branch_id)}
    texts = browser.hover_texts("branches")
    row = ws.branches.table.iloc[1]
    assert texts[2] == (f"branch 2, length {row['length']:.4g}, tortuosity "
                        f"{row['tortuosity']:.3g}, mean radius {row['mean_radius']:.3g}")
    analysis.overlay = "object labels"
    assert browser.overlay == "nodes"
    analysis.overlay = "branch labels"
    assert browser.overlay == "branches"


def test_3d_view_draws_one_line_per_branch_along_its_centreline(y_explorer):
    ws = y_explorer.workspace
    branches = ws.branches
    view = View3D(ws, smoothing=False, width=300, height=200)
    try:
        scene = view.scene
        lines = scene.skeleton_lines
        assert lines.n_cells == len(branches.table) == 3
        np.testing.assert_array_equal(lines.cell_data["branch"], branches.table["branch_id"])
        for k, centreline in enumerate(branches.centrelines):
            cell = lines.get_cell(k)
            assert cell.n_points == len(centreline)
            np.testing.assert_allclose(cell.points, centreline[:, ::-1])
        # Tubes: every branch, coloured as its labels are in the slices.
        assert set(scene.skeleton_branches.tolist()) == {1, 2, 3}
        np.testing.assert_array_equal(scene.skeleton.cell_data["rgb"],
                                      label_rgb(scene.skeleton_branches.astype(np.uint64)))
        assert "skeleton" in scene.actors
        # Colour by radius: only the colours change, and the picture with them.
        layout = view.panel()
        view.webgl = False  # the image mode: a PNG rendered here

        def picture():
            png = next(p for p in layout.select(pn.pane.PNG) if p.visible).object
            return np.asarray(Image.open(BytesIO(png)).convert("RGB")).astype(int)

        by_branch = picture()
        view.skeleton_color = "radius"
        assert view.scene is scene
        expected = scene3d.skeleton_rgb(scene.skeleton_branches, scene.skeleton_radii, "radius")
        np.testing.assert_array_equal(scene.skeleton.cell_data["rgb"], expected)
        assert np.abs(picture() - by_branch).sum(axis=2).astype(bool).sum() > 500
        with_skeleton = view.n_triangles
        view.show_skeleton = False
        assert with_skeleton - view.n_triangles == scene.skeleton.n_cells > 0
    finally:
        view.close()


def test_network_view_draws_the_branchpoint_network(y_explorer):
    ws = y_explorer.workspace
    expected = ws.branches.branchpoint_network()
    view = BranchNetworkView(ws)
    element = view.graph_element()
    nodes = element.nodes.dframe()
    assert sorted(nodes["node_id"]) == sorted(expected.nodes)
    for row in nodes.itertuples():  # at their physical positions, projected on x, y
        data = expected.nodes[row.node_id]
        assert (row.plot_x, row.plot_y) == (data["x"], data["y"])
    edges = element.dframe()
    node_id = dict(zip(nodes["node"], nodes["node_id"]))
    drawn = {(*sorted((node_id[a], node_id[b])), k)
             for a, b, k in edges[["source", "target", "branch_id"]].to_numpy()}
    assert drawn == {(*sorted((a, b)), k) for a, b, k in expected.edges(keys=True)}
    # Hovering a branch shows its measures.
    table = ws.branches.table.set_index("branch_id")
    for column in ("length", "tortuosity", "mean_radius"):
        np.testing.assert_allclose(edges.set_index("branch_id")[column], table[column])
    plot = hv.render(view.plot(), backend="bokeh")
    tips = {name: field for tool in plot.select(type=HoverTool) for name, field in tool.tooltips}
    assert tips["length"].startswith("@{length}") and tips["branch"] == "@{branch_id}"
    assert tips["tortuosity"].startswith("@{tortuosity}")
    assert tips["mean radius"].startswith("@{mean_radius}")
    assert tips["node"] == "@{node_id}"
    # Tapping the junction moves the slices to it.
    junction = int(nodes.loc[nodes["kind"] == "junction", "node"].iloc[0])
    view.tap([junction])
    assert ws.cursor == ws.voxel_of(CENTRE)


def test_branch_table_rows_move_the_cursor_to_their_branch(y_explorer):
    ws = y_explorer.workspace
    tables = BranchTableView(ws)
    assert tables.branch_frame().equals(ws.branches.table)
    for row, branch_id in enumerate(ws.branches.table["branch_id"]):
        tables.branch_selection = [row]
        assert ws.labels["branches"][ws.cursor] == branch_id

    # Tables made before there are branches get the columns' types right.
    fresh = Workspace()
    fresh.set_volumes(labels={"nodes": ws.labels["nodes"]}, spacing=ws.spacing)
    root = BranchTableView(fresh).panel().get_root(Document(), Comm())
    fresh.set_branches(ws.branches, ws.labels["branches"])
    branch_table = next(m for m in root.select({"type": DataTabulator})
                        if "tortuosity" in [c.field for c in m.columns])
    formatters = {c.field: type(c.formatter).__name__ for c in branch_table.columns}
    assert formatters["kind"] == "StringFormatter"
    assert formatters["length"] == formatters["branch_id"] == "NumberFormatter"
    assert list(branch_table.source.data["kind"]) == list(ws.branches.table["kind"])


def test_new_volumes_drop_the_branches_and_the_toggle(tmp_path):
    explorer = NetworkExplorer()
    with pytest.raises(InvalidInputError, match="load an edges tif"):
        explorer.branches.analyze()
    explorer.load_demo(build=False)
    ws = explorer.workspace
    tube = np.zeros(ws.shape, bool)
    tube[60:64, 200:204, 100:300] = True
    branches = Branches(skeletonize(tube, ws.spacing))
    ws.set_branches(branches, label_branches(tube, branches))
    explorer.branches.overlay = "branch labels"
    explorer.load_demo(build=False)
    assert ws.branches is None and "branches" not in ws.labels
    assert explorer.branches.overlay == "object labels"


def test_cancel_leaves_no_branches():
    explorer = NetworkExplorer()
    explorer.load_demo(build=False)
    explorer.branches.analyze()
    explorer.runner.cancel()
    explorer.runner.wait(60)
    assert explorer.runner.status == "measuring the branches: cancelled"
    assert explorer.workspace.branches is None


@pytest.mark.slow
def test_frog_vessels_and_nerves():
    explorer = NetworkExplorer()
    explorer.load_demo(build=False)
    explorer.branches.analyze()
    explorer.runner.wait(120)
    assert explorer.runner.error == ""
    ws = explorer.workspace
    branches = ws.branches
    _, edges, spacing, _ = demo_inputs()
    labels = ws.labels["branches"]
    np.testing.assert_array_equal(labels > 0, edges > 0)
    assert len(np.unique(labels[labels > 0])) == len(branches.table) > 100
    assert branches.graph.spacing == spacing
    scene = scene3d.build_scene(None, spacing, skeleton=branches)
    assert scene.skeleton_lines.n_cells == len(branches.table)
    assert [scene.skeleton_lines.get_cell(k).n_points for k in range(len(branches.table))] \
        == [len(c) for c in branches.centrelines]
    scene.plotter.close()
    expected = branches.branchpoint_network()
    element = BranchNetworkView(ws).graph_element()
    assert len(element.nodes) == expected.number_of_nodes()
    assert len(element) == expected.number_of_edges() == len(branches.table)
