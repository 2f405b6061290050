"""Whole-network statistics and per-node centralities.

Every measure is topological: edges count once whatever their ``weight``
(the number of connecting objects), because networkx reads ``weight`` as
a distance in betweenness and closeness, the opposite of its meaning here.
Community detection (``_communities``) is where weights matter.
"""

import warnings

import networkx as nx
import numpy as np
import pandas as pd

from .._validate import check_count, check_graph

__all__ = ["network_statistics", "node_centralities", "degree_distribution"]

_CENTRALITY_COLUMNS = (
    "degree", "betweenness", "closeness", "eigenvector", "clustering", "triangles",
)
# Components up to this size use a dense eigensolver in the fallback.
_DENSE_LIMIT = 2000


def network_statistics(graph, *, betweenness_samples=None):
    """Summarize a network with the measures NetTracer3D reports.

    Parameters
    ----------
    graph : networkx.Graph
        Undirected network; node ids are labels.
    betweenness_samples : int, optional
        Estimate betweenness from this many source nodes (chosen with a
        fixed seed, so repeatable) instead of all of them; exact betweenness
        costs O(nodes * edges), minutes beyond a few thousand nodes.
        Default: exact.

    Returns
    -------
    dict
        Plain Python ``int`` / ``float`` values under these keys:

        ``n_nodes``, ``n_edges``
            Node and edge counts.
        ``density``
            ``2 m / (n (n - 1))``; NaN with fewer than 2 nodes.
        ``n_components``, ``largest_component_size``
            Connected components and the node count of the largest.
        ``mean_degree``, ``max_degree``
            ``2 m / n`` and the highest degree.
        ``mean_betweenness``
            Mean normalized betweenness (fraction of the other pairs'
            shortest paths through a node).
        ``mean_closeness``
            Mean closeness with the Wasserman-Faust correction, so a node in
            a small component scores lower than in a large one; finite on
            disconnected graphs.
        ``mean_eigenvector``
            Mean eigenvector centrality computed **per connected component**,
            each component's vector scaled to unit Euclidean norm (the
            networkx convention); isolated nodes score 0. Power iteration
            that fails to converge falls back to a numpy/scipy eigensolver.
        ``average_clustering``
            Mean local clustering; nodes of degree < 2 count as 0.
        ``transitivity``
            ``3 * triangles / connected triples``; 0 without any triple.
        ``diameter``, ``average_shortest_path_length``
            Of the **largest connected component** (ties: the one holding
            the smallest label), since both are infinite on a disconnected
            graph. A single node gives 0 and 0.0.
        ``degree_assortativity``
            Pearson correlation of the degrees at either end of the edges;
            NaN when undefined (no edges, or every edge joins equal degrees
            as in regular graphs).
        ``n_triangles``
            Number of triangles.

        On the empty graph the counts (``n_nodes``, ``n_edges``,
        ``n_components``, ``largest_component_size``, ``max_degree``,
        ``n_triangles``) are 0 and every other value is NaN.

    Examples
    --------
    >>> stats = network_statistics(nx.star_graph(4))
    >>> stats["max_degree"], stats["diameter"], stats["degree_assortativity"]
    (4, 2, -1.0)
    """
    graph = check_graph(graph)
    n = graph.number_of_nodes()
    m = graph.number_of_edges()
    nan = float("nan")
    stats = {
        "n_nodes": n, "n_edges": m, "density": nan, "n_components": 0,
        "largest_component_size": 0, "mean_degree": nan, "max_degree": 0,
        "mean_betweenness": nan, "mean_closeness": nan, "mean_eigenvector": nan,
        "average_clustering": nan, "transitivity": nan, "diameter": nan,
        "average_shortest_path_length": nan, "degree_assortativity": nan,
        "n_triangles": 0,
    }
    table = node_centralities(graph, betweenness_samples=betweenness_samples)
    if n == 0:
        return stats
    components = sorted(nx.connected_components(graph), key=lambda c: (-len(c), min(c)))
    diameter, mean_path = _path_stats(graph.subgraph(components[0]))
    stats.update(
        density=float(2 * m / (n * (n - 1))) if n > 1 else nan,
        n_components=len(components),
        largest_component_size=len(components[0]),
        mean_degree=float(2 * m / n),
        max_degree=int(table["degree"].max()),
        mean_betweenness=float(table["betweenness"].mean()),
        mean_closeness=float(table["closeness"].mean()),
        mean_eigenvector=float(table["eigenvector"].mean()),
        average_clustering=float(table["clustering"].mean()),
        transitivity=float(nx.transitivity(graph)),
        diameter=diameter,
        average_shortest_path_length=mean_path,
        degree_assortativity=_assortativity(graph),
        n_triangles=int(table["triangles"].sum()) // 3,
    )
    return stats


def node_centralities(graph, *, betweenness_samples=None):
    """Per-node centralities, one row per node sorted by label.

    Parameters
    ----------
    graph : networkx.Graph
        Undirected network; node ids are labels.
    betweenness_samples : int, optional
        Estimate betweenness from this many source nodes (fixed seed);
        default exact. See :func:`network_statistics`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``label``, with columns ``degree`` (int), ``betweenness``
        (normalized), ``closeness`` (Wasserman-Faust corrected),
        ``eigenvector`` (per connected component, unit norm per component,
        0 for isolated nodes), ``clustering`` and ``triangles`` (int). All
        measures ignore edge weights; see :func:`network_statistics`.

    Examples
    --------
    >>> table = node_centralities(nx.star_graph(3))
    >>> table["betweenness"].tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    graph = check_graph(graph)
    if betweenness_samples is not None:
        betweenness_samples = check_count(betweenness_samples,
                                          name="betweenness_samples")
    nodes = sorted(graph)
    if not nodes:
        frame = pd.DataFrame({c: pd.Series(dtype=float) for c in _CENTRALITY_COLUMNS})
        frame = frame.astype({"degree": np.int64, "triangles": np.int64})
        return frame.rename_axis("label")
    columns = {
        "degree": dict(graph.degree()),
        "betweenness": _betweenness(graph, betweenness_samples),
        "closeness": nx.closeness_centrality(graph),
        "eigenvector": _eigenvector(graph),
        "clustering": nx.clustering(graph),
        "triangles": nx.triangles(graph),
    }
    frame = pd.DataFrame(
        {name: [values[v] for v in nodes] for name, values in columns.items()},
        index=pd.Index(nodes, name="label"),
    )
    return frame.astype(
        {"degree": np.int64, "triangles": np.int64, "betweenness": float,
         "closeness": float, "eigenvector": float, "clustering": float}
    )


def degree_distribution(graph):
    """How many nodes have each degree.

    Parameters
    ----------
    graph : networkx.Graph
        Undirected network.

    Returns
    -------
    pandas.DataFrame
        Columns ``degree`` and ``count`` (both int), one row per degree that
        occurs, ascending; empty for the empty graph.

    Examples
    --------
    >>> degree_distribution(nx.star_graph(3)).values.tolist()
    [[1, 3], [3, 1]]
    """
    graph = check_graph(graph)
    degrees, counts = np.unique(
        np.fromiter((d for _, d in graph.degree()), dtype=np.int64), return_counts=True
    )
    return pd.DataFrame({"degree": degrees, "count": counts.astype(np.int64)})


def _betweenness(graph, samples):
    """Normalized betweenness, exact or from ``samples`` seeded sources."""
    if samples is None or samples >= graph.number_of_nodes():
        return nx.betweenness_centrality(graph)
    return nx.betweenness_centrality(graph, k=samples, seed=0)


def _path_stats(component):
    """Diameter and mean shortest path length of a connected graph, O(n) memory."""
    n = component.number_of_nodes()
    if n == 1:
        return 0, 0.0
    longest, total = 0, 0
    for _, lengths in nx.all_pairs_shortest_path_length(component):
        longest = max(longest, max(lengths.values()))
        total += sum(lengths.values())
    return int(longest), float(total / (n * (n - 1)))


def _assortativity(graph):
    """Degree assortativity, NaN (and silent) when undefined."""
    if graph.number_of_edges() == 0:
        return float("nan")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = float(nx.degree_assortativity_coefficient(graph))
    return value if np.isfinite(value) else float("nan")


def _eigenvector(graph):
    """Eigenvector centrality per connected component (unit norm each)."""
    result = {}
    for nodes in nx.connected_components(graph):
        if len(nodes) == 1:
            result.update(dict.fromkeys(nodes, 0.0))
            continue
        component = graph.subgraph(nodes)
        try:
            values = nx.eigenvector_centrality(component, max_iter=1000)
        except nx.PowerIterationFailedConvergence:
            values = _eigenvector_numpy(component)
        result.update(values)
    return result


def _eigenvector_numpy(component):
    """Leading eigenvector of a connected graph's adjacency, unit norm.

    >>> values = _eigenvector_numpy(nx.complete_graph(4))
    >>> [round(v, 3) for v in values.values()]
    [0.5, 0.5, 0.5, 0.5]
    """
    nodes = list(component)
    adjacency = nx.to_scipy_sparse_array(component, nodelist=nodes, weight=None,
                                         dtype=float)
    if len(nodes) <= _DENSE_LIMIT:
        vector = np.linalg.eigh(adjacency.toarray())[1][:, -1]
    else:
        from scipy.sparse.linalg import eigsh

        vector = eigsh(adjacency, k=1, which="LA")[1][:, 0]
    # Perron-Frobenius: the leading vector of a connected graph has one sign.
    vector = np.abs(vector)
    vector /= np.linalg.norm(vector)
    return {node: float(value) for node, value in zip(nodes, vector)}
