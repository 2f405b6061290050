"""Community detection with reproducible community ids.

Every method sees a canonical copy of the graph (nodes and edges in
sorted order), so the result depends on the graph and the seed only, not
on the order in which nodes and edges were inserted. Edges are weighted
by their ``weight`` attribute (the number of connecting objects); an edge
without one weighs 1.
"""

import numbers

import networkx as nx
import numpy as np

from .._errors import InvalidInputError, require
from .._validate import check_choice, check_graph

__all__ = ["communities", "modularity", "METHODS"]

METHODS = ("louvain", "label_propagation", "leiden")


def communities(graph, *, method="louvain", seed=0, resolution=1.0):
    """Partition a network into communities.

    Parameters
    ----------
    graph : networkx.Graph
        Undirected network; edges weighted by ``weight`` when present.
    method : {"louvain", "label_propagation", "leiden"}
        ``"louvain"``: networkx ``louvain_communities``.
        ``"label_propagation"``: networkx ``asyn_lpa_communities``, the
        weighted asynchronous variant, made deterministic by ``seed``
        (``resolution`` is ignored).
        ``"leiden"``: leidenalg on igraph (the ``communities`` extra) with
        the modularity quality function (``RBConfigurationVertexPartition``);
        networkx 3.6 only dispatches Leiden to backends.
    seed : int or None
        Random seed; the same seed gives the same partition. ``None`` draws
        a fresh one.
    resolution : float
        Modularity resolution (> 1 favours smaller communities).

    Returns
    -------
    dict
        ``{label: community_id}`` for every node. Ids run 1..C by decreasing
        community size, ties broken by the smallest label in the community,
        so 0 stays free for background in label overlays. An isolated node
        is a community of its own.

    Examples
    --------
    >>> g = nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(2))
    >>> communities(g)
    {0: 1, 1: 1, 2: 1, 3: 2, 4: 2}
    """
    graph = check_graph(graph)
    check_choice(method, METHODS, name="method")
    if not isinstance(resolution, numbers.Real) or not resolution > 0:
        raise InvalidInputError(f"resolution must be a number > 0, was {resolution!r}")
    canonical = _canonical(graph)
    if canonical.number_of_nodes() == 0:
        return {}
    if method == "louvain":
        groups = nx.community.louvain_communities(
            canonical, weight="weight", resolution=resolution, seed=seed
        )
    elif method == "label_propagation":
        groups = nx.community.asyn_lpa_communities(
            canonical, weight="weight", seed=seed
        )
    else:
        groups = _leiden(canonical, seed=seed, resolution=resolution)
    return _renumber(groups)


def modularity(graph, assignment, *, resolution=1.0):
    """Weighted modularity of a partition.

    Parameters
    ----------
    graph : networkx.Graph
        Undirected network; edges weighted by ``weight`` when present.
    assignment : mapping
        ``{label: community_id}`` covering exactly the graph's nodes, as
        returned by :func:`communities`.
    resolution : float
        Modularity resolution.

    Returns
    -------
    float
        Newman modularity; NaN when the graph has no edge (undefined).

    Examples
    --------
    >>> g = nx.disjoint_union(nx.complete_graph(3), nx.complete_graph(3))
    >>> round(modularity(g, communities(g)), 3)
    0.5
    """
    graph = check_graph(graph)
    canonical = _canonical(graph)
    missing = [n for n in canonical if n not in assignment]
    extra = [n for n in assignment if n not in graph]
    if missing or extra:
        raise InvalidInputError(
            "assignment must give a community for every node and nothing else; "
            f"missing nodes {missing[:5]}, unknown labels {extra[:5]}"
        )
    if canonical.number_of_edges() == 0:
        return float("nan")
    groups = {}
    for node in canonical:
        groups.setdefault(assignment[node], set()).add(node)
    return float(nx.community.modularity(
        canonical, list(groups.values()), weight="weight", resolution=resolution
    ))


def _canonical(graph):
    """Copy with sorted nodes and edges and checked ``weight`` only."""
    canonical = nx.Graph()
    canonical.add_nodes_from(sorted(graph))
    edges = []
    for a, b, weight in graph.edges(data="weight", default=1):
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not (
            np.isfinite(weight) and weight >= 0
        ):
            raise InvalidInputError(
                f"edge ({a}, {b}) weight must be a finite number >= 0, was {weight!r}"
            )
        edges.append((min(a, b), max(a, b), float(weight)))
    canonical.add_weighted_edges_from(sorted(edges))
    return canonical


def _leiden(graph, *, seed, resolution):
    """Leiden communities through leidenalg and igraph."""
    leidenalg = require("leidenalg", "communities")
    igraph = require("igraph", "communities")
    nodes = list(graph)
    index = {node: i for i, node in enumerate(nodes)}
    edges = [(index[a], index[b]) for a, b in graph.edges()]
    weights = [w for _, _, w in graph.edges(data="weight")]
    ig = igraph.Graph(n=len(nodes), edges=edges)
    partition = leidenalg.find_partition(
        ig, leidenalg.RBConfigurationVertexPartition, weights=weights or None,
        resolution_parameter=float(resolution), seed=seed,
    )
    return [{nodes[i] for i in members} for members in partition]


def _renumber(groups):
    """Ids 1..C by decreasing size, ties by smallest member label."""
    ordered = sorted((sorted(g) for g in groups if g), key=lambda g: (-len(g), g[0]))
    ids = {node: cid for cid, group in enumerate(ordered, 1) for node in group}
    return dict(sorted(ids.items()))
