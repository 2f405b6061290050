"""Community detection: known partitions, reproducibility, id order."""

import math
import sys

import networkx as nx
import pytest

from engine._errors import InvalidInputError
from engine.network._communities import METHODS, communities, modularity

BIG = 2**40


def two_cliques(offset=0):
    """Two K5 on labels offset+1..5 and offset+11..15, bridged 5-11."""
    a = [offset + i for i in range(1, 6)]
    b = [offset + i for i in range(11, 16)]
    graph = nx.complete_graph(a)
    graph.add_edges_from(nx.complete_graph(b).edges())
    graph.add_edge(a[-1], b[0])
    return graph, set(a), set(b)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("offset", [0, BIG])
def test_finds_the_two_cliques(method, offset):
    graph, a, b = two_cliques(offset)
    assignment = communities(graph, method=method, seed=0)
    assert set(assignment) == set(graph)
    # Equal sizes: the clique holding the smallest label is community 1.
    assert {n for n, c in assignment.items() if c == 1} == a
    assert {n for n, c in assignment.items() if c == 2} == b


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_result(method):
    graph = nx.karate_club_graph()
    first = communities(graph, method=method, seed=3)
    assert communities(graph, method=method, seed=3) == first


@pytest.mark.parametrize("method", METHODS)
def test_insertion_order_does_not_matter(method):
    graph = nx.karate_club_graph()
    shuffled = nx.Graph()
    shuffled.add_nodes_from(sorted(graph, reverse=True))
    shuffled.add_edges_from(
        (b, a, data) for a, b, data in reversed(list(graph.edges(data=True)))
    )
    assert communities(shuffled, method=method, seed=1) == communities(
        graph, method=method, seed=1
    )


@pytest.mark.parametrize("method", METHODS)
def test_ids_ordered_by_size_and_isolated_nodes_alone(method):
    graph = nx.complete_graph([20, 21, 22])  # size 3
    graph.add_edges_from(nx.complete_graph([1, 2, 3, 4, 5, 6]).edges())  # size 6
    graph.add_nodes_from([99, 50])  # isolated
    assignment = communities(graph, method=method, seed=0)
    assert list(assignment) == sorted(graph)
    assert {n for n, c in assignment.items() if c == 1} == {1, 2, 3, 4, 5, 6}
    assert {n for n, c in assignment.items() if c == 2} == {20, 21, 22}
    # Singletons: ties by smallest label.
    assert assignment[50] == 3 and assignment[99] == 4


def test_weights_are_used():
    # A 4-cycle 1-2-3-4: heavy edges 1-2 and 3-4 pair those nodes.
    graph = nx.Graph()
    graph.add_edge(1, 2, weight=10)
    graph.add_edge(3, 4, weight=10)
    graph.add_edge(2, 3, weight=1)
    graph.add_edge(4, 1, weight=1)
    for method in METHODS:
        assignment = communities(graph, method=method, seed=0)
        assert assignment == {1: 1, 2: 1, 3: 2, 4: 2}, method
    graph[1][2]["weight"] = 1
    graph[3][4]["weight"] = 1
    graph[2][3]["weight"] = 10
    graph[4][1]["weight"] = 10
    assert communities(graph, seed=0) == {1: 1, 4: 1, 2: 2, 3: 2}


def test_empty_graph():
    assert communities(nx.Graph()) == {}


def test_invalid_method_lists_the_valid_ones():
    with pytest.raises(InvalidInputError) as err:
        communities(nx.path_graph(3), method="girvan")
    for name in METHODS:
        assert repr(name) in str(err.value)
    assert "'girvan'" in str(err.value)


@pytest.mark.parametrize("resolution", [0, -1, "high"])
def test_invalid_resolution(resolution):
    with pytest.raises(InvalidInputError, match="resolution"):
        communities(nx.path_graph(3), resolution=resolution)


def test_invalid_weight():
    graph = nx.Graph()
    graph.add_edge(1, 2, weight=-1)
    with pytest.raises(InvalidInputError, match="weight"):
        communities(graph)


def test_modularity_of_two_cliques():
    # m = 21; each side holds 10 edges and a degree sum of 21:
    # Q = 2 * (10/21 - (21/42)**2).
    graph, a, b = two_cliques()
    assignment = {n: (1 if n in a else 2) for n in graph}
    assert modularity(graph, assignment) == pytest.approx(2 * (10 / 21 - 0.25))
    everything = dict.fromkeys(graph, 1)
    assert modularity(graph, everything) == pytest.approx(0.0)


def test_modularity_checks_the_assignment():
    graph, a, b = two_cliques()
    partial = {n: 1 for n in a}
    with pytest.raises(InvalidInputError, match="missing nodes"):
        modularity(graph, partial)
    extra = {**dict.fromkeys(graph, 1), 999: 2}
    with pytest.raises(InvalidInputError, match="999"):
        modularity(graph, extra)


def test_modularity_without_edges_is_nan():
    graph = nx.empty_graph(3)
    assert math.isnan(modularity(graph, {0: 1, 1: 2, 2: 3}))


def test_leiden_names_the_extra_when_missing(monkeypatch):
    from engine._errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "leidenalg", None)
    with pytest.raises(MissingExtraError, match="communities"):
        communities(nx.path_graph(3), method="leiden")
