"""Label the connecting objects left outside the search regions, slab by slab.

A whole-volume ``cc3d`` call needs a 4-byte output per voxel (512 MB at
512^3) plus a copy of the mask. Here the volume is labelled in z-slabs that
overlap their neighbours by one plane on each side; the ids of the voxels
two slabs share are glued with a union-find (scipy's connected components),
which gives exactly the global 26-connected components. Only what the
network needs is kept: the piece id next to every search-region voxel, and
each piece's size.
"""

import cc3d
import fastremap
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ._neighbours import OFFSETS, Neighbourhood

#: Planes per slab; 8 planes of 1024 x 1024 uint32 is 32 MB per thread.
SLAB_PLANES = 8


class Pieces:
    """Result of :func:`label_pieces`.

    Attributes
    ----------
    n : int
        Number of pieces (ids 1..n).
    touches : ndarray, (T, 2) uint64
        Unique (piece id, node label) pairs: a piece voxel 26-adjacent to a
        voxel of that node's search region; sorted.
    sizes : ndarray, (n + 1,) int64
        Voxel count of each piece (``sizes[0]`` unused).
    volume : ndarray or None
        Label volume of the pieces, when asked for.
    """

    def __init__(self, n, touches, sizes, volume):
        self.n, self.touches, self.sizes, self.volume = n, touches, sizes, volume


def label_pieces(edges, cut_flat, cand_flat, cand_coords, cand_region, *,
                 keep_volume=False, slab=None, workers=1):
    """Connected pieces of ``edges`` with the voxels ``cut_flat`` removed.

    ``cand_*`` describe the search-region voxels (sorted flat index, (z, y,
    x) coordinates, node label) whose neighbouring piece ids are wanted.
    Slabs are labelled in ``workers`` threads (cc3d releases the GIL).
    """
    shape = edges.shape
    plane = shape[1] * shape[2]
    slab = slab or SLAB_PLANES
    binary = bool(edges.max() <= 1)
    volume = np.zeros(shape, np.uint32) if keep_volume else None
    starts = list(range(0, shape[0], slab))

    def one_slab(z0):
        z1 = min(z0 + slab, shape[0])
        h0, h1 = max(z0 - 1, 0), min(z1 + 1, shape[0])
        outer = edges[h0:h1].copy()
        lo, hi = np.searchsorted(cut_flat, [h0 * plane, h1 * plane])
        outer.reshape(-1)[cut_flat[lo:hi] - h0 * plane] = 0
        local, n_local = cc3d.connected_components(
            outer, connectivity=26, return_N=True, binary_image=binary
        )
        del outer
        core = local[z0 - h0: z1 - h0]
        ids, id_counts = fastremap.unique(core, return_counts=True)
        counts = np.zeros(int(n_local) + 1, np.int64)
        counts[ids.astype(np.int64)] = id_counts
        counts = counts[1:]
        if keep_volume:
            volume[z0:z1] = core
        lo, hi = np.searchsorted(cand_flat, [z0 * plane, z1 * plane])
        touches = None
        if hi > lo:
            touches = _touches_in_slab(local, h0, cand_coords[lo:hi], cand_region[lo:hi])
        # Planes z0 - 1, z0 (shared with the slab below) and z1 - 1, z1 (above),
        # kept sparse: the ids of their foreground voxels, in flat order. Both
        # slabs see the same foreground there, so the two lists align.
        below = _foreground_ids(local[: z0 - h0 + 1]) if z0 > 0 else None
        above = _foreground_ids(local[z1 - 1 - h0: z1 + 1 - h0]) if z1 < shape[0] else None
        return int(n_local), counts, touches, below, above

    if workers > 1 and len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one_slab, starts))
    else:
        results = [one_slab(z0) for z0 in starts]

    offsets = np.cumsum([0] + [r[0] for r in results])
    glue, found = [], []
    for k, (_n, _counts, touches, below, _above) in enumerate(results):
        if touches is not None and len(touches):
            found.append(touches + np.array([offsets[k], 0], np.uint64))
        if below is not None and below.size:
            above = results[k - 1][4]
            glue.append(np.stack([above.astype(np.int64) + offsets[k - 1],
                                  below.astype(np.int64) + offsets[k]], 1))
    final, n = _resolve(int(offsets[-1]), glue)
    sizes = np.zeros(n + 1, np.int64)
    for k, (n_local, counts, *_rest) in enumerate(results):
        np.add.at(sizes, final[offsets[k] + 1: offsets[k] + 1 + n_local], counts)
    touches = np.zeros((0, 2), np.uint64)
    if found:
        both = np.concatenate(found)
        touches = np.unique(
            np.stack([final[both[:, 0]].astype(np.uint64), both[:, 1]], 1), axis=0)
    if keep_volume:
        for k, z0 in enumerate(starts):
            part = volume[z0:z0 + slab]
            # Provisional id = local id + slab offset; background stays 0.
            lookup = np.zeros(results[k][0] + 1, np.uint32)
            lookup[1:] = final[offsets[k] + 1: offsets[k] + 1 + results[k][0]]
            part[...] = lookup[part]
    return Pieces(n, touches, sizes, volume)


def _foreground_ids(planes):
    flat = planes.reshape(-1)
    return flat[np.flatnonzero(flat)]


def _touches_in_slab(local, h0, coords, region):
    """(local piece id, node) for pieces next to search-region voxels."""
    hood = Neighbourhood(coords - np.array([h0, 0, 0]), local.shape)
    flat_local = local.reshape(-1)
    out = []
    for off in OFFSETS:
        flat, which = hood.shift(off)
        piece = flat_local[flat]
        hit = piece > 0
        if hit.any():
            out.append(np.stack(
                [piece[hit].astype(np.uint64), region[which[hit]].astype(np.uint64)], 1))
    if not out:
        return np.zeros((0, 2), np.uint64)
    return np.unique(np.concatenate(out), axis=0)


def _resolve(n_provisional, glue):
    """Map provisional ids (1..n_provisional) to final ids 1..n, in order."""
    if n_provisional == 0:
        return np.zeros(1, np.int64), 0
    pairs = np.concatenate(glue) if glue else np.zeros((0, 2), np.int64)
    graph = sparse.coo_matrix(
        (np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])),
        shape=(n_provisional + 1, n_provisional + 1),
    )
    _, comp = csgraph.connected_components(graph, directed=False)
    # Number components 1..n by their first provisional id; 0 stays background.
    comp_of = comp[1:]
    _, first = np.unique(comp_of, return_index=True)
    rank = np.empty(comp.max() + 1, np.int64)
    rank[comp_of[np.sort(first)]] = np.arange(1, len(first) + 1)
    final = np.zeros(n_provisional + 1, np.int64)
    final[1:] = rank[comp_of]
    return final, len(first)
