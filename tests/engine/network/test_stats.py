"""Network statistics against hand-derived answers."""

import math
import warnings

import networkx as nx
import numpy as np
import pytest

from engine._errors import InvalidInputError
from engine.network._stats import (
    degree_distribution,
    network_statistics,
    node_centralities,
)

KEYS = {
    "n_nodes", "n_edges", "density", "n_components", "largest_component_size",
    "mean_degree", "max_degree", "mean_betweenness", "mean_closeness",
    "mean_eigenvector", "average_clustering", "transitivity", "diameter",
    "average_shortest_path_length", "degree_assortativity", "n_triangles",
}
COUNTS = {"n_nodes", "n_edges", "n_components", "largest_component_size",
          "max_degree", "n_triangles"}


def two_triangles():
    return nx.Graph([(1, 2), (2, 3), (1, 3), (10, 11), (11, 12), (10, 12)])


def check(stats, expected):
    assert set(stats) == KEYS
    for key, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(stats[key]), key
        else:
            assert stats[key] == pytest.approx(value, abs=1e-5), key


def test_path_of_five():
    # 0-1-2-3-4. Betweenness (pairs through v / 6): 0, 3/6, 4/6, 3/6, 0.
    # Closeness 4 / sum of distances: 4/10, 4/7, 4/6, 4/7, 4/10.
    # Eigenvector: sin(j pi / 6) / sqrt(3), j = 1..5.
    # Distances: four 1s, three 2s, two 3s, one 4 -> 20 / 10 pairs.
    # Assortativity: edge-end degrees (1,2),(2,2),(2,2),(2,1) -> -1/3.
    stats = network_statistics(nx.path_graph(5))
    check(stats, {
        "n_nodes": 5, "n_edges": 4, "density": 0.4, "n_components": 1,
        "largest_component_size": 5, "mean_degree": 1.6, "max_degree": 2,
        "mean_betweenness": (0.5 + 2 / 3 + 0.5) / 5,
        "mean_closeness": (0.4 + 4 / 7 + 2 / 3 + 4 / 7 + 0.4) / 5,
        "mean_eigenvector": (2 + math.sqrt(3)) / (5 * math.sqrt(3)),
        "average_clustering": 0.0, "transitivity": 0.0, "diameter": 4,
        "average_shortest_path_length": 2.0, "degree_assortativity": -1 / 3,
        "n_triangles": 0,
    })


def test_star():
    # Centre 0 and 4 leaves: every leaf pair goes through the centre.
    # Eigenvector: centre 1/sqrt(2), leaves 1/sqrt(8).
    stats = network_statistics(nx.star_graph(4))
    check(stats, {
        "density": 0.4, "mean_degree": 1.6, "max_degree": 4,
        "mean_betweenness": 1 / 5, "mean_closeness": (1 + 4 * 4 / 7) / 5,
        "mean_eigenvector": (1 / math.sqrt(2) + 4 / math.sqrt(8)) / 5,
        "average_clustering": 0.0, "transitivity": 0.0, "diameter": 2,
        "average_shortest_path_length": (4 * 1 + 6 * 2) / 10,
        "degree_assortativity": -1.0, "n_triangles": 0,
    })
    table = node_centralities(nx.star_graph(4))
    assert table.loc[0, "betweenness"] == 1.0
    assert table.loc[0, "closeness"] == 1.0
    assert table.loc[0, "eigenvector"] == pytest.approx(1 / math.sqrt(2), abs=1e-5)
    assert (table.loc[1:, "betweenness"] == 0).all()


def test_complete_k5():
    stats = network_statistics(nx.complete_graph(5))
    check(stats, {
        "n_edges": 10, "density": 1.0, "mean_degree": 4.0, "max_degree": 4,
        "mean_betweenness": 0.0, "mean_closeness": 1.0,
        "mean_eigenvector": 1 / math.sqrt(5), "average_clustering": 1.0,
        "transitivity": 1.0, "diameter": 1, "average_shortest_path_length": 1.0,
        "degree_assortativity": float("nan"), "n_triangles": 10,
    })


def test_cycle_of_six():
    # Node 0 lies on the path 1-0-5 and on half of the paths 1..4 and 2..5.
    stats = network_statistics(nx.cycle_graph(6))
    check(stats, {
        "density": 6 / 15, "mean_degree": 2.0, "mean_betweenness": 2 / 10,
        "mean_closeness": 5 / 9, "mean_eigenvector": 1 / math.sqrt(6),
        "average_clustering": 0.0, "transitivity": 0.0, "diameter": 3,
        "average_shortest_path_length": 9 / 5,
        "degree_assortativity": float("nan"), "n_triangles": 0,
    })


def test_two_disconnected_triangles():
    # Closeness is scaled by the reachable fraction (3 - 1) / (6 - 1);
    # eigenvector is per component: 1/sqrt(3) everywhere.
    stats = network_statistics(two_triangles())
    check(stats, {
        "n_nodes": 6, "n_edges": 6, "density": 0.4, "n_components": 2,
        "largest_component_size": 3, "mean_betweenness": 0.0,
        "mean_closeness": 0.4, "mean_eigenvector": 1 / math.sqrt(3),
        "average_clustering": 1.0, "transitivity": 1.0, "diameter": 1,
        "average_shortest_path_length": 1.0, "n_triangles": 2,
        "degree_assortativity": float("nan"),
    })


def test_diameter_of_largest_component_only():
    graph = nx.path_graph(3)  # diameter 2
    nx.add_path(graph, [10, 11, 12, 13, 14, 15])  # diameter 5, larger
    stats = network_statistics(graph)
    assert stats["diameter"] == 5
    assert stats["largest_component_size"] == 6
    assert stats["average_shortest_path_length"] == pytest.approx(35 / 15)


def test_empty_graph():
    stats = network_statistics(nx.Graph())
    for key in KEYS:
        if key in COUNTS:
            assert stats[key] == 0 and isinstance(stats[key], int), key
        else:
            assert math.isnan(stats[key]), key
    assert node_centralities(nx.Graph()).empty
    assert list(node_centralities(nx.Graph()).columns) == [
        "degree", "betweenness", "closeness", "eigenvector", "clustering", "triangles"
    ]
    assert degree_distribution(nx.Graph()).empty


def test_single_node():
    graph = nx.Graph()
    graph.add_node(2**40 + 3)
    check(network_statistics(graph), {
        "n_nodes": 1, "n_edges": 0, "density": float("nan"), "n_components": 1,
        "largest_component_size": 1, "mean_degree": 0.0, "max_degree": 0,
        "mean_betweenness": 0.0, "mean_closeness": 0.0, "mean_eigenvector": 0.0,
        "average_clustering": 0.0, "transitivity": 0.0, "diameter": 0,
        "average_shortest_path_length": 0.0,
        "degree_assortativity": float("nan"), "n_triangles": 0,
    })


def test_values_are_plain_python_and_no_warnings():
    for graph in (nx.complete_graph(4), nx.cycle_graph(5), nx.Graph([(1, 2)])):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            stats = network_statistics(graph)
        for key, value in stats.items():
            assert type(value) in (int, float), key


def test_isolated_node_has_zero_eigenvector():
    graph = nx.path_graph(3)
    graph.add_node(7)
    table = node_centralities(graph)
    assert table.loc[7, "eigenvector"] == 0.0
    norm = table.loc[[0, 1, 2], "eigenvector"].pow(2).sum()
    assert norm == pytest.approx(1, abs=1e-5)


def test_eigenvector_falls_back_when_power_iteration_fails(monkeypatch):
    graph = nx.karate_club_graph()
    expected = nx.eigenvector_centrality_numpy(graph)

    def fail(*args, **kwargs):
        raise nx.PowerIterationFailedConvergence(1000)

    monkeypatch.setattr(nx, "eigenvector_centrality", fail)
    table = node_centralities(graph)
    for node, value in expected.items():
        assert table.loc[node, "eigenvector"] == pytest.approx(value, abs=1e-8)


def test_node_centralities_table():
    graph = nx.Graph([(30, 10), (10, 20), (20, 30), (30, 40)])
    table = node_centralities(graph)
    assert table.index.name == "label"
    assert table.index.tolist() == [10, 20, 30, 40]
    assert table["degree"].tolist() == [2, 2, 3, 1]
    assert table["triangles"].tolist() == [1, 1, 1, 0]
    assert table["clustering"].tolist() == pytest.approx([1, 1, 1 / 3, 0])
    assert table["degree"].dtype == np.int64
    # Node 30 is on every path from 40: 2 of the 3 other pairs -> 2/3.
    assert table.loc[30, "betweenness"] == pytest.approx(2 / 3)


def test_weights_do_not_change_topological_measures():
    plain = nx.path_graph(4)
    weighted = nx.path_graph(4)
    nx.set_edge_attributes(weighted, {(0, 1): 9, (1, 2): 1, (2, 3): 5}, "weight")
    assert node_centralities(plain).equals(node_centralities(weighted))


def test_degree_distribution():
    table = degree_distribution(nx.star_graph(4))
    assert table.columns.tolist() == ["degree", "count"]
    assert table.values.tolist() == [[1, 4], [4, 1]]
    table = degree_distribution(two_triangles())
    assert table.values.tolist() == [[2, 6]]


@pytest.mark.parametrize("bad", [nx.DiGraph([(1, 2)]), nx.MultiGraph([(1, 2)]), [1, 2]])
def test_rejects_non_graphs(bad):
    with pytest.raises(InvalidInputError, match="undirected networkx.Graph"):
        network_statistics(bad)


def test_betweenness_samples():
    graph = nx.karate_club_graph()
    exact = node_centralities(graph)["betweenness"]
    first = node_centralities(graph, betweenness_samples=10)["betweenness"]
    again = node_centralities(graph, betweenness_samples=10)["betweenness"]
    assert first.equals(again)
    assert not first.equals(exact)
    assert abs(first.mean() - exact.mean()) < 0.05
    whole = node_centralities(graph, betweenness_samples=1000)["betweenness"]
    assert whole.equals(exact)
    stats = network_statistics(graph, betweenness_samples=10)
    assert stats["mean_betweenness"] == pytest.approx(first.mean())


@pytest.mark.parametrize("bad", [0, 2.5, True])
def test_bad_betweenness_samples(bad):
    with pytest.raises(InvalidInputError, match="betweenness_samples"):
        node_centralities(nx.path_graph(3), betweenness_samples=bad)
