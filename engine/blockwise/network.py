"""The network through connecting objects, chunk by chunk.

:func:`connect` gives the same :class:`~engine.network.Network` (node
table, edge table with the same edge ids) as :func:`engine.network.connect`
on the whole volume. Per chunk, in one task that reads the chunk grown by
the search reach plus one voxel:

1. the search regions on the chunk and a one-voxel ring around it, from
   each node whose grown box reaches the chunk (the same crops, distances
   and tie rule as in memory, so the same winner at every voxel);
2. the connecting objects cut at the regions, labelled in the chunk
   (cc3d); their faces, sizes and first voxels go to the cross-chunk merge
   of :mod:`engine.blockwise.labels`, which numbers the pieces exactly as
   the whole-volume labelling does;
3. the (piece, node) touches and the region-to-region crossings seen from
   the chunk's voxels.

What travels to the client: per chunk, per-piece sums and the touch and
crossing pairs; between workers, one face plane per chunk border.
"""

import operator

import numpy as np

from .._validate import check_distance, check_spacing
from ..network._crops import grow_pad
from ..network._neighbours import OFFSETS
from . import _labels
from ._dask import TaskGraph, as_dask, chunk_grid, dask, same_chunks
from .labels import face_pair_tasks, label_properties

#: Crops below this many voxels use scipy's transform in memory (see
#: engine.network._crops); the same crop uses the same transform here.
from ..network._crops import _SMALL_CROP  # noqa: E402


def connect(nodes, edges, *, search, spacing=(1.0, 1.0, 1.0), trunks=0, bridge=None,
            keep_edge_labels=False, chunks=None, progress=None):
    """Build the network of ``nodes`` linked through connecting objects, blockwise.

    Takes the arguments of :func:`engine.network.connect`; ``nodes`` and
    ``edges`` may be dask arrays, zarr arrays, zarr paths or numpy arrays
    and are read one chunk (grown by the search reach) at a time.

    Parameters
    ----------
    chunks : (int, int, int), optional
        Rechunk both volumes (default: the nodes' chunks).
    progress : callable, optional
        ``progress(done, total)`` as chunks finish (node measures, then
        the network pass).

    Returns
    -------
    Network
        Equal to the in-memory result; ``edge_labels`` is a lazy dask
        array when ``keep_edge_labels``.

    Examples
    --------
    >>> nodes = np.zeros((3, 5, 12), np.uint16)
    >>> nodes[:, 1:4, 0:2] = 10; nodes[:, 1:4, 10:12] = 20
    >>> vessel = np.zeros_like(nodes, np.uint8); vessel[2, 2, 2:10] = 1
    >>> net = connect(nodes, vessel, search=1.0, spacing=(2, 1, 1), chunks=(2, 3, 4))
    >>> net.edges[["node_a", "node_b"]].values.tolist()
    [[10, 20]]
    """
    from ..network._connect import _edge_table, _link_rows
    from dask.array.overlap import ensure_minimum_chunksize

    from ..network._core import Network

    spacing = check_spacing(spacing)
    search = check_distance(search, name="search")
    trunks = int(check_distance(trunks, name="trunks"))
    nodes_da = as_dask(nodes, chunks=chunks, name="nodes")
    edges_da = as_dask(edges, name="edges")
    # the overlap of a chunk comes from its neighbours alone: chunks at least that deep
    depth = [min(p + 1, n) for p, n in zip(grow_pad(search, spacing), nodes_da.shape)]
    nodes_da = nodes_da.rechunk(tuple(
        ensure_minimum_chunksize(d, c) for d, c in zip(depth, nodes_da.chunks)))
    nodes_da, edges_da = same_chunks(nodes_da, edges_da, names=("nodes", "edges"))
    if edges_da.dtype == bool:
        edges_da = edges_da.astype(np.uint8)
    if bridge is not None:
        edges_da = _bridge(edges_da, check_distance(bridge, name="bridge"), spacing)

    table = label_properties(nodes_da, spacing=spacing, progress=progress)
    plan = _Plan(nodes_da, table, search, spacing)
    binary = False  # edge values are carried on faces: labelled edges never merge
    graph = TaskGraph("connect")
    grown_nodes, grown_edges = plan.grown(nodes_da), plan.grown(edges_da)
    stats, faces, touches, crossings = [], {}, [], []
    for index, origin in chunk_grid(nodes_da):
        chunk = graph.add("chunk", index, _connect_chunk, graph.block(grown_nodes, index),
                          graph.block(grown_edges, index), *plan.chunk_args(index, origin),
                          binary, plan.block_id(index))
        stats.append(graph.add("stats", index, operator.getitem, chunk, 0))
        faces[index] = graph.add("faces", index, operator.getitem, chunk, 1)
        touches.append(graph.add("touches", index, operator.getitem, chunk, 2))
        crossings.append(graph.add("crossings", index, operator.getitem, chunk, 3))
    pair_tasks = face_pair_tasks(graph, nodes_da, faces, 26)
    results = graph.run(stats + touches + crossings + pair_tasks, progress=progress,
                        counted=stats)
    n_chunks = len(stats)
    stats_list = results[:n_chunks]
    touch_parts = results[n_chunks: 2 * n_chunks]
    cross_parts = results[2 * n_chunks: 3 * n_chunks]
    found = [p for p in results[3 * n_chunks:] if len(p)]
    pairs = np.concatenate(found) if found else np.zeros((0, 2), np.int64)
    final, offsets, piece_table = _labels.resolve(stats_list, pairs, n_chunks)
    n_pieces = 0 if piece_table is None else len(piece_table["counts"])

    touch = _global_touches(touch_parts, final, offsets)
    dropped = []
    if trunks and n_pieces:
        sizes = piece_table["counts"]
        dropped = (np.argsort(-sizes, kind="stable")[:trunks] + 1).astype(np.uint64)
        touch = touch[~np.isin(touch[:, 0], dropped)]
    cross = [c for c in cross_parts if len(c)]
    crossings_all = (np.unique(np.concatenate(cross), axis=0) if cross
                     else np.zeros((0, 2), np.uint64))
    rows = _link_rows(touch, crossings_all, first_inner_id=n_pieces + 1)
    edge_labels = None
    if keep_edge_labels:
        edge_labels = _edge_label_volume(plan, nodes_da, edges_da, final, offsets,
                                         dropped, n_pieces)
    return Network(
        nodes=table, edges=_edge_table(rows), spacing=spacing, method="connect",
        params={"search": search, "trunks": trunks, "bridge": bridge},
        edge_labels=edge_labels,
    )


class _Plan:
    """Chunk geometry and the nodes each chunk must look at."""

    def __init__(self, nodes_da, table, search, spacing, margin=1):
        self.shape = nodes_da.shape
        self.grid = [len(c) for c in nodes_da.chunks]
        self.chunks = nodes_da.chunks
        self.search, self.spacing = search, spacing
        self.reach = search * (1 + 1e-6) + 1e-9
        self.pad = np.asarray(grow_pad(search, spacing))
        # connect() grows each node's box by pad + 1 (see _search_region_candidates),
        # search_regions() by pad: the same crops pick the same transform
        self.depth = tuple(max(int(p) + margin, 1) for p in self.pad)
        labels = table["label"].to_numpy(np.uint64)
        lows = table[["z0", "y0", "x0"]].to_numpy(np.int64)
        highs = table[["z1", "y1", "x1"]].to_numpy(np.int64)
        shape = np.asarray(self.shape)
        self.labels = labels
        self.crop_lo = np.maximum(lows - self.pad - margin, 0)
        self.crop_hi = np.minimum(highs + self.pad + margin, shape)
        self.crop_size = np.prod(self.crop_hi - self.crop_lo, axis=1)

    def grown(self, array):
        # an axis of one chunk has no neighbour to borrow from
        depth = {a: (d if self.grid[a] > 1 else 0) for a, d in enumerate(self.depth)}
        return dask().array.overlap.overlap(array, depth=depth, boundary="none")

    def block_id(self, index):
        return int(np.ravel_multi_index(index, self.grid))

    def chunk_args(self, index, origin):
        core_lo = np.asarray(origin)
        core_hi = core_lo + [c[i] for c, i in zip(self.chunks, index)]
        ext_lo = np.maximum(core_lo - self.depth, 0)
        ring_lo, ring_hi = core_lo - 1, core_hi + 1
        near = np.all((self.crop_lo < ring_hi) & (self.crop_hi > ring_lo), axis=1)
        rows = {
            "labels": self.labels[near], "lo": self.crop_lo[near], "hi": self.crop_hi[near],
            "edt": self.crop_size[near] >= _SMALL_CROP,
        }
        geometry = [[int(v) for v in g] for g in (core_lo, core_hi, ext_lo, self.shape)]
        return geometry, rows, self.reach, self.spacing


def _node_distances(nodes_ext, ext_lo, window_lo, window_hi, rows, order, spacing):
    """Each reaching node's distances over its part of a window of the volume.

    Yields ``(label, dist, target)``: ``dist`` on the window part the node's
    crop covers (computed on the crop within the grown block, with the
    transform the in-memory path picks for that crop) and ``target`` the
    slices of that part in window coordinates.
    """
    import edt
    from scipy import ndimage

    ext_hi = ext_lo + np.asarray(nodes_ext.shape)
    for k in order:
        label, lo, hi = rows["labels"][k], rows["lo"][k], rows["hi"][k]
        sub_lo, sub_hi = np.maximum(lo, ext_lo), np.minimum(hi, ext_hi)
        look_lo, look_hi = np.maximum(sub_lo, window_lo), np.minimum(sub_hi, window_hi)
        if np.any(look_hi <= look_lo):
            continue
        sub = nodes_ext[tuple(slice(a, b) for a, b in zip(sub_lo - ext_lo, sub_hi - ext_lo))]
        outside = sub != nodes_ext.dtype.type(label)
        if outside.all():
            continue  # the node is out of reach of this window (a transform would invent one)
        if rows["edt"][k]:
            dist = edt.edt(outside, anisotropy=spacing, black_border=False)
        else:
            dist = ndimage.distance_transform_edt(outside, sampling=spacing)
        dist = dist[tuple(slice(a, b) for a, b in zip(look_lo - sub_lo, look_hi - sub_lo))]
        yield label, dist, tuple(
            slice(a, b) for a, b in zip(look_lo - window_lo, look_hi - window_lo))


def _regions(nodes_ext, geometry, rows, reach, spacing):
    """Search-region labels on the chunk and a one-voxel ring (0 outside the volume)."""
    core_lo, core_hi, ext_lo, _shape = (np.asarray(g) for g in geometry)
    ring_lo = core_lo - 1
    ring_shape = tuple(core_hi - core_lo + 2)
    regions = np.zeros(ring_shape, nodes_ext.dtype)
    best = np.full(ring_shape, np.inf, np.float32)
    # crops lie inside the volume, so the ring beyond it stays 0
    order = range(len(rows["labels"]))
    # ascending labels and a strict "<": on a tie the smaller label wins
    for label, dist, target in _node_distances(nodes_ext, ext_lo, ring_lo, core_hi + 1, rows,
                                               order, spacing):
        close = dist.astype(np.float32)
        win = (dist <= reach) & (close < best[target])
        regions[target][win] = label
        best[target][win] = close[win]
    return regions


def _ring(array_ext, geometry):
    """The chunk and a one-voxel ring from a grown block (0 outside the volume)."""
    core_lo, core_hi, ext_lo, shape = (np.asarray(g) for g in geometry)
    out = np.zeros(tuple(core_hi - core_lo + 2), array_ext.dtype)
    in_lo, in_hi = np.maximum(core_lo - 1, 0), np.minimum(core_hi + 1, shape)
    source = tuple(slice(a, b) for a, b in zip(in_lo - ext_lo, in_hi - ext_lo))
    target = tuple(slice(a, b) for a, b in zip(in_lo - core_lo + 1, in_hi - core_lo + 1))
    out[target] = array_ext[source]
    return out


def _cut_core(nodes_ext, edges_ext, geometry, rows, reach, spacing):
    regions = _regions(nodes_ext, geometry, rows, reach, spacing)
    edges = _ring(edges_ext, geometry)
    core = (slice(1, -1),) * 3
    cut = np.where(regions[core] == 0, edges[core], 0).astype(edges.dtype, copy=False)
    return regions, edges, cut


def _connect_chunk(nodes_ext, edges_ext, geometry, rows, reach, spacing, binary, block_id):
    """One chunk's share of the network: piece summary, faces, touches, crossings."""
    regions, edges, cut = _cut_core(nodes_ext, edges_ext, geometry, rows, reach, spacing)
    labels, n = _labels.label_chunk(cut, 26)
    core_lo = geometry[0]
    stats, faces = _labels.summarise_chunk(labels, n, cut, core_lo, geometry[3], binary)
    touches = _touches(labels, regions, block_id)
    crossings = _crossings(edges, regions)
    return stats, faces, touches, crossings


def _touches(labels, regions, block_id):
    """Unique (packed piece, node) pairs: a piece voxel next to a region voxel."""
    coords = np.stack(np.nonzero(labels), 1)
    if not len(coords):
        return np.zeros((0, 2), np.uint64)
    pieces = labels[tuple(coords.T)].astype(np.uint64) + (np.uint64(block_id) << np.uint64(32))
    found = []
    for off in OFFSETS:
        there = regions[tuple((coords + 1 + off).T)]
        hit = there > 0
        if hit.any():
            found.append(np.stack([pieces[hit], there[hit].astype(np.uint64)], 1))
    if not found:
        return np.zeros((0, 2), np.uint64)
    return np.unique(np.concatenate(found), axis=0)


def _crossings(edges, regions):
    """Unique (a, b) node pairs: a connecting voxel of the chunk in a's region
    next to a connecting voxel in b's region."""
    inside = (edges != 0) & (regions != 0)
    inside[0, :, :] = inside[-1, :, :] = False
    inside[:, 0, :] = inside[:, -1, :] = False
    inside[:, :, 0] = inside[:, :, -1] = False
    coords = np.stack(np.nonzero(inside), 1)
    if not len(coords):
        return np.zeros((0, 2), np.uint64)
    here = regions[tuple(coords.T)]
    found = []
    # every adjacent pair has a voxel in some chunk, which sees it
    for off in OFFSETS:
        moved = tuple((coords + off).T)
        there = regions[moved]
        hit = (there != 0) & (there != here) & (edges[moved] != 0)
        if hit.any():
            found.append(np.sort(np.stack([here[hit], there[hit]], 1), 1).astype(np.uint64))
    if not found:
        return np.zeros((0, 2), np.uint64)
    return np.unique(np.concatenate(found), axis=0)


def _global_touches(parts, final, offsets):
    parts = [p for p in parts if len(p)]
    if not parts:
        return np.zeros((0, 2), np.uint64)
    packed = np.concatenate(parts)
    block = (packed[:, 0] >> np.uint64(32)).astype(np.int64)
    local = (packed[:, 0] & np.uint64(0xFFFFFFFF)).astype(np.int64)
    piece = final[offsets[block] + local].astype(np.uint64)
    return np.unique(np.stack([piece, packed[:, 1]], 1), axis=0)


def search_regions(nodes, *, search, spacing=(1.0, 1.0, 1.0), chunks=None, progress=None):
    """Search regions as a lazy label volume, equal to :func:`engine.network.search_regions`.

    Each chunk reads its nodes grown by the search reach and grows every
    node whose box reaches it, with the in-memory rule (nearest node
    within ``search``; ties to the smaller label).

    Examples
    --------
    >>> nodes = np.zeros((1, 1, 9), np.uint8); nodes[0, 0, 0] = 1; nodes[0, 0, 8] = 2
    >>> search_regions(nodes, search=3, chunks=(1, 1, 4)).compute()[0, 0].tolist()
    [1, 1, 1, 1, 0, 2, 2, 2, 2]
    """
    from dask.array.overlap import ensure_minimum_chunksize

    spacing = check_spacing(spacing)
    search = check_distance(search, name="search")
    nodes_da = as_dask(nodes, chunks=chunks, name="nodes")
    depth = [max(min(p, n), 1) for p, n in zip(grow_pad(search, spacing), nodes_da.shape)]
    nodes_da = nodes_da.rechunk(tuple(
        ensure_minimum_chunksize(min(d, n), c)
        for d, n, c in zip(depth, nodes_da.shape, nodes_da.chunks)))
    table = label_properties(nodes_da, spacing=spacing, progress=progress)
    plan = _Plan(nodes_da, table, search, spacing, margin=0)
    graph = TaskGraph("regions")
    grown = plan.grown(nodes_da)
    origins = dict(chunk_grid(nodes_da))

    def make(index):
        geometry, rows, reach, sp = plan.chunk_args(index, origins[index])
        return (_regions_chunk, graph.block(grown, index), geometry, rows, reach, sp)

    return graph.array("regions", nodes_da, nodes_da.dtype, make)


def _regions_chunk(nodes_ext, geometry, rows, reach, spacing):
    """engine.network.search_regions on one chunk (larger labels first, "<=")."""
    core_lo, core_hi, ext_lo, _shape = (np.asarray(g) for g in geometry)
    shape = tuple(core_hi - core_lo)
    regions = np.zeros(shape, nodes_ext.dtype)
    best = np.full(shape, np.inf, np.float32)
    order = np.argsort(rows["labels"])[::-1]
    for label, dist, target in _node_distances(nodes_ext, ext_lo, core_lo, core_hi, rows,
                                               order, spacing):
        win = (dist <= reach) & (dist <= best[target])
        regions[target][win] = label
        best[target][win] = dist[win]
    return regions


def _bridge(edges, distance, spacing):
    """Edges dilated by a physical ``distance`` (a mask), with the overlap it needs."""
    depth = {a: int(np.ceil(distance / s)) + 1 for a, s in enumerate(spacing)}
    return edges.map_overlap(_bridge_chunk, depth=depth, boundary="none",
                             dtype=np.uint8, distance=distance, spacing=spacing)


def _bridge_chunk(block, distance, spacing):
    import edt

    return (edt.edt(block == 0, anisotropy=spacing, black_border=False) <= distance).view(np.uint8)


def _edge_label_volume(plan, nodes_da, edges_da, final, offsets, dropped, n_pieces):
    """Lazy volume of edge objects with the edge table's ids (trunks removed)."""
    dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64)
                 if n_pieces <= np.iinfo(t).max)
    lookup_all = final.copy()
    if len(dropped):
        lookup_all[np.isin(lookup_all, dropped.astype(np.int64))] = 0
    graph = TaskGraph("edge-labels")
    grown_nodes, grown_edges = plan.grown(nodes_da), plan.grown(edges_da)
    origins = dict(chunk_grid(nodes_da))

    def make(index):
        block = plan.block_id(index)
        end = offsets[block + 1] if block + 1 < len(offsets) else len(final) - 1
        lookup = np.zeros(end - offsets[block] + 1, np.int64)
        lookup[1:] = lookup_all[offsets[block] + 1: end + 1]
        return (_edge_label_chunk, graph.block(grown_nodes, index),
                graph.block(grown_edges, index), *plan.chunk_args(index, origins[index]),
                lookup, dtype)

    return graph.array("edges", nodes_da, dtype, make)


def _edge_label_chunk(nodes_ext, edges_ext, geometry, rows, reach, spacing, lookup, dtype):
    _regions_, _edges, cut = _cut_core(nodes_ext, edges_ext, geometry, rows, reach, spacing)
    labels, n = _labels.label_chunk(cut, 26)
    if n + 1 != len(lookup):
        raise RuntimeError("a chunk changed between the two passes of connect()")
    return lookup.astype(dtype)[labels]
