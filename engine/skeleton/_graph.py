"""The skeleton graph and its decomposition into branches.

A :class:`SkeletonGraph` is every skeleton of a volume at once: vertices in
physical (z, y, x), undirected edges, a radius and a label id per vertex.
:func:`decompose` splits it into branches: paths between nodes, where a node
is an end (degree 1) or a junction (degree 3 or more; adjacent junction
vertices form one junction, as thinning leaves little clusters of them).
"""

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

# the 13 "forward" offsets of the 26-neighbourhood
_OFFSETS = np.array([(dz, dy, dx) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                     if (dz, dy, dx) > (0, 0, 0)])


@dataclass
class SkeletonGraph:
    """Skeletons of one volume as one graph.

    Attributes
    ----------
    vertices : (N, 3) float
        Physical (z, y, x) positions.
    edges : (E, 2) int
        Vertex index pairs.
    radii : (N,) float
        Distance from each vertex to the background, physical.
    labels : (N,) uint64
        Label id of the object each vertex belongs to.
    spacing : tuple of float
        Voxel spacing (dz, dy, dx) of the volume the skeleton came from.
    from_voxels : bool
        True for skeletons traced through voxels (``skeletonize``): there,
        adjacent junction vertices are one junction spread over a few voxels
        and are merged. Other skeletons (neurons from navis or CAVE) keep
        every branch point.
    """

    vertices: np.ndarray
    edges: np.ndarray
    radii: np.ndarray
    labels: np.ndarray
    spacing: tuple = (1.0, 1.0, 1.0)
    from_voxels: bool = False

    def __len__(self):
        return len(self.vertices)

    def edge_lengths(self):
        if not len(self.edges):
            return np.zeros(0)
        return np.linalg.norm(self.vertices[self.edges[:, 0]] - self.vertices[self.edges[:, 1]], axis=1)

    def subset(self, keep):
        """The graph restricted to the vertices where ``keep`` is True."""
        keep = np.asarray(keep, bool)
        new_index = np.full(len(keep), -1)
        new_index[keep] = np.arange(int(keep.sum()))
        e = new_index[self.edges] if len(self.edges) else np.zeros((0, 2), int)
        e = e[(e >= 0).all(1)] if len(e) else e.reshape(0, 2)
        return SkeletonGraph(self.vertices[keep], e.reshape(-1, 2), self.radii[keep],
                             self.labels[keep], self.spacing, self.from_voxels)

    @classmethod
    def concatenate(cls, graphs, spacing, from_voxels=True):
        graphs = [g for g in graphs if len(g)]
        if not graphs:
            return cls(np.zeros((0, 3)), np.zeros((0, 2), int), np.zeros(0), np.zeros(0, np.uint64),
                       tuple(spacing), from_voxels)
        offsets = np.cumsum([0] + [len(g) for g in graphs[:-1]])
        return cls(np.concatenate([g.vertices for g in graphs]),
                   np.concatenate([g.edges + o for g, o in zip(graphs, offsets)]).reshape(-1, 2),
                   np.concatenate([g.radii for g in graphs]),
                   np.concatenate([g.labels for g in graphs]).astype(np.uint64), tuple(spacing),
                   from_voxels)


def voxel_graph(coords, spacing, radii, labels):
    """Graph of a one-voxel-thin skeleton given as voxel coordinates.

    Voxels are joined to their 26-neighbours, except across a diagonal that a
    path through a shared neighbour already covers with shorter steps: a
    staircase corner is a path, not a triangle.
    """
    coords = np.asarray(coords, np.int64)
    n = len(coords)
    sp = np.asarray(spacing, float)
    if n == 0:
        return SkeletonGraph(np.zeros((0, 3)), np.zeros((0, 2), int), np.zeros(0),
                             np.zeros(0, np.uint64), tuple(sp), True)
    lo = coords.min(0) - 1
    dims = coords.max(0) - lo + 2
    key = np.ravel_multi_index((coords - lo).T, dims)
    order = np.argsort(key)
    skey = key[order]

    def find(offset):
        """Index of the voxel at coords + offset, or -1."""
        k = np.ravel_multi_index((coords + offset - lo).T, dims)
        pos = np.clip(np.searchsorted(skey, k), 0, n - 1)
        return np.where(skey[pos] == k, order[pos], -1)

    edges = []
    for off in _OFFSETS:
        j = find(off)
        i = np.nonzero(j >= 0)[0]
        if not len(i):
            continue
        nonzero = np.nonzero(off)[0]
        if len(nonzero) > 1:
            # redundant if some voxel c with a->c and c->b both shorter steps exists
            redundant = np.zeros(len(i), bool)
            for mask_bits in range(1, 2 ** len(nonzero) - 1):
                part = np.zeros(3, int)
                for b, axis in enumerate(nonzero):
                    if mask_bits >> b & 1:
                        part[axis] = off[axis]
                redundant |= find(part)[i] >= 0
            i = i[~redundant]
        edges.append(np.stack([i, j[i]], 1))
    edges = np.concatenate(edges) if edges else np.zeros((0, 2), int)
    return SkeletonGraph(coords * sp, edges, np.asarray(radii, float),
                         np.asarray(labels).astype(np.uint64), tuple(sp), True)


@dataclass
class Decomposition:
    """Branches of a skeleton graph.

    ``node_of`` maps each vertex to its node (-1 on branch interiors);
    ``node_vertices[k]`` lists the vertices of node k; ``branches`` holds
    ``(node_a, node_b, path)`` with ``path`` the vertex indices from a to b.
    A cycle with no node on it gets a node of its own (degree 2, kind "loop").
    """

    node_of: np.ndarray
    node_vertices: list
    node_degree: np.ndarray
    branches: list


def _adjacency(n, edges):
    if len(edges):
        e = np.concatenate([edges, edges[:, ::-1]])
        eid = np.concatenate([np.arange(len(edges))] * 2)
    else:
        e, eid = np.zeros((0, 2), int), np.zeros(0, int)
    order = np.argsort(e[:, 0], kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(e[:, 0], minlength=n))])
    return indptr, e[order, 1], eid[order]


def decompose(graph):
    """Split ``graph`` into branches between ends and junctions."""
    n, edges = len(graph), graph.edges
    deg = np.bincount(edges.ravel(), minlength=n) if len(edges) else np.zeros(n, int)
    junction = deg >= 3
    node_of = np.full(n, -1)
    node_vertices = []
    # in a voxel skeleton, clusters of adjacent junction vertices are one junction
    jj = edges[junction[edges[:, 0]] & junction[edges[:, 1]]] if len(edges) else edges
    if not graph.from_voxels:
        jj = jj[:0]
    if junction.any():
        jidx = np.nonzero(junction)[0]
        local = np.full(n, -1)
        local[jidx] = np.arange(len(jidx))
        adj = sparse.coo_matrix((np.ones(len(jj)), (local[jj[:, 0]], local[jj[:, 1]])),
                                shape=(len(jidx), len(jidx)))
        ncl, cl = csgraph.connected_components(adj, directed=False)
        node_of[jidx] = cl
        order = np.argsort(cl, kind="stable")
        node_vertices = np.split(jidx[order], np.cumsum(np.bincount(cl, minlength=ncl))[:-1])
    ends = np.nonzero(deg == 1)[0]
    node_of[ends] = len(node_vertices) + np.arange(len(ends))
    node_vertices = list(node_vertices) + [np.array([v]) for v in ends]

    indptr, nbr, eid = _adjacency(n, edges)
    used = np.zeros(len(edges), bool)
    branches = []

    def walk(start, first_nbr, first_edge):
        path = [start]
        prev_edge, cur = first_edge, first_nbr
        used[first_edge] = True
        while node_of[cur] < 0:
            path.append(cur)
            lo, hi = indptr[cur], indptr[cur + 1]
            nxt = None
            for k in range(lo, hi):
                if eid[k] != prev_edge and not used[eid[k]]:
                    nxt = k
                    break
            if nxt is None:  # closed on itself
                break
            prev_edge, cur = eid[nxt], nbr[nxt]
            used[prev_edge] = True
        path.append(cur)
        return path

    for node, verts in enumerate(node_vertices):
        for v in verts:
            for k in range(indptr[v], indptr[v + 1]):
                if used[eid[k]]:
                    continue
                w = nbr[k]
                if node_of[w] == node:  # inside the junction cluster
                    used[eid[k]] = True
                    continue
                path = walk(v, w, eid[k])
                branches.append((node, int(node_of[path[-1]]), np.asarray(path)))
    # cycles without any node: cut each at one vertex
    rest = np.nonzero(~used)[0]
    while len(rest):
        v = int(edges[rest[0], 0])
        node = len(node_vertices)
        node_of[v] = node
        node_vertices.append(np.array([v]))
        for k in range(indptr[v], indptr[v + 1]):
            if not used[eid[k]]:
                path = walk(v, nbr[k], eid[k])
                branches.append((node, int(node_of[path[-1]]), np.asarray(path)))
                break
        rest = rest[~used[rest]]
    node_degree = np.zeros(len(node_vertices), int)
    for a, b, _ in branches:
        node_degree[a] += 1
        node_degree[b] += 1
    return Decomposition(node_of, node_vertices, node_degree, branches)


def path_length(points):
    if len(points) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def smooth_path(points, sigma, spacing):
    """Gaussian smoothing of a polyline along its arc length, ends fixed.

    The path is resampled every ``min(spacing) / 2`` and padded by point
    reflection through each end, so a straight staircase smooths to the
    straight line and the ends do not move. ``sigma`` is physical.
    """
    points = np.asarray(points, float)
    if len(points) < 3 or sigma <= 0:
        return points
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] == 0:
        return points
    step = min(spacing) / 2
    m = max(3, int(np.ceil(cum[-1] / step)) + 1)
    s = np.linspace(0, cum[-1], m)
    p = np.stack([np.interp(s, cum, points[:, k]) for k in range(3)], 1)
    sig = sigma / (s[1] - s[0])
    half = int(np.ceil(3 * sig))
    pad = min(half, m - 1)
    head = 2 * p[0] - p[1:pad + 1][::-1]
    tail = 2 * p[-1] - p[-pad - 1:-1][::-1]
    q = np.concatenate([head, p, tail])
    x = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (x / sig) ** 2)
    kernel /= kernel.sum()
    from scipy.ndimage import convolve1d

    out = convolve1d(q, kernel, axis=0, mode="nearest")[pad:pad + m]
    out[0], out[-1] = p[0], p[-1]
    return out
