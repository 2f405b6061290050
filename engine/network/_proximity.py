"""Proximity networks: centroid radius, k nearest neighbours, surfaces."""

import numpy as np

from .._errors import InvalidInputError
from .._validate import check_distance, check_labels, check_spacing
from ..label import label_properties
from ._crops import default_workers, distance_to_label, map_crops, node_crops


def proximity(nodes, *, radius=None, k=None, spacing=(1.0, 1.0, 1.0), progress=None):
    """Link nodes whose centroids are close.

    Parameters
    ----------
    nodes : ndarray of unsigned int, (z, y, x)
        Node label volume (ids kept as they are).
    radius : float, optional
        Link every pair whose centroids are within this physical distance.
    k : int, optional
        Link each node to its ``k`` nearest neighbours. With ``radius`` as
        well, only those neighbours that are also within ``radius``.
    spacing : tuple of 3 floats
        Voxel size (dz, dy, dx).

    Returns
    -------
    Network
        Edge table columns ``node_a, node_b, edge_id, distance``.

    Examples
    --------
    >>> nodes = np.zeros((1, 1, 20), np.uint8)
    >>> nodes[0, 0, [0, 3, 10]] = [1, 2, 3]
    >>> net = proximity(nodes, radius=4)
    >>> net.edges[["node_a", "node_b"]].values.tolist()
    [[1, 2]]
    >>> proximity(nodes, k=1).edges[["node_a", "node_b"]].values.tolist()
    [[1, 2], [2, 3]]
    """
    from scipy.spatial import cKDTree

    from ._core import Network

    if radius is None and k is None:
        raise InvalidInputError("proximity needs radius, k, or both")
    if radius is not None:
        radius = check_distance(radius, name="radius")
    if k is not None:
        if int(k) != k or k < 1:
            raise InvalidInputError(f"k must be an integer >= 1, was {k!r}")
        k = int(k)
    nodes = check_labels(nodes, name="nodes")
    spacing = check_spacing(spacing)
    table = label_properties(nodes, spacing=spacing)
    points = table[["z", "y", "x"]].to_numpy()
    labels = table["label"].to_numpy(np.uint64)
    tree = cKDTree(points)
    if k is None:
        pairs = tree.query_pairs(radius * (1 + 1e-9), output_type="ndarray")
    else:
        n_query = min(k + 1, len(points))
        bound = np.inf if radius is None else radius * (1 + 1e-9)
        dist, idx = tree.query(points, k=n_query, distance_upper_bound=bound)
        dist, idx = dist.reshape(len(points), -1), idx.reshape(len(points), -1)
        src = np.repeat(np.arange(len(points)), idx.shape[1])
        dst = idx.ravel()
        keep = (dst < len(points)) & (dst != src)
        pairs = np.sort(np.stack([src[keep], dst[keep]], 1), axis=1)
        pairs = np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)
    if progress is not None:
        progress(1, 1)
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    distance = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
    edges = _pairs_table(a, b, distance)
    params = {"radius": radius, "k": k}
    return Network(nodes=table, edges=edges, spacing=spacing, method="proximity", params=params)


def surface_proximity(nodes, *, distance, spacing=(1.0, 1.0, 1.0), progress=None):
    """Link objects whose boundaries come within a physical distance.

    The distance between two objects is the distance between their
    nearest voxel centres, so objects that touch are one voxel step apart.
    Each node is measured in its own bounding box grown by ``distance``.

    Examples
    --------
    >>> nodes = np.zeros((1, 1, 12), np.uint8)
    >>> nodes[0, 0, 0:3] = 1; nodes[0, 0, 4:7] = 2; nodes[0, 0, 11] = 3
    >>> net = surface_proximity(nodes, distance=2.0)
    >>> net.edges[["node_a", "node_b", "distance"]].values.tolist()
    [[1.0, 2.0, 2.0]]
    """
    from ._core import Network

    reach = check_distance(distance, name="distance")
    nodes = check_labels(nodes, name="nodes")
    spacing = check_spacing(spacing)
    table = label_properties(nodes, spacing=spacing)
    limit = reach * (1 + 1e-6) + 1e-9

    def one_node(label, slices):
        sub = nodes[slices]
        others = (sub != 0) & (sub != label)
        if not others.any():
            return None
        dist = distance_to_label(sub, label, spacing)
        hit = others & (dist <= limit)
        if not hit.any():
            return None
        other_labels, dists = sub[hit], dist[hit]
        order = np.lexsort((dists, other_labels))
        other_labels, dists = other_labels[order], dists[order]
        first = np.r_[True, other_labels[1:] != other_labels[:-1]]
        keep = other_labels[first] > label  # each pair once
        return (np.full(keep.sum(), label, np.uint64),
                other_labels[first][keep].astype(np.uint64),
                dists[first][keep].astype(np.float64))

    crops = node_crops(nodes, table, reach, spacing)
    found = [r for r in map_crops(one_node, crops, workers=default_workers(),
                                  progress=progress) if r]
    found_a, found_b, found_d = zip(*found) if found else ((), (), ())
    cat = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt)  # noqa: E731
    edges = _pairs_table(cat(found_a, np.uint64), cat(found_b, np.uint64), cat(found_d, float))
    return Network(
        nodes=table, edges=edges, spacing=spacing, method="surface",
        params={"distance": reach},
    )


def _pairs_table(a, b, distance):
    import pandas as pd

    table = pd.DataFrame(
        {"node_a": np.asarray(a, np.uint64), "node_b": np.asarray(b, np.uint64),
         "distance": np.asarray(distance, float)}
    ).sort_values(["node_a", "node_b"], ignore_index=True)
    table.insert(2, "edge_id", np.arange(1, len(table) + 1, dtype=np.int64))
    return table
