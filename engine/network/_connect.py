"""Networks of nodes linked through connecting objects (vessels, nerves).

The algorithm, in the order it runs:

1. Each node's *search region* is the node grown by the physical search
   radius, Voronoi-style: a voxel within reach of several nodes belongs to
   the nearest (ties go to the smaller label). It is evaluated only where
   it matters (on and beside connecting voxels), node crop by node crop.
2. Connecting objects are cut where they enter search regions. The pieces
   left outside (26-connected; a labelled input never merges two labels)
   are the *edge objects*; optionally the largest ones ("trunks") are
   dropped.
3. An edge object links every pair of nodes whose search regions it
   touches (it has a voxel 26-adjacent to the region: with radius 0, a
   vessel lying against a node links it), so a Y-shaped vessel reaching three nodes
   links all three pairs. A connecting object that runs straight from one
   search region into a neighbouring one (regions that meet) links those
   two nodes as well; such links get edge ids above those of the pieces.

Nothing is dilated unless the user asks (``bridge``): two vessels passing
one voxel apart stay two objects.
"""

import itertools

import fastremap
import numpy as np

from .._validate import (
    check_distance,
    check_labels,
    check_same_shape,
    check_spacing,
    is_chunked,
)
from ..label import label_properties
from ._crops import default_workers, distance_to_label, flat_indices, map_crops, node_crops
from ._neighbours import OFFSETS, Neighbourhood
from ._pieces import label_pieces



def connect(nodes, edges, *, search, spacing=(1.0, 1.0, 1.0), trunks=0, bridge=None,
            keep_edge_labels=False, progress=None, workers=None):
    """Build the network of ``nodes`` linked through connecting objects.

    Parameters
    ----------
    nodes : ndarray of unsigned int, (z, y, x)
        Node label volume; ids may be sparse, up to uint64, and are kept.
        A zarr path, zarr array or dask array (for ``nodes`` or ``edges``)
        runs :func:`engine.blockwise.connect` instead: the same result,
        one chunk at a time.
    edges : ndarray, (z, y, x)
        Connecting objects: a binary mask, or labelled edge objects.
    search : float
        Search radius in physical units (0: nodes must touch the objects).
    spacing : tuple of 3 floats
        Voxel size (dz, dy, dx).
    trunks : int
        Number of largest edge objects to drop before linking (NetTracer3D's
        "remove trunk": a trunk vessel that would link everything).
    bridge : float, optional
        Close gaps in broken connecting objects first by dilating them by
        this physical distance. Labelled edges become a mask.
    keep_edge_labels : bool
        Also return the volume of edge objects (ids as in the edge table).
    progress : callable, optional
        Called as ``progress(done, total)`` while node crops are processed.
    workers : int, optional
        Threads to use (default: every core this process may use).

    Returns
    -------
    Network
        ``.edges`` has one row per node pair per edge object, columns
        ``node_a < node_b`` (original ids) and ``edge_id``; ``.nodes`` is
        :func:`engine.label.label_properties` of the nodes.

    Examples
    --------
    Two nodes joined by a vessel, a third one beside it, dz = 2 dx:

    >>> nodes = np.zeros((3, 5, 12), np.uint16)
    >>> nodes[:, 1:4, 0:2] = 10; nodes[:, 1:4, 10:12] = 20
    >>> nodes[0, 4, 5] = 30                      # beside, one voxel away
    >>> vessel = np.zeros_like(nodes, np.uint8); vessel[2, 2, 2:10] = 1
    >>> net = connect(nodes, vessel, search=1.0, spacing=(2, 1, 1))
    >>> net.edges[["node_a", "node_b"]].values.tolist()
    [[10, 20]]
    """
    from ._core import Network

    if is_chunked(nodes) or is_chunked(edges):
        from ..blockwise import connect as connect_blockwise

        return connect_blockwise(nodes, edges, search=search, spacing=spacing, trunks=trunks,
                                 bridge=bridge, keep_edge_labels=keep_edge_labels,
                                 progress=progress)
    nodes = check_labels(nodes, name="nodes")
    edges = check_labels(edges, name="edges", allow_empty=True)
    check_same_shape(nodes, edges)
    spacing = check_spacing(spacing)
    search = check_distance(search, name="search")
    trunks = int(check_distance(trunks, name="trunks"))
    if bridge is not None:
        edges = _bridge(edges, check_distance(bridge, name="bridge"), spacing)

    table = label_properties(nodes, spacing=spacing)
    workers = default_workers() if workers is None else max(int(workers), 1)
    cand_flat, cand_region = _search_region_candidates(
        nodes, edges, table, search, spacing, progress, workers
    )
    is_vessel = edges.reshape(-1)[cand_flat] != 0
    coords = np.stack(np.unravel_index(cand_flat, nodes.shape), axis=1)

    # Cut the connecting objects at the search regions; label what is left.
    pieces = label_pieces(
        edges, cand_flat[is_vessel], cand_flat, coords, cand_region,
        keep_volume=keep_edge_labels, workers=workers,
    )
    touches = pieces.touches
    if trunks and pieces.n:
        order = np.argsort(-pieces.sizes[1:], kind="stable")[:trunks] + 1
        touches = touches[~np.isin(touches[:, 0], order.astype(np.uint64))]
        if pieces.volume is not None:
            fastremap.mask(pieces.volume, [int(i) for i in order], in_place=True)
    crossings = _region_crossings(coords, cand_flat, cand_region, is_vessel, nodes.shape)
    del coords, cand_flat, cand_region, is_vessel
    rows = _link_rows(touches, crossings, first_inner_id=pieces.n + 1)

    edge_table = _edge_table(rows)
    return Network(
        nodes=table,
        edges=edge_table,
        spacing=spacing,
        method="connect",
        params={"search": search, "trunks": trunks, "bridge": bridge},
        edge_labels=pieces.volume,
    )


def _bridge(edges, distance, spacing):
    import edt

    mask = edges == 0
    return (edt.edt(mask, anisotropy=spacing, black_border=False) <= distance).view(np.uint8)


def _search_region_candidates(nodes, edges, table, search, spacing, progress, workers):
    """Search-region labels on and beside every connecting voxel.

    Returns sorted flat indices and, for each, the node whose search region
    holds it. Voxels outside every search region are not listed.
    """
    from scipy import ndimage

    reach = search * (1 + 1e-6) + 1e-9

    labels = table["label"].to_numpy(np.uint64)
    row_of = {int(label): k for k, label in enumerate(labels)}

    def one_node(label, slices):
        row = row_of[int(label)]
        near_vessel = edges[slices] != 0
        if not near_vessel.any():
            return None
        # Voxels on or 26-adjacent to a connecting voxel are all we look at.
        near_vessel = ndimage.maximum_filter(near_vessel.view(np.uint8), size=3) > 0
        dist = distance_to_label(nodes[slices], label, spacing)
        hit = near_vessel & (dist <= reach)
        if not hit.any():
            return None
        flat = flat_indices(hit, slices, nodes.shape)
        return flat, np.full(flat.size, row, dtype=np.int32), dist[hit].astype(np.float32)

    # One voxel of margin: a voxel within reach may touch a connecting voxel
    # just beyond it.
    crops = node_crops(nodes, table, search, spacing, margin=1)
    found = [r for r in map_crops(one_node, crops, workers=workers, progress=progress) if r]
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    flat, row, dist = (np.concatenate(parts) for parts in zip(*found))
    del found
    # Nearest node wins; the stable sort gives ties to the smaller label
    # (table rows are sorted by label).
    order = np.lexsort((dist, flat))
    del dist
    flat, row = flat[order], row[order]
    first = np.ones(flat.size, bool)
    first[1:] = flat[1:] != flat[:-1]
    return flat[first], labels[row[first]]


def _region_crossings(coords, cand_flat, cand_region, is_vessel, shape):
    """Unique (node a, node b) pairs joined by a connecting voxel crossing
    straight from a's search region into b's."""
    vessel_region = cand_region[is_vessel]
    vessel_flat = cand_flat[is_vessel]  # sorted, since cand_flat is
    if not vessel_flat.size:
        return np.zeros((0, 2), np.uint64)
    hood = Neighbourhood(coords[is_vessel], shape)
    found = []
    # Half of the offsets suffice: each crossing is seen from one side.
    for offset in OFFSETS[: len(OFFSETS) // 2]:
        flat, which = hood.shift(offset)
        pos = np.searchsorted(vessel_flat, flat)
        pos[pos == vessel_flat.size] = 0
        is_in = vessel_flat[pos] == flat
        here = vessel_region[which[is_in]]
        there = vessel_region[pos[is_in]]
        differ = here != there
        if differ.any():
            pair = np.sort(np.stack([here[differ], there[differ]], 1), axis=1)
            found.append(pair)
    if not found:
        return np.zeros((0, 2), np.uint64)
    return np.unique(np.concatenate(found), axis=0)


def _link_rows(touches, crossings, *, first_inner_id):
    """Edge-table rows (node_a, node_b, edge_id) from touches and crossings."""
    rows = []
    if len(touches):
        piece_ids = touches[:, 0]
        starts = np.flatnonzero(np.r_[True, piece_ids[1:] != piece_ids[:-1]])
        ends = np.r_[starts[1:], len(piece_ids)]
        for start, end in zip(starts, ends):
            if end - start < 2:
                continue  # touches one node only: links nothing
            members = touches[start:end, 1]
            for a, b in itertools.combinations(members.tolist(), 2):
                rows.append((a, b, int(piece_ids[start])))
    for k, (a, b) in enumerate(crossings.tolist()):
        rows.append((a, b, first_inner_id + k))
    return rows


def _edge_table(rows):
    import pandas as pd

    table = pd.DataFrame(rows, columns=["node_a", "node_b", "edge_id"], dtype=np.uint64)
    table = table.astype({"edge_id": np.int64})
    return table.sort_values(["node_a", "node_b", "edge_id"], ignore_index=True)
