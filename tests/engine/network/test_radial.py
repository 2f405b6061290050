"""Edge lengths and their histogram, on hand-placed centroids."""

import math

import networkx as nx
import pytest

from engine._errors import InvalidInputError
from engine.network._radial import edge_lengths, radial_distribution

BIG = 2**40


def star_graph():
    """Centre at the origin; leaves at lengths 1, 2, 2.5 and 5."""
    graph = nx.Graph()
    graph.add_node(BIG + 1, z=0.0, y=0.0, x=0.0)
    places = {2: (1, 0, 0), 3: (0, 2, 0), 4: (0, 1.5, 2), 5: (0, 3, 4)}
    for label, (z, y, x) in places.items():
        graph.add_node(label, z=z, y=y, x=x, volume=1)
        graph.add_edge(BIG + 1, label, weight=1, length=-1.0)  # stale length
    return graph


def test_edge_lengths_from_centroids():
    table = edge_lengths(star_graph())
    assert table.columns.tolist() == ["node_a", "node_b", "length"]
    assert table["node_a"].tolist() == [2, 3, 4, 5]
    assert table["node_b"].tolist() == [BIG + 1] * 4
    assert table["length"].tolist() == pytest.approx([1, 2, 2.5, 5])


def test_histogram_counts():
    # [0, 2): 1;  [2, 4): 2 and 2.5;  [4, 6): 5.
    table = radial_distribution(star_graph(), bin_width=2)
    assert table.columns.tolist() == ["bin_start", "bin_end", "count"]
    assert table["bin_start"].tolist() == [0, 2, 4]
    assert table["bin_end"].tolist() == [2, 4, 6]
    assert table["count"].tolist() == [1, 2, 1]


def test_histogram_keeps_empty_bins():
    table = radial_distribution(star_graph(), bin_width=1)
    assert table["count"].tolist() == [0, 1, 2, 0, 0, 1]


def test_max_distance_drops_longer_edges():
    table = radial_distribution(star_graph(), bin_width=2, max_distance=3)
    assert table["count"].tolist() == [1, 2]
    table = radial_distribution(star_graph(), bin_width=2, max_distance=10)
    assert table["count"].tolist() == [1, 2, 1, 0, 0, 0]
    assert table["bin_end"].iloc[-1] == 12


def test_bin_edges_are_robust_to_rounding():
    graph = nx.Graph()
    graph.add_node(1, z=0, y=0, x=0)
    graph.add_node(2, z=0, y=0, x=0.6)
    graph.add_edge(1, 2)
    assert radial_distribution(graph, bin_width=0.2)["count"].tolist() == [0, 0, 0, 1]


def test_graph_without_edges():
    graph = nx.Graph()
    graph.add_node(1, z=0, y=0, x=0)
    assert edge_lengths(graph).empty
    assert radial_distribution(graph, bin_width=1).empty
    table = radial_distribution(graph, bin_width=1, max_distance=2)
    assert table["count"].tolist() == [0, 0, 0]


@pytest.mark.parametrize("bad", [0, -1, math.nan, "wide"])
def test_bad_bin_width(bad):
    with pytest.raises(InvalidInputError, match="bin_width"):
        radial_distribution(star_graph(), bin_width=bad)


def test_bad_max_distance():
    with pytest.raises(InvalidInputError, match="max_distance"):
        radial_distribution(star_graph(), bin_width=1, max_distance=-2)


def test_missing_centroid():
    graph = nx.Graph([(1, 2)])
    with pytest.raises(InvalidInputError, match="centroid"):
        edge_lengths(graph)
