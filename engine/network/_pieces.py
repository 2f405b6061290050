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
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from ._neighbours import OFFSETS, shifted

#: Planes per slab; 32 planes of 1024 x 1024 uint32 is 128 MB.
SLAB_PLANES = 32


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
                 keep_volume=False, slab=SLAB_PLANES):
    """Connected pieces of ``edges`` with the voxels ``cut_flat`` removed.

    ``cand_*`` describe the search-region voxels (sorted flat index, (z, y,
    x) coordinates, node label) whose neighbouring piece ids are wanted.
    """
    shape = edges.shape
    plane = shape[1] * shape[2]
    binary = bool(edges.max() <= 1)
    offset = 0
    glue, found, size_ids, size_counts = [], [], [], []
    volume = np.zeros(shape, np.uint32) if keep_volume else None
    previous = None  # (offset, local labels of the previous slab's last two planes)
    for z0 in range(0, shape[0], slab):
        z1 = min(z0 + slab, shape[0])
        h0, h1 = max(z0 - 1, 0), min(z1 + 1, shape[0])
        outer = edges[h0:h1].copy()
        lo, hi = np.searchsorted(cut_flat, [h0 * plane, h1 * plane])
        outer.reshape(-1)[cut_flat[lo:hi] - h0 * plane] = 0
        local, n_local = cc3d.connected_components(
            outer, connectivity=26, return_N=True, binary_image=binary
        )
        del outer
        local = local.astype(np.int64, copy=False) if local.dtype == np.uint64 else local
        if previous is not None:
            prev_offset, prev_planes = previous
            mine = local[: z0 - h0 + 1]  # planes z0 - 1 and z0
            both = (prev_planes > 0) & (mine > 0)
            if both.any():
                glue.append(np.stack(
                    [prev_planes[both].astype(np.int64) + prev_offset,
                     mine[both].astype(np.int64) + offset], 1))
        core = local[z0 - h0: z0 - h0 + (z1 - z0)]
        ids, counts = np.unique(core[core > 0], return_counts=True)
        size_ids.append(ids.astype(np.int64) + offset)
        size_counts.append(counts)
        if keep_volume:
            volume[z0:z1] = np.where(core > 0, core.astype(np.uint32) + offset, 0)
        lo, hi = np.searchsorted(cand_flat, [z0 * plane, z1 * plane])
        if hi > lo:
            found.append(_touches_in_slab(
                local, h0, cand_coords[lo:hi], cand_region[lo:hi], offset))
        previous = (offset, local[z1 - 1 - h0: z1 + 1 - h0].copy() if z1 < shape[0] else None)
        offset += int(n_local)
    final, n = _resolve(offset, glue)
    sizes = np.zeros(n + 1, np.int64)
    if size_ids:
        np.add.at(sizes, final[np.concatenate(size_ids)], np.concatenate(size_counts))
    touches = np.zeros((0, 2), np.uint64)
    found = [f for f in found if len(f)]
    if found:
        both = np.concatenate(found)
        touches = np.unique(
            np.stack([final[both[:, 0]].astype(np.uint64), both[:, 1]], 1), axis=0)
    if keep_volume:
        # Apply the final numbering slab by slab to keep memory flat.
        for z0 in range(0, shape[0], slab):
            part = volume[z0:z0 + slab]
            part[...] = final[part].astype(np.uint32)
    return Pieces(n, touches, sizes, volume)


def _touches_in_slab(local, h0, coords, region, offset):
    """(provisional piece id, node) for pieces next to search-region voxels."""
    coords = coords - np.array([h0, 0, 0])
    out = []
    for off in OFFSETS:
        flat, inside = shifted(coords, off, local.shape)
        piece = local.reshape(-1)[flat]
        hit = piece > 0
        if hit.any():
            out.append(np.stack(
                [piece[hit].astype(np.uint64) + np.uint64(offset),
                 region[inside][hit].astype(np.uint64)], 1))
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
