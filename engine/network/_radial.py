"""Edge lengths and their histogram (NetTracer3D's radial distribution).

Lengths are Euclidean distances between the physical centroids (node
attributes ``z``, ``y``, ``x``) of the two nodes an edge joins, so they
are recomputed from the nodes rather than read from the edge.
"""


import numpy as np
import pandas as pd

from .._errors import InvalidInputError
from .._validate import check_distance, check_graph

__all__ = ["edge_lengths", "radial_distribution"]


def edge_lengths(graph):
    """Physical length of every edge.

    Parameters
    ----------
    graph : networkx.Graph
        Nodes carry physical centroids as attributes ``z``, ``y``, ``x``.

    Returns
    -------
    pandas.DataFrame
        Columns ``node_a`` < ``node_b`` (labels) and ``length`` (float, in
        the centroids' units), one row per edge, sorted by the node pair.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_node(1, z=0.0, y=0.0, x=0.0)
    >>> g.add_node(2, z=0.0, y=3.0, x=4.0)
    >>> g.add_edge(2, 1)
    >>> edge_lengths(g).values.tolist()
    [[1.0, 2.0, 5.0]]
    """
    graph = check_graph(graph)
    pairs = sorted((min(a, b), max(a, b)) for a, b in graph.edges())
    if not pairs:
        return pd.DataFrame({
            "node_a": pd.Series(dtype=np.int64), "node_b": pd.Series(dtype=np.int64),
            "length": pd.Series(dtype=float),
        })
    centroid = {}
    for node in {n for pair in pairs for n in pair}:
        data = graph.nodes[node]
        try:
            centroid[node] = [float(data[axis]) for axis in ("z", "y", "x")]
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError(
                f"node {node!r} needs numeric centroid attributes 'z', 'y', 'x' "
                f"to measure edge lengths, has {sorted(data)}"
            ) from None
    a = np.array([centroid[p[0]] for p in pairs])
    b = np.array([centroid[p[1]] for p in pairs])
    return pd.DataFrame({
        "node_a": [p[0] for p in pairs],
        "node_b": [p[1] for p in pairs],
        "length": np.sqrt(((a - b) ** 2).sum(axis=1)),
    })


def radial_distribution(graph, *, bin_width, max_distance=None):
    """Histogram of edge lengths in bins of fixed physical width.

    Parameters
    ----------
    graph : networkx.Graph
        Nodes carry physical centroids ``z``, ``y``, ``x``.
    bin_width : float
        Width of each bin, > 0, in the centroids' units.
    max_distance : float, optional
        Longest length counted (> 0); longer edges are left out. Default:
        the longest edge.

    Returns
    -------
    pandas.DataFrame
        Columns ``bin_start``, ``bin_end`` (floats) and ``count`` (int).
        Bins are half-open, ``[k * bin_width, (k + 1) * bin_width)``, from 0
        up to and including the bin that holds ``max_distance``; empty bins
        are kept. A graph without edges and no ``max_distance`` gives an
        empty table.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.Graph()
    >>> g.add_node(1, z=0, y=0, x=0)
    >>> g.add_node(2, z=0, y=0, x=3)
    >>> g.add_edge(1, 2)
    >>> radial_distribution(g, bin_width=2)["count"].tolist()
    [0, 1]
    """
    bin_width = check_distance(bin_width, name="bin_width", allow_zero=False)
    if max_distance is not None:
        max_distance = check_distance(
            max_distance, name="max_distance", allow_zero=False
        )
    lengths = edge_lengths(graph)["length"].to_numpy()
    if max_distance is None:
        if lengths.size == 0:
            return pd.DataFrame({
                "bin_start": pd.Series(dtype=float), "bin_end": pd.Series(dtype=float),
                "count": pd.Series(dtype=np.int64),
            })
        max_distance = float(lengths.max())
    else:
        lengths = lengths[lengths <= max_distance]
    n_bins = _bin_index(max_distance, bin_width) + 1
    counts = np.bincount(_bin_index(lengths, bin_width), minlength=n_bins)
    starts = np.arange(n_bins) * bin_width
    return pd.DataFrame({
        "bin_start": starts, "bin_end": starts + bin_width,
        "count": counts[:n_bins].astype(np.int64),
    })


def _bin_index(values, bin_width):
    """Bin of each value; ratios within 1e-9 of an integer round to it, so
    that e.g. 0.6 / 0.2 lands in bin 3 as the user expects."""
    ratio = np.asarray(values, dtype=float) / bin_width
    nearest = np.round(ratio)
    ratio = np.where(np.abs(ratio - nearest) <= 1e-9 * np.maximum(1, nearest), nearest,
                     ratio)
    index = np.floor(ratio).astype(np.int64)
    return int(index) if index.ndim == 0 else index
