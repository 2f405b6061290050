"""Connected components of a chunked volume, merged across chunk borders.

Each chunk is labelled alone with cc3d (pass 1), which also records, per
local object, its size, box, coordinate sums and first voxel in raster
order, and the six faces of the local label chunk. A task per chunk and
axis pairs the ids that touch across the chunk's upper face, looking one
voxel into the diagonal neighbours so that 18- and 26-connectivity are
exact. Only these small results reach the client: a union-find of the
pairs gives the global objects, numbered by their first voxel in raster
order, which is how cc3d numbers a whole volume, so the ids equal the
in-memory path's. Pass 2 labels each chunk again (deterministic) and maps
its local ids to global ones; no provisional label volume is ever stored.
"""

import cc3d
import fastremap
import numpy as np

from .._errors import InvalidInputError

#: Local ids per chunk are below 2**32; a pair id packs (chunk, local id).
_LOCAL_BITS = 32
_CONNECTIVITY = (6, 18, 26)


def check_connectivity(connectivity):
    if connectivity not in _CONNECTIVITY:
        raise InvalidInputError(
            f"connectivity must be one of 6, 18, 26, was {connectivity!r}")
    return int(connectivity)


def label_chunk(block, connectivity):
    """cc3d labels of one chunk (uint32, raster-ordered ids) and their count."""
    if block.dtype == bool:
        block = block.view(np.uint8)
    labels, n = cc3d.connected_components(
        np.ascontiguousarray(block), connectivity=connectivity, return_N=True,
        out_dtype=np.uint32)
    return labels, int(n)


def chunk_summary(block, origin, shape, connectivity, binary):
    """Pass 1 for one chunk: local labels reduced to what the merge needs.

    Returns ``(stats, faces)``. ``stats`` holds per local id (1..n) the
    voxel count, the first voxel's global flat index, the global box and
    the global coordinate sums (exact integers, so centroids match cc3d's
    to the last bit); ``faces`` the local ids (and input values, for a
    label volume) on the chunk's six faces.
    """
    labels, n = label_chunk(block, connectivity)
    return summarise_chunk(labels, n, block, origin, shape, binary)


def summarise_chunk(labels, n, block, origin, shape, binary):
    """The pass-1 result of a chunk whose local labels are already known."""
    stats = {"n": n}
    if n:
        ids, first = fastremap.unique(labels, return_index=True)
        keep = ids != 0
        ids, first = ids[keep].astype(np.int64), first[keep]
        local = np.stack(np.unravel_index(first, labels.shape), 1) + np.asarray(origin)
        table = cc3d.statistics(labels, no_slice_conversion=True)
        counts = np.asarray(table["voxel_counts"], np.int64)
        # cc3d's boxes are inclusive (min, max) pairs, one per numpy axis
        boxes = np.asarray(table["bounding_boxes"], np.int64).reshape(-1, 3, 2)
        lows = boxes[:, :, 0] + np.asarray(origin)
        highs = boxes[:, :, 1] + 1 + np.asarray(origin)
        sums = coordinate_sums(labels, n, origin)
        first_flat = np.zeros(n + 1, np.int64)
        first_flat[ids] = np.ravel_multi_index(local.T, shape)
        stats.update(counts=counts[1:], first=first_flat[1:], sums=sums[1:],
                     lows=lows[1:], highs=highs[1:])
    faces = {}
    for axis in range(3):
        for side, index in (("low", 0), ("high", -1)):
            face = np.take(labels, index, axis=axis)
            values = None if binary else np.take(block, index, axis=axis)
            faces[axis, side] = (np.ascontiguousarray(face), values)
    return stats, faces


#: Planes per slab when summing coordinates (bounds the temporary memory).
_SUM_PLANES = 16


def coordinate_sums(labels, n, origin):
    """Exact per-id sums of the global (z, y, x) coordinates, shape (n + 1, 3).

    Only foreground voxels are visited, a slab of planes at a time; float64
    sums of integer coordinates are exact below 2**53.
    """
    sums = np.zeros((n + 1, 3), np.float64)
    plane = labels.shape[1] * labels.shape[2]
    for z0 in range(0, labels.shape[0], _SUM_PLANES):
        flat = labels[z0: z0 + _SUM_PLANES].reshape(-1)
        where = np.flatnonzero(flat)
        if not where.size:
            continue
        ids = flat[where]
        z, rest = np.divmod(where, plane)
        y, x = np.divmod(rest, labels.shape[2])
        for axis, coord in enumerate((z + z0, y, x)):
            sums[:, axis] += np.bincount(ids, weights=coord + float(origin[axis]),
                                         minlength=n + 1)
    return sums.astype(np.int64)


#: Which rows (or columns) of a face the chunk beyond it at offset -1, 0, +1 needs.
_STRIPS = (slice(-1, None), slice(None), slice(0, 1))


def face_part(faces, axis, side, db, dc):
    """The part of a chunk's face that one neighbour's pair task reads.

    The whole face for the chunk straight beyond it; for a diagonal
    neighbour only the row, column or corner voxel next to it, so that a
    pair task pulls one face and eight thin strips, not nine faces.
    """
    labels, values = faces[axis, side]
    part = (_STRIPS[db + 1], _STRIPS[dc + 1])
    return (np.ascontiguousarray(labels[part]),
            None if values is None else np.ascontiguousarray(values[part]))


def face_pairs(upper, lower_faces, block_id, lower_ids, connectivity):
    """Packed (chunk, id) pairs touching across one chunk's upper face.

    ``upper`` is the chunk's ("high") face along the axis; ``lower_faces``
    the "low" faces of the 3 x 3 chunks beyond it, or the parts of them
    :func:`face_part` keeps (None where the volume ends), indexed
    [db + 1][dc + 1] over the face's two axes.
    """
    labels, values = upper
    nb, nc = labels.shape
    ext = np.zeros((nb + 2, nc + 2), np.int64)
    ext_values = None if values is None else np.zeros((nb + 2, nc + 2), values.dtype)
    rows = (slice(0, 1), slice(1, nb + 1), slice(nb + 1, nb + 2))
    cols = (slice(0, 1), slice(1, nc + 1), slice(nc + 1, nc + 2))
    # taking a strip of a strip is the strip itself, so parts pass through
    takes_b = takes_c = _STRIPS
    for i in range(3):
        for j in range(3):
            face = lower_faces[i][j]
            if face is None:
                continue
            lab, val = face
            part = lab[takes_b[i], takes_c[j]].astype(np.int64)
            packed = np.where(part > 0, part + (int(lower_ids[i][j]) << _LOCAL_BITS), 0)
            ext[rows[i], cols[j]] = packed
            if ext_values is not None:
                ext_values[rows[i], cols[j]] = val[takes_b[i], takes_c[j]]
    here = labels.astype(np.int64)
    here = np.where(here > 0, here + (int(block_id) << _LOCAL_BITS), 0)
    found = []
    for db in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if 1 + abs(db) + abs(dc) > {6: 1, 18: 2, 26: 3}[connectivity]:
                continue
            there = ext[1 + db: 1 + db + nb, 1 + dc: 1 + dc + nc]
            hit = (here > 0) & (there > 0)
            if ext_values is not None:
                hit &= values == ext_values[1 + db: 1 + db + nb, 1 + dc: 1 + dc + nc]
            if hit.any():
                found.append(np.stack([here[hit], there[hit]], 1))
    if not found:
        return np.zeros((0, 2), np.int64)
    return np.unique(np.concatenate(found), axis=0)


def resolve(stats, pairs, n_blocks):
    """Global numbering from the per-chunk stats and the cross-face pairs.

    Returns ``(final, offsets, table)``: ``final[offsets[b] + k]`` is the
    global id of chunk ``b``'s local id ``k`` (1-based, so index
    ``offsets[b]`` is unused background), and ``table`` the per-object
    arrays (counts, first, sums, lows, highs) in global order.
    """
    n_local = np.array([s["n"] for s in stats], np.int64)
    # provisional id of (chunk b, local k) = offsets[b] + k; 0 is background
    offsets = np.concatenate([[0], np.cumsum(n_local)[:-1]])
    total = int(n_local.sum())
    if total == 0:
        return np.zeros(1, np.int64), offsets, None
    merged = {}
    keys = ("counts", "first", "sums", "lows", "highs")
    for key in keys:
        merged[key] = np.concatenate([s[key] for s in stats if s["n"]])
    if pairs is not None and len(pairs):
        block = pairs >> _LOCAL_BITS
        local = pairs & ((1 << _LOCAL_BITS) - 1)
        prov = offsets[block] + local - 1  # 0-based provisional index
        from scipy import sparse
        from scipy.sparse import csgraph

        graph = sparse.coo_matrix(
            (np.ones(len(prov), np.int8), (prov[:, 0], prov[:, 1])), shape=(total, total))
        n_comp, comp = csgraph.connected_components(graph, directed=False)
    else:
        n_comp, comp = total, np.arange(total)
    first = np.full(n_comp, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, comp, merged["first"])
    # cc3d numbers objects by their first voxel in raster order
    order = np.argsort(first, kind="stable")
    rank = np.empty(n_comp, np.int64)
    rank[order] = np.arange(1, n_comp + 1)
    final = np.zeros(total + 1, np.int64)
    final[1:] = rank[comp]
    table = {"first": first[order]}
    gid = rank[comp] - 1
    table["counts"] = np.bincount(gid, weights=merged["counts"], minlength=n_comp).astype(np.int64)
    sums = np.zeros((n_comp, 3), np.int64)
    lows = np.full((n_comp, 3), np.iinfo(np.int64).max, np.int64)
    highs = np.zeros((n_comp, 3), np.int64)
    np.add.at(sums, gid, merged["sums"])
    np.minimum.at(lows, gid, merged["lows"])
    np.maximum.at(highs, gid, merged["highs"])
    table.update(sums=sums, lows=lows, highs=highs)
    # local -> final per chunk: final[offsets[b] + k] with the 1-based shift
    return final, offsets, table


def relabel_chunk(block, lookup, connectivity, dtype):
    """Pass 2: label one chunk again and map its local ids to global ones."""
    labels, n = label_chunk(block, connectivity)
    if n + 1 != len(lookup):
        raise RuntimeError(
            f"a chunk gave {n} objects on the second pass and {len(lookup) - 1} on the "
            "first: its input changed between the passes (is it being written?)")
    return lookup.astype(dtype, copy=False)[labels]
