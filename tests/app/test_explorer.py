"""The network explorer's view-model: loading, building, exporting, errors."""

import numpy as np
import pandas as pd
import pytest
from phantoms import make_phantom

from app.explorer import NetworkExplorer, demo_inputs
from engine import InvalidInputError, io, network


@pytest.fixture
def phantom_tifs(tmp_path):
    phantom = make_phantom((40, 56, 56), 10, spacing=(2.0, 1.0, 1.0), seed=5)
    nodes, edges = tmp_path / "nodes.tif", tmp_path / "edges.tif"
    io.write_tif(nodes, phantom.nodes, spacing=phantom.spacing)
    io.write_tif(edges, phantom.edges, spacing=phantom.spacing)
    return phantom, nodes, edges


def _pairs(net):
    return {tuple(sorted(map(int, p))) for p in net.edges[["node_a", "node_b"]].to_numpy()}


def test_demo_opens_on_the_frog_network():
    explorer = NetworkExplorer()
    explorer.load_demo()
    ws = explorer.workspace
    nodes, edges, spacing, names = demo_inputs()
    assert ws.spacing == spacing == (1.5, 1.0, 1.0)
    assert ws.labels["nodes"] is nodes
    assert set(ws.labels) == {"nodes", "edges", "communities"}
    table = ws.node_table.set_index("label")
    assert table.loc[6, "name"] == "heart"
    # The same network as the engine's own call on the same inputs.
    direct = network.connect(nodes, edges, search=3.0, spacing=spacing)
    assert _pairs(ws.network) == _pairs(direct)
    graph = direct.graph
    assert table.loc[6, "degree"] == graph.degree(6) > 0
    assert explorer.spacing_text == "1.5, 1, 1"


def test_build_from_paths_finds_the_true_network(phantom_tifs):
    phantom, nodes, edges = phantom_tifs
    explorer = NetworkExplorer(nodes_path=str(nodes), edges_path=str(edges))
    explorer.load_paths()
    explorer.runner.wait(30)
    assert explorer.runner.error == ""
    ws = explorer.workspace
    assert ws.spacing == (2.0, 1.0, 1.0)  # from the tif's own metadata
    np.testing.assert_array_equal(ws.labels["nodes"], phantom.nodes)
    explorer.search = phantom.search
    explorer.build()
    explorer.runner.wait(60)
    assert explorer.runner.error == ""
    assert _pairs(ws.network) == phantom.true_edges
    assert "linked pairs" in explorer.message


def test_uploads_and_typed_spacing(phantom_tifs):
    phantom, nodes, edges = phantom_tifs
    explorer = NetworkExplorer(spacing_text="4, 1, 1")
    explorer.load_uploads(nodes.read_bytes(), edges.read_bytes(), names=("n.tif", "e.tif", ""))
    explorer.runner.wait(30)
    assert explorer.runner.error == ""
    assert explorer.workspace.spacing == (4.0, 1.0, 1.0)
    assert explorer.workspace.title == "n.tif"


def test_proximity_methods(phantom_tifs):
    phantom, nodes, _ = phantom_tifs
    explorer = NetworkExplorer(nodes_path=str(nodes))
    explorer.load_paths()
    explorer.runner.wait(30)
    explorer.method = "proximity (centroids)"
    explorer.build()
    assert explorer.runner.error == "set a radius or k (nearest neighbours) for proximity"
    explorer.k = 2
    explorer.build()
    explorer.runner.wait(30)
    degrees = dict(explorer.workspace.network.graph.degree())
    assert min(degrees.values()) >= 2
    explorer.method, explorer.radius = "proximity (surfaces)", 3.0
    explorer.build()
    explorer.runner.wait(30)
    assert explorer.workspace.network.method == "surface"


def test_bad_inputs_are_named(tmp_path, phantom_tifs):
    _, nodes, _ = phantom_tifs
    explorer = NetworkExplorer(nodes_path=str(tmp_path / "missing.tif"))
    explorer.load_paths()
    explorer.runner.wait(10)
    assert "missing.tif" in explorer.runner.error
    explorer.spacing_text = "1, 2"
    with pytest.raises(InvalidInputError, match="three positive numbers"):
        explorer.parsed_spacing()
    small = tmp_path / "small.tif"
    io.write_tif(small, np.ones((3, 4, 5), np.uint8))
    explorer = NetworkExplorer(nodes_path=str(nodes), edges_path=str(small))
    explorer.load_paths()
    explorer.runner.wait(10)
    assert "small.tif has shape (3, 4, 5)" in explorer.runner.error
    explorer = NetworkExplorer(nodes_path=str(nodes))
    explorer.load_paths()
    explorer.runner.wait(10)
    explorer.build()
    assert "needs an edges tif" in explorer.runner.error


def test_export_writes_the_tables(tmp_path):
    explorer = NetworkExplorer()
    with pytest.raises(InvalidInputError, match="build a network"):
        explorer.export(tmp_path)
    explorer.load_demo()
    out = explorer.export(tmp_path / "out")
    edges = pd.read_csv(out / "edges.csv")
    assert _pairs(explorer.workspace.network) == {
        tuple(sorted(p)) for p in edges[["node_a", "node_b"]].to_numpy().tolist()}
    assert (out / "network.xlsx").exists() and (out / "network.graphml").exists()
