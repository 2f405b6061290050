"""Labelling and per-label measures of volumes larger than memory.

:func:`connected_components` gives the same ids as
:func:`engine.label.connected_components` on the whole volume; the result
is a :class:`ChunkedLabels` (the global numbering, a per-object table)
whose label volume is computed lazily, chunk by chunk, as a
``dask.array`` or straight into a zarr store.
"""

import numpy as np

from .._validate import check_distance, check_spacing
from . import _labels
from ._dask import TaskGraph, as_dask, chunk_grid, same_chunks


class ChunkedLabels:
    """Connected components of a chunked volume, merged across chunks.

    Attributes
    ----------
    n : int
        Number of objects (ids 1..n, in raster order of their first voxel).
    shape, chunks : tuple
        Of the labelled volume.
    """

    def __init__(self, source, connectivity, final, offsets, table, keep=None):
        self._source = source
        self.connectivity = connectivity
        self._final = final
        self._offsets = offsets
        self._table = table
        self.n = 0 if table is None else len(table["counts"])
        # kept object ids, renumbered 1..k (None: every object as it is)
        self._keep = keep
        self.shape, self.chunks = source.shape, source.chunks

    @property
    def voxels(self):
        """Voxel count of each object, ``voxels[k - 1]`` for id ``k``."""
        return np.zeros(0, np.int64) if self._table is None else self._table["counts"]

    def _renumbering(self):
        """Global id -> output id (0 removes an object)."""
        if self._keep is None:
            return np.arange(self.n + 1, dtype=np.int64)
        out = np.zeros(self.n + 1, np.int64)
        out[self._keep] = np.arange(1, len(self._keep) + 1)
        return out

    @property
    def n_kept(self):
        return self.n if self._keep is None else len(self._keep)

    def dtype(self):
        top = self.n_kept
        return next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64)
                    if top <= np.iinfo(t).max)

    def filter_by_volume(self, *, spacing=(1.0, 1.0, 1.0), min_volume=None, max_volume=None):
        """Keep objects whose physical volume is in [min_volume, max_volume].

        Ids are renumbered 1..k in order of first voxel, as
        :func:`engine.segment.filter_by_volume` does in memory; no chunk
        is read (the sizes are known from the first pass).
        """
        from .._errors import InvalidInputError

        spacing = check_spacing(spacing)
        voxel = float(np.prod(spacing))
        low = 0.0 if min_volume is None else check_distance(min_volume, name="min_volume")
        high = np.inf if max_volume is None else check_distance(max_volume, name="max_volume")
        if high < low:
            raise InvalidInputError(f"max_volume ({high}) must be at least min_volume ({low})")
        volume = self.voxels * voxel
        eps = voxel * 1e-6
        ids = np.arange(1, self.n + 1)
        if self._keep is not None:
            ids = np.asarray(self._keep)
        chosen = ids[(volume[ids - 1] >= low - eps) & (volume[ids - 1] <= high + eps)]
        return ChunkedLabels(self._source, self.connectivity, self._final, self._offsets,
                             self._table, keep=chosen)

    def properties(self, *, spacing=(1.0, 1.0, 1.0)):
        """The table of :func:`engine.label.label_properties`, without reading chunks."""
        import pandas as pd

        from ..label._properties import PROPERTY_COLUMNS

        spacing = np.asarray(check_spacing(spacing))
        if self._table is None:
            return pd.DataFrame({c: [] for c in PROPERTY_COLUMNS})
        ids = np.arange(1, self.n + 1) if self._keep is None else np.asarray(self._keep)
        rows = ids - 1
        new_ids = self._renumbering()[ids]
        return _property_frame(
            new_ids, self._table["counts"][rows], self._table["sums"][rows],
            self._table["lows"][rows], self._table["highs"][rows], spacing)

    def lookup(self, index, renumber=None):
        """Local id -> output id of the chunk at ``index`` (a chunk-grid index)."""
        block = int(np.ravel_multi_index(index, [len(c) for c in self.chunks]))
        start = self._offsets[block]
        n_local = (self._offsets[block + 1] if block + 1 < len(self._offsets)
                   else len(self._final) - 1) - start
        local = np.zeros(n_local + 1, np.int64)
        local[1:] = self._final[start + 1: start + 1 + n_local]
        return (self._renumbering() if renumber is None else renumber)[local]

    def to_dask(self):
        """The label volume as a lazy ``dask.array`` (each chunk labelled again)."""
        graph = TaskGraph("relabel")
        dtype = self.dtype()
        renumber = self._renumbering()

        def make(index):
            return (_labels.relabel_chunk, graph.block(self._source, index),
                    self.lookup(index, renumber), self.connectivity, dtype)

        return graph.array("labels", self._source, dtype, make)


def connected_components(volume, *, connectivity=26, chunks=None, progress=None):
    """Label the connected objects of a mask or label volume, chunk by chunk.

    Parameters
    ----------
    volume : dask array, zarr array, zarr path or ndarray, (z, y, x)
        Binary mask or label volume (different labels never merge).
    connectivity : {6, 18, 26}
    chunks : (int, int, int), optional
        Rechunk first (default: the input's chunks).
    progress : callable, optional
        ``progress(done, total)`` as each chunk's first pass finishes.

    Returns
    -------
    ChunkedLabels
        ``.to_dask()`` equals ``engine.label.connected_components(volume)[0]``.

    Examples
    --------
    >>> m = np.zeros((4, 4, 9), bool); m[1, 1, :] = True; m[3, 3, 0] = True
    >>> cc = connected_components(m, chunks=(2, 2, 2))
    >>> cc.n, cc.to_dask().compute()[1, 1, 8], cc.voxels.tolist()
    (2, np.uint8(1), [9, 1])
    """
    connectivity = _labels.check_connectivity(connectivity)
    source = as_dask(volume, chunks=chunks, name="volume")
    binary = source.dtype == bool
    stats, pairs = _first_pass(source, connectivity, binary, progress)
    n_blocks = int(np.prod([len(c) for c in source.chunks]))
    final, offsets, table = _labels.resolve(stats, pairs, n_blocks)
    return ChunkedLabels(source, connectivity, final, offsets, table)


def _first_pass(source, connectivity, binary, progress):
    import operator

    graph = TaskGraph("components")
    stats, faces = {}, {}
    for index, origin in chunk_grid(source):
        summary = graph.add("summary", index, _labels.chunk_summary, graph.block(source, index),
                            list(origin), list(source.shape), connectivity, binary)
        stats[index] = graph.add("stats", index, operator.getitem, summary, 0)
        faces[index] = graph.add("faces", index, operator.getitem, summary, 1)
    pairs = face_pair_tasks(graph, source, faces, connectivity)
    order = [stats[index] for index, _ in chunk_grid(source)]
    results = graph.run(order + pairs, progress=progress, counted=order)
    stats_list = results[: len(order)]
    found = [p for p in results[len(order):] if len(p)]
    all_pairs = np.concatenate(found) if found else np.zeros((0, 2), np.int64)
    return stats_list, all_pairs


def face_pair_tasks(graph, source, faces, connectivity):
    """One task per chunk and axis pairing the ids that touch across its upper face.

    ``faces[index]`` is the key of chunk ``index``'s faces (a dict by
    ``(axis, side)``); returns the keys of the pair tasks. Each face, and
    each strip of one a diagonal neighbour needs, is a task of its own, so
    it is cut where the faces are and only it travels.
    """
    grid = [len(c) for c in source.chunks]
    reach = {6: 1, 18: 2, 26: 3}[connectivity]
    parts = {}

    def part(index, axis, side, db=0, dc=0):
        kind = f"face{axis}{side}{db + 1}{dc + 1}"
        if (kind, index) not in parts:
            parts[kind, index] = graph.add(kind, index, _labels.face_part, faces[index],
                                           axis, side, db, dc)
        return parts[kind, index]

    pairs = []
    for index, _origin in chunk_grid(source):
        for axis in range(3):
            if index[axis] + 1 >= grid[axis]:
                continue
            b_axis, c_axis = [a for a in range(3) if a != axis]
            lower, lower_ids = [], []
            for db in (-1, 0, 1):
                row, row_ids = [], []
                for dc in (-1, 0, 1):
                    q = list(index)
                    q[axis] += 1
                    q[b_axis] += db
                    q[c_axis] += dc
                    inside = 0 <= q[b_axis] < grid[b_axis] and 0 <= q[c_axis] < grid[c_axis]
                    if inside and 1 + abs(db) + abs(dc) <= reach:
                        row.append(part(tuple(q), axis, "low", db, dc))
                        row_ids.append(int(np.ravel_multi_index(q, grid)))
                    else:
                        row.append(None)
                        row_ids.append(0)
                lower.append(row)
                lower_ids.append(row_ids)
            pairs.append(graph.add(f"pairs{axis}", index, _labels.face_pairs,
                                   part(index, axis, "high"), lower,
                                   int(np.ravel_multi_index(index, grid)), lower_ids,
                                   connectivity))
    return pairs


def _property_frame(labels, counts, sums, lows, highs, spacing):
    import pandas as pd

    counts = np.asarray(counts, np.int64)
    # cc3d divides exact integer sums by the count, then we scale: the same
    # arithmetic gives the same bits
    centroids = (np.asarray(sums, np.float64) / counts[:, None]) * spacing
    table = pd.DataFrame({
        "label": np.asarray(labels, np.uint64),
        "voxels": counts,
        "volume": counts * float(np.prod(spacing)),
        "z": centroids[:, 0], "y": centroids[:, 1], "x": centroids[:, 2],
        "z0": lows[:, 0], "y0": lows[:, 1], "x0": lows[:, 2],
        "z1": highs[:, 0], "y1": highs[:, 1], "x1": highs[:, 2],
    })
    return table.sort_values("label", ignore_index=True)


def label_properties(labels, *, spacing=(1.0, 1.0, 1.0), image=None, progress=None):
    """Per-label properties of a chunked label volume, reduced across chunks.

    The same table as :func:`engine.label.label_properties` (ids kept as
    they are, up to uint64), computed one chunk at a time; only per-label
    sums travel between workers. ``mean_intensity`` sums in chunk order, so
    it may differ from the in-memory value in the last bits.

    Examples
    --------
    >>> lab = np.zeros((2, 4, 4), np.uint8); lab[:, 1:3, 1:3] = 7
    >>> label_properties(lab, spacing=(3, 1, 1))[["label", "voxels", "z"]].values.tolist()
    [[7.0, 8.0, 1.5]]
    """
    spacing = np.asarray(check_spacing(spacing))
    source = as_dask(labels, name="labels")
    if image is not None:
        source, image = same_chunks(source, as_dask(image, name="image"),
                                    names=("labels", "image"))
    graph = TaskGraph("properties")
    tasks = [graph.add("stats", i, _chunk_label_stats, graph.block(source, i), list(origin),
                       *(() if image is None else (graph.block(image, i),)))
             for i, origin in chunk_grid(source)]
    parts = [p for p in graph.run(tasks, progress=progress) if p is not None]
    import pandas as pd

    from ..label._properties import PROPERTY_COLUMNS

    if not parts:
        columns = list(PROPERTY_COLUMNS) + (["mean_intensity"] if image is not None else [])
        return pd.DataFrame({c: [] for c in columns})
    ids = np.concatenate([p["ids"] for p in parts])
    unique, where = np.unique(ids, return_inverse=True)
    n = len(unique)
    counts = np.bincount(where, weights=np.concatenate([p["counts"] for p in parts]),
                         minlength=n).astype(np.int64)
    sums = np.zeros((n, 3), np.int64)
    lows = np.full((n, 3), np.iinfo(np.int64).max, np.int64)
    highs = np.zeros((n, 3), np.int64)
    np.add.at(sums, where, np.concatenate([p["sums"] for p in parts]))
    np.minimum.at(lows, where, np.concatenate([p["lows"] for p in parts]))
    np.maximum.at(highs, where, np.concatenate([p["highs"] for p in parts]))
    table = _property_frame(unique, counts, sums, lows, highs, spacing)
    if image is not None:
        totals = np.bincount(where, weights=np.concatenate([p["intensity"] for p in parts]),
                             minlength=n)
        table["mean_intensity"] = totals / counts  # unique is sorted, as the table
    return table


def _chunk_label_stats(block, origin, image=None):
    """Per-label counts, exact coordinate sums and boxes of one chunk."""
    import cc3d

    from ..label._properties import dense_labels

    block = np.ascontiguousarray(block)
    if not block.any():
        return None
    dense, ids = dense_labels(block)
    n = int(dense.max())
    table = cc3d.statistics(dense, no_slice_conversion=True)
    counts = np.asarray(table["voxel_counts"], np.int64)
    present = np.flatnonzero(counts)
    present = present[present != 0]
    boxes = np.asarray(table["bounding_boxes"], np.int64).reshape(-1, 3, 2)[present]
    origin = np.asarray(origin)
    sums = _labels.coordinate_sums(dense, n, origin)[present]
    out = {"ids": ids[present].astype(np.uint64), "counts": counts[present], "sums": sums,
           "lows": boxes[:, :, 0] + origin, "highs": boxes[:, :, 1] + 1 + origin}
    if image is not None:
        weights = np.asarray(image, np.float64).reshape(-1)
        out["intensity"] = np.bincount(dense.reshape(-1), weights=weights,
                                       minlength=n + 1)[present]
    return out
