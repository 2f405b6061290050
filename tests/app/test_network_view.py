"""The network view's logic and its Bokeh models, without a browser."""

import asyncio
import itertools

import holoviews as hv
import numpy as np
import pandas as pd
import pytest
from bokeh.document import Document
from pyviz_comms import Comm

from app.network_view import (
    DEGREE_PALETTE,
    NODE_SIZE_RANGE,
    PLACEHOLDER,
    SELECTED_OUTLINE,
    NetworkView,
)
from app.palette import label_color
from app.workspace import Workspace
from engine import InvalidInputError
from engine.network import Network


def _run(coroutine):
    """``asyncio.run`` in a thread of its own.

    Playwright's sync API (the browser tests) leaves an event loop running
    in the main thread, where ``asyncio.run`` refuses to start.
    """
    import threading

    outcome = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# Two triangles (1-2-3, 4-5-6) bridged by 3-4, a pendant 8 on 3, node 7 alone.
# Degrees: 1:2 2:2 3:4 4:3 5:2 6:2 7:0 8:1. Pair 1-2 is linked by two objects.
PAIRS = [(1, 2), (1, 2), (1, 3), (2, 3), (3, 4), (4, 5), (4, 6), (5, 6), (3, 8)]
DEGREE = {1: 2, 2: 2, 3: 4, 4: 3, 5: 2, 6: 2, 7: 0, 8: 1}
NAMES = {1: "heart", 2: "lung", 3: "liver", 4: "kidney", 5: "spleen", 6: "gut",
         7: "eye", 8: "brain"}


def small_network(offset=0):
    """The network above with every label shifted by ``offset``."""
    labels = np.arange(1, 9, dtype=np.uint64) + np.uint64(offset)
    rng = np.random.default_rng(3)
    nodes = pd.DataFrame({
        "label": labels,
        "z": rng.uniform(0, 20, 8), "y": rng.uniform(0, 50, 8), "x": rng.uniform(0, 80, 8),
        "voxels": np.arange(10, 90, 10), "volume": np.arange(10, 90, 10) * 2.0,
    })
    edges = pd.DataFrame({
        "node_a": np.array([a for a, _ in PAIRS], np.uint64) + np.uint64(offset),
        "node_b": np.array([b for _, b in PAIRS], np.uint64) + np.uint64(offset),
        "edge_id": np.arange(100, 100 + len(PAIRS)),
    })
    return Network(nodes=nodes, edges=edges, spacing=(2.0, 1.0, 1.0))


@pytest.fixture
def view():
    ws = Workspace(spacing=(2.0, 1.0, 1.0), names=dict(NAMES))
    ws.set_network(small_network())
    return NetworkView(workspace=ws)


def by_label(frame, column):
    return dict(zip(frame["label"].astype(int), frame[column]))


@pytest.mark.parametrize("layout, axes", [
    ("centroids xy", ["x", "y"]), ("centroids xz", ["x", "z"]), ("centroids yz", ["y", "z"]),
])
def test_projected_layouts_are_the_physical_centroids(view, layout, axes):
    view.layout = layout
    table = view.workspace.node_table
    np.testing.assert_array_equal(view.positions(), table[axes].to_numpy(float))
    frame = view.node_frame()
    np.testing.assert_array_equal(frame[["plot_x", "plot_y"]].to_numpy(), table[axes].to_numpy())


def test_force_layout_is_computed_once_per_network_and_reproducible(view):
    view.layout = "force"
    first = view.positions()
    assert first.shape == (8, 2) and np.isfinite(first).all()
    assert len(np.unique(first.round(6), axis=0)) == 8
    cached = view._force_layouts[view.workspace.network]
    assert view.positions() is not first and view._force_layouts[view.workspace.network] is cached
    # Linked nodes end up closer than the unlinked pair across the graph.
    xy = dict(zip(view.workspace.node_table["label"].astype(int), first))
    assert np.linalg.norm(xy[5] - xy[6]) < np.linalg.norm(xy[1] - xy[6])
    # A second view on an equal network draws the same picture.
    other = NetworkView(workspace=Workspace(names=dict(NAMES)), layout="force")
    other.workspace.set_network(small_network())
    np.testing.assert_allclose(other.positions(), first)
    with pytest.raises(InvalidInputError, match="layout must be one of"):
        view.positions("spiral")


def test_node_sizes_follow_the_attribute_order(view):
    frame = view.node_frame()
    size, degree = by_label(frame, "size"), by_label(frame, "degree")
    assert degree == DEGREE
    for (a, degree_a), (b, degree_b) in itertools.product(DEGREE.items(), repeat=2):
        if degree_a < degree_b:
            assert size[a] < size[b]
        elif degree_a == degree_b:
            assert size[a] == size[b]
    assert size[7] == NODE_SIZE_RANGE[0] and size[3] == NODE_SIZE_RANGE[1]
    view.size_by = "volume"            # volume grows with the label here
    sizes = view.node_frame()["size"].to_numpy()
    assert (np.diff(sizes) > 0).all()
    view.size_by = "constant"
    assert len(set(view.node_frame()["size"])) == 1


def test_community_colours_are_shared_within_and_differ_across(view):
    frame = view.node_frame()
    colour, community = by_label(frame, "color"), by_label(frame, "community")
    assert community[1] == community[2] == community[3] == community[8]
    assert community[4] == community[5] == community[6] != community[1]
    assert len({community[1], community[4], community[7]}) == 3
    for a in colour:
        for b in colour:
            assert (colour[a] == colour[b]) == (community[a] == community[b])
    # The slice view paints the communities layer with the same palette.
    assert colour[1] == label_color(community[1])


def test_identity_and_degree_colours(view):
    view.color_by = "identity"
    colours = by_label(view.node_frame(), "color")
    assert colours == {label: label_color(label) for label in DEGREE}
    view.color_by = "degree"
    colours = by_label(view.node_frame(), "color")
    assert colours[7] == DEGREE_PALETTE[0] and colours[3] == DEGREE_PALETTE[-1]
    assert colours[1] == DEGREE_PALETTE[round(0.5 * (len(DEGREE_PALETTE) - 1))]


def test_edges_connect_the_drawn_nodes_and_isolated_nodes_can_hide(view):
    nodes = view.node_frame()
    edges = view.edge_frame(nodes)
    labels = nodes["label"].astype(int).tolist()
    drawn = {(labels[s], labels[t]) for s, t in zip(edges["source"], edges["target"])}
    assert drawn == {tuple(sorted(p)) for p in PAIRS}
    weight = {(labels[s], labels[t]): w for s, t, w in zip(edges.source, edges.target, edges.weight)}
    assert weight[(1, 2)] == 2 and weight[(3, 4)] == 1
    row = edges[(edges.name_a == "heart") & (edges.name_b == "lung")].iloc[0]
    assert row.line_width == 3.0
    table = view.workspace.node_table.set_index(view.workspace.node_table["label"].astype(int))
    expected = np.linalg.norm(table.loc[1, ["z", "y", "x"]].to_numpy(float)
                              - table.loc[2, ["z", "y", "x"]].to_numpy(float))
    assert row.length == pytest.approx(expected)
    view.show_isolated = False
    assert 7 not in view.node_frame()["label"].astype(int).tolist()
    assert len(view.edge_frame()) == len(set(PAIRS))


def test_workspace_selection_is_highlighted(view):
    assert view.highlighted is None
    view.workspace.select(4)
    assert view.highlighted == 4
    frame = view.node_frame().set_index(view.node_frame()["label"].astype(int))
    assert frame.loc[4, "selected"] and frame["selected"].sum() == 1
    assert frame.loc[4, "line_width"] == SELECTED_OUTLINE[1]
    assert frame.loc[4, "size"] > frame.loc[3, "size"]      # degree 3 drawn above degree 4
    position = view.node_frame()["label"].astype(int).tolist().index(4)

    async def pushed_selection():
        return view.nodes_element().opts.get("plot").kwargs["selected"]

    # Bokeh's own selection follows, where an event loop can relay it.
    assert _run(pushed_selection()) == [position]
    view.workspace.select(7)
    view.show_isolated = False
    assert view.highlighted is None                        # selected but not drawn


def test_tapping_a_node_selects_it_in_the_workspace(view):
    positions = view.node_frame()["label"].astype(int).tolist()
    view.tap([positions.index(5)])
    assert view.workspace.selected == 5
    view.tap([])                                           # background: no change
    assert view.workspace.selected == 5
    view.plot()
    view.tap_stream.event(index=[positions.index(8)])
    assert view.workspace.selected == 8
    assert view.workspace.cursor == view.workspace.centroid_voxel(8)
    view.show_isolated = False                            # positions shift past node 7
    labels = view.node_frame()["label"].astype(int).tolist()
    view.tap([labels.index(8)])
    assert view.workspace.selected == 8


def test_bokeh_plot_is_canvas_with_hover_and_a_tap_callback(view):
    async def scenario():
        # HoloViews' Python callbacks schedule tasks: give them a loop.
        view.workspace.select(2)
        plot = hv.renderer("bokeh").get_plot(view.plot())
        graph_plot, points_plot = (plot.subplots[key] for key in plot.subplots)
        assert plot.state.output_backend == "canvas"
        source = points_plot.handles["source"]
        labels = [int(v) for v in source.data["label"]]
        assert labels == list(range(1, 9))
        assert points_plot.handles["selected"].indices == [labels.index(2)]
        assert "indices" in points_plot.handles["selected"]._callbacks
        tooltips = dict(points_plot.handles["hover"].tooltips)
        assert {"name", "degree", "community", "volume"} <= set(tooltips)
        assert graph_plot.handles["hover"].tooltips[0][0] == "between"
        hidden = graph_plot.handles["glyph_renderer"].node_renderer.glyph  # points draw nodes
        assert hidden.size == 0 and hidden.fill_alpha == 0 and hidden.line_alpha == 0
        view.workspace.select(6)                             # redraws the highlight
        await asyncio.sleep(0)
        assert points_plot.handles["selected"].indices == [labels.index(6)]
        assert points_plot.handles["source"].data["line_width"][labels.index(6)] == 3.0
        assert points_plot.handles["source"].data["line_width"][labels.index(2)] == 0.5

    _run(scenario())


def test_a_tap_in_the_bokeh_model_reaches_the_workspace(view):
    """Bokeh's node selection changing (what a tap does) selects the node."""
    import panel as pn

    async def settle():
        for _ in range(6):
            await asyncio.sleep(0.05)

    async def scenario():
        pane = pn.pane.HoloViews(view.plot(), backend="bokeh")
        root = pane.get_root(Document(), Comm())
        plot = pane._plots[root.ref["id"]][0]
        (points,) = [p for p in plot.subplots.values() if "selected" in p.handles]
        labels = [int(v) for v in points.handles["source"].data["label"]]
        selected = points.handles["selected"]
        selected.indices = [labels.index(8)]
        await settle()
        assert view.workspace.selected == 8
        view.workspace.select(6)                 # another view moves the selection
        await settle()
        assert selected.indices == [labels.index(6)]
        selected.indices = [labels.index(8)]    # tapping node 8 again still counts
        await settle()
        assert view.workspace.selected == 8

    _run(scenario())
    assert view.tap_stream.transient


def test_statistics_are_named_and_formatted(view):
    rows = dict(view.statistics_rows())
    assert rows["Nodes"] == "8"
    assert rows["Edges (linked pairs)"] == str(len(set(PAIRS)))
    assert rows["Connected components"] == "2"
    assert rows["Largest component (nodes)"] == "7"
    assert rows["Max degree"] == "4"
    assert rows["Triangles"] == "2"
    assert rows["Diameter (largest component)"] == "3"     # 1 -> 3 -> 4 -> 5
    assert float(rows["Density"]) == pytest.approx(2 * 8 / (8 * 7), abs=1e-4)
    assert "| Nodes | 8 |" in view.statistics_markdown()


def test_histograms_count_every_node(view):
    degrees, counts = view.degree_counts()
    assert degrees.tolist() == [0, 1, 2, 3, 4] and counts.tolist() == [1, 1, 4, 1, 1]
    histogram = view.degree_histogram()
    assert histogram.dimension_values("nodes").tolist() == [1, 1, 4, 1, 1]
    np.testing.assert_array_equal(histogram.edges, [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5])
    for centrality in ("betweenness", "closeness", "eigenvector"):
        view.centrality = centrality
        counts, edges = view.centrality_counts()
        assert counts.sum() == 8 and edges[0] == 0.0
        values = view.workspace.node_table[centrality]
        assert edges[-1] == pytest.approx(values.max())
        assert view.centrality_histogram().kdims[0].name == centrality


def test_panel_builds_bokeh_models_and_follows_the_network():
    ws = Workspace(names=dict(NAMES))
    view = NetworkView(workspace=ws)
    assert view.statistics_rows() == [] and view.highlighted is None
    root = view.panel().get_root(Document(), Comm())

    def texts():
        return " ".join(str(getattr(m, "text", "")) for m in root.references())

    def figures():
        return [m for m in root.references() if type(m).__name__ == "figure"]

    assert "No network yet." in texts() and not figures()
    ws.set_network(small_network())                      # the same view fills in
    assert "No network yet." not in texts() and "Connected components" in texts()
    assert len(figures()) == 3                            # graph and two histograms
    assert {f.output_backend for f in figures()} == {"canvas"}
    ws.select(3)                                          # no event loop: still fine
    assert view.highlighted == 3
    assert PLACEHOLDER.startswith("**No network yet.**")


def test_big_ids_keep_every_digit_in_the_drawing():
    ws = Workspace()
    ws.set_network(small_network(offset=2**60))
    view = NetworkView(workspace=ws)
    points = view.nodes_element()
    shown = points.dimension_values("label").tolist()
    assert shown[0] == str(2**60 + 1) and shown[-1] == str(2**60 + 8)
    view.tap([0])
    assert ws.selected == 2**60 + 1
    # 2**60 + 1 and 2**60 + 2 are the same double: exactly one node lights up.
    assert view.node_frame()["selected"].tolist() == [True] + [False] * 7
    assert view.highlighted == 2**60 + 1
