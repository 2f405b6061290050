"""Skeletons of volumes larger than memory, one object at a time.

Why per object and not per chunk
--------------------------------
The usual way to skeletonise a large volume (kimimaro on igneous) traces
each chunk with some overlap and fuses the pieces at the chunk borders.
That is not the skeleton of the whole volume: TEASAR picks its root and
its paths from the distance field and the geometry of the region it sees,
so near a chunk border the paths, the branch points and even the number of
branches move, and the fused result depends on the chunking. Plexus's rule
is that a blockwise function gives what the in-memory function gives, so
this module distributes whole objects instead:

1. the objects and their bounding boxes come from one chunked pass
   (:func:`~engine.blockwise.connected_components` with 26-connectivity, as
   kimimaro labels a mask, or :func:`~engine.blockwise.label_properties`
   for a label volume), without loading the volume;
2. one task per object (small objects grouped) reads exactly the object's
   box grown by one voxel, keeps that object's voxels alone and runs the
   in-memory per-object code on it, returning the skeleton in global
   coordinates;
3. the pieces are merged, measured and pruned as the in-memory function
   merges them.

Why the box is enough, for TEASAR (what ``kimimaro.skeletonize`` does for
one connected component, done here on the box):

* the distance field kimimaro traces on is the multi-label EDT of the
  connected components: at a voxel of component A, the distance to the
  nearest voxel that is not in A. Any voxel outside the grown box projects
  onto the box's one-voxel shell, which is closer and not in A, so the
  nearest non-A voxel lies in the box; voxels of other objects in the box
  are not in A either way, so erasing them changes nothing. Where the box
  stops at the volume's edge, so does the volume, and the EDT is run with
  the whole volume's ``black_border`` setting;
* the tracing itself only sees the component's voxels and that field, in
  the component's own box;
* the root and the first targets of a component that touches the volume's
  faces (kimimaro's ``fix_borders``) depend on the whole face plane (the
  tie-breaks use the plane's size and centre) and on the order of a Python
  set of global coordinates: they are computed here on the six face planes
  of the whole volume, with kimimaro's own functions, and handed to each
  task in kimimaro's order, in global coordinates.

This mirrors kimimaro 5's ``skeletonize`` (``skeletonize_subset`` and
``compute_border_targets``) step by step; the tests compare with the
in-memory call, so a change in kimimaro shows there.

For thinning, the in-memory code already works per object on the grown
box of that object's voxels alone. So every piece equals the in-memory
piece, and after the same merge (kimimaro's consolidation for TEASAR, the
same object order for thinning) and the same pruning, the graph equals the
in-memory graph, array for array.

The price: one object's box must fit in a worker's memory. A vessel tree
whose box is most of the volume cannot be skeletonised this way, and
:func:`skeletonize` says so (``max_object_voxels``) rather than returning a
chunk-stitched skeleton that differs from the true one.
"""

import itertools
from collections import defaultdict

import numpy as np

from .._errors import InvalidInputError
from .._validate import check_choice, check_distance, check_spacing
from ._dask import TaskGraph, as_dask, dask

#: Working memory of a TEASAR task per voxel of an object's grown box. Measured
#: with kimimaro 5.8 (peak RSS of one task): 31 bytes on a 145^3 solid ball,
#: 23-32 on vessel trees, for the component labels, the EDT (float32), each
#: component's mask and distance field, kimimaro's PDRF and Dijkstra fields;
#: plus the box as read (up to 8 bytes), the object mask and its labelling
#: (5 bytes); rounded up.
BYTES_PER_VOXEL = 64
#: Default largest grown box: about 1 GB of working memory.
MAX_OBJECT_VOXELS = 2 ** 24
#: Objects are grouped into tasks up to this many box voxels (and at most
#: ``_GROUP_OBJECTS`` objects), so a volume of many small objects does not
#: become millions of tasks.
_GROUP_VOXELS = 2 ** 21
_GROUP_OBJECTS = 256
#: For a source that is not a zarr array, a task reads the chunks around its
#: objects' boxes: at most this many voxels of chunks per group.
_GROUP_CHUNK_VOXELS = 2 ** 24


def skeletonize(volume, spacing=(1.0, 1.0, 1.0), *, method="teasar", prune=0.0, max_loop=None,
                teasar=None, fix_branching=True, workers=2, max_object_voxels=MAX_OBJECT_VOXELS,
                chunks=None, progress=None):
    """Skeletons of every object of a chunked volume, equal to the in-memory ones.

    Takes the arguments of :func:`engine.skeleton.skeletonize` and returns
    the same :class:`~engine.skeleton.SkeletonGraph` (same vertices in the
    same order, edges, radii and labels), but reads the volume one object
    box at a time: each object (a 26-connected component of a mask, or a
    label of a label volume) is skeletonised whole, in one task, never cut
    at chunk borders (see the module's docstring for why).

    Parameters
    ----------
    volume : dask array, zarr array, zarr path or ndarray, (z, y, x)
        Boolean mask, or non-negative integer labels (0 is background); as
        in memory, integer labels that are all 0 or 1 are a mask. A zarr
        input is read box by box straight from the store.
    spacing, method, prune, max_loop, teasar, fix_branching
        As :func:`engine.skeleton.skeletonize`.
    workers : int
        Accepted for compatibility; the tasks run on Dask's scheduler
        (:func:`~engine.blockwise.scheduler`), kimimaro in each task alone.
    max_object_voxels : int
        Largest box (the object's bounding box grown by one voxel) one task
        may hold. The default, 2**24 voxels, keeps a TEASAR task near 1 GB
        (at most about 64 bytes per box voxel, measured: the box, the
        component labels, the distance field, kimimaro's path fields). A
        zarr input is read box by box; any other input is read as the
        chunks around the box, which a task holds as well.
    chunks : (int, int, int), optional
        Rechunk the input for the labelling pass (default: its chunks).
    progress : callable, optional
        ``progress(done, total)`` as chunks finish (the labelling pass) and
        then as object tasks finish.

    Returns
    -------
    SkeletonGraph
        Vertices in physical (z, y, x), equal to the in-memory result.

    Raises
    ------
    InvalidInputError
        If the volume is not a mask or non-negative labels, or an object's
        grown box exceeds ``max_object_voxels``: a single object must fit
        in one worker's memory, because skeletons stitched from chunks are
        not the object's skeleton.

    Examples
    --------
    >>> import numpy as np
    >>> from engine import skeleton
    >>> mask = np.zeros((10, 10, 30), bool)
    >>> mask[3:7, 3:7, 2:28] = True
    >>> g = skeletonize(mask, spacing=(2.0, 1.0, 1.0), chunks=(5, 5, 8))
    >>> h = skeleton.skeletonize(mask, spacing=(2.0, 1.0, 1.0))
    >>> bool(np.array_equal(g.vertices, h.vertices) and np.array_equal(g.edges, h.edges))
    True
    """
    from dask.utils import format_bytes

    from ..skeleton._branches import default_sigma, prune_graph
    from ..skeleton._skeletonize import METHODS

    sp = check_spacing(spacing)
    check_choice(method, METHODS, name="method")
    check_distance(prune, name="prune")
    max_loop = 4 * max(sp) if max_loop is None else check_distance(max_loop, name="max_loop")
    max_object_voxels = _check_max_voxels(max_object_voxels)
    source = as_dask(volume, chunks=chunks, name="volume")
    store = _zarr_array(volume)
    objects = _find_objects(source, progress)
    for obj in objects.items:
        box_voxels = int(np.prod([b - a for a, b in obj.box]))
        if box_voxels > max_object_voxels:
            shape = " x ".join(str(b - a) for a, b in obj.box)
            raise InvalidInputError(
                f"volume: {objects.describe(obj)} spans a box of {shape} = {box_voxels} voxels "
                f"(with a one-voxel margin), more than max_object_voxels={max_object_voxels} "
                f"(about {format_bytes(max_object_voxels * BYTES_PER_VOXEL)} of working memory "
                "per task). A single object must fit in one worker's memory: skeletons traced "
                "chunk by chunk and stitched at the borders are not the object's skeleton (paths "
                "and branch points move near the borders), so blockwise skeletonize never cuts an "
                "object. Raise max_object_voxels if the workers have the memory, or split the "
                "object.")
    if method == "teasar":
        graph = _run_teasar(source, store, objects, sp, teasar, fix_branching, progress)
    else:
        graph = _run_thinning(source, store, objects, sp, progress)
    if prune > 0 or max_loop > 0:
        graph = prune_graph(graph, spur=prune, loop=max_loop, smooth=default_sigma(sp))
    return graph


def _check_max_voxels(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or number != value:
        raise InvalidInputError(f"max_object_voxels must be a positive integer, was {value!r}")
    return number


def _zarr_array(volume):
    """The 3D zarr array behind ``volume`` (read box by box), or None."""
    import os

    if isinstance(volume, (str, os.PathLike)):
        from ..io import read_zarr

        volume = read_zarr(volume)[0]
    elif isinstance(volume, (np.ndarray, dask().array.Array)):
        return None
    if hasattr(volume, "chunks") and len(getattr(volume, "shape", ())) == 3:
        return volume
    return None


class _Object:
    """One object: its id, grown box ``((z0, z1), (y0, y1), (x0, x1))``,
    unpadded box volume, seed voxel (masks: a voxel of the component, to
    pick it out of the box) and label id in the result."""

    __slots__ = ("box", "id", "label", "seed", "size", "targets")

    def __init__(self, id, box, size, seed, label):
        self.id, self.box, self.size, self.seed, self.label = id, box, size, seed, label
        self.targets = []


class _Objects:
    def __init__(self, binary, items, shape, black_border, components=None):
        self.binary = binary
        self.items = items
        self.shape = shape
        self.black_border = black_border
        self.components = components  # masks: the ChunkedLabels (for the face planes)

    def describe(self, obj):
        if self.binary:
            return f"object {obj.id} (connected component {obj.id} of the mask)"
        return f"label {obj.id}"


def _find_objects(source, progress):
    """The objects' boxes from one chunked pass (no volume is loaded)."""
    from .labels import connected_components, label_properties

    kind = source.dtype.kind
    if kind not in "biu":
        raise InvalidInputError(
            f"volume: expected a boolean mask or integer labels, got {source.dtype}")
    if kind == "i" and int(source.min().compute()) < 0:
        raise InvalidInputError("volume: labels must be non-negative")
    shape = tuple(int(n) for n in source.shape)
    size = int(np.prod(shape))
    binary = kind == "b"
    if not binary:
        table = label_properties(source, progress=progress)
        binary = len(table) == 0 or int(table["label"].max()) <= 1
    if binary:
        mask = source if kind == "b" else source != 0
        cc = connected_components(mask, connectivity=26, progress=progress)
        table = cc.properties()
        first = cc._table["first"] if cc.n else np.zeros(0, np.int64)
        seeds = np.stack(np.unravel_index(first, shape), 1) if cc.n else np.zeros((0, 3), int)
        total = int(cc.voxels.sum())
        black_border = total == size  # kimimaro: min label == max label
    else:
        seeds = [None] * len(table)
        black_border = len(table) == 1 and int(table["voxels"].iloc[0]) == size
    items = []
    for row, seed in zip(table.itertuples(index=False), seeds):
        lo = (int(row.z0), int(row.y0), int(row.x0))
        hi = (int(row.z1), int(row.y1), int(row.x1))
        box = tuple((max(a - 1, 0), min(b + 1, n)) for a, b, n in zip(lo, hi, shape))
        items.append(_Object(int(row.label), box, int(np.prod(np.subtract(hi, lo))),
                             None if seed is None else tuple(int(v) for v in seed),
                             1 if binary else int(row.label)))
    return _Objects(binary, items, shape, black_border, cc if binary else None)


# --- tasks ---------------------------------------------------------------------------------


def _group_objects(objects, source, store):
    """Consecutive objects in groups; with each group, the chunks it reads."""
    starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in source.chunks]

    def chunk_range(box):
        return [range(int(np.searchsorted(s, a, "right")) - 1, int(np.searchsorted(s, b, "left")))
                for s, (a, b) in zip(starts, box)]

    def chunk_voxels(index):
        return int(np.prod([s[i + 1] - s[i] for s, i in zip(starts, index)]))

    groups = []
    current, voxels, needed, needed_voxels = [], 0, {}, 0
    for obj in objects:
        size = int(np.prod([b - a for a, b in obj.box]))
        mine = {} if store is not None else {
            i: None for i in itertools.product(*chunk_range(obj.box))}
        extra = sum(chunk_voxels(i) for i in mine if i not in needed)
        if current and (voxels + size > _GROUP_VOXELS or len(current) >= _GROUP_OBJECTS
                        or needed_voxels + extra > _GROUP_CHUNK_VOXELS):
            groups.append((current, list(needed)))
            current, voxels, needed, needed_voxels = [], 0, {}, 0
            extra = sum(chunk_voxels(i) for i in mine)
        current.append(obj)
        voxels += size
        needed.update(mine)
        needed_voxels += extra
    if current:
        groups.append((current, list(needed)))
    return groups, starts


def _run_groups(kind, source, store, objects, func, common, progress):
    """Run ``func(mask, origin, obj, *common)`` on every object's box; results in order."""
    groups, starts = _group_objects(objects.items, source, store)
    graph = TaskGraph(f"skeleton-{kind}")
    keys = []
    for g, (members, needed) in enumerate(groups):
        origins = [[int(s[i]) for s, i in zip(starts, index)] for index in needed]
        blocks = [graph.block(source, index) for index in needed]
        keys.append(graph.add("objects", (g,), _group_task, members, objects.binary, store,
                              origins, blocks, func, *common))
    results = graph.run(keys, progress=progress) if keys else []
    return [r for part in results for r in part]


def _group_task(members, binary, store, origins, blocks, func, *common):
    out = []
    for obj in members:
        box = tuple(slice(a, b) for a, b in obj.box)
        if store is not None:
            data = np.asarray(store[box])
        else:
            data = _assemble(obj.box, origins, blocks)
        if binary:
            mask = _component(data != 0, np.subtract(obj.seed, [a for a, _ in obj.box]))
        else:
            mask = data == obj.id
        del data
        out.append(func(mask, tuple(a for a, _ in obj.box), obj, *common))
    return out


def _assemble(box, origins, blocks):
    """The box ``((z0, z1), ...)`` cut from the chunks that cover it."""
    shape = tuple(b - a for a, b in box)
    out = None
    for origin, block in zip(origins, blocks):
        src, dst = [], []
        for (a, b), o, n in zip(box, origin, block.shape):
            lo, hi = max(a, o), min(b, o + n)
            if lo >= hi:
                break
            src.append(slice(lo - o, hi - o))
            dst.append(slice(lo - a, hi - a))
        else:
            if out is None:
                out = np.zeros(shape, block.dtype)
            out[tuple(dst)] = block[tuple(src)]
    return out


def _component(mask, seed):
    """The 26-connected component of ``mask`` through ``seed`` (box coordinates)."""
    import cc3d

    labels = cc3d.connected_components(mask.view(np.uint8) if mask.dtype == bool else mask,
                                       connectivity=26)
    return labels == labels[tuple(int(v) for v in seed)]


# --- TEASAR ------------------------------------------------------------------------------------


def _run_teasar(source, store, objects, sp, params, fix_branching, progress):
    from kimimaro.intake import merge

    from ..skeleton._graph import SkeletonGraph
    from ..skeleton._skeletonize import from_osteoid, teasar_params

    if not objects.items:
        return SkeletonGraph.concatenate([], sp, from_voxels=True)
    teasar = teasar_params(sp, params)
    anisotropy = np.array(sp[::-1], dtype=np.float32)  # as kimimaro.skeletonize makes it
    by_id = {obj.id: obj for obj in objects.items}
    for value, point in _border_targets(source, objects, anisotropy):
        obj = by_id.get(int(value))
        if obj is not None:
            obj.targets.append(point)
    pieces = _run_groups("teasar", source, store, objects, _teasar_object,
                         (teasar, fix_branching, anisotropy, objects.black_border), progress)
    skeletons = defaultdict(list)
    for obj, part in zip(objects.items, pieces):
        skeletons[obj.label].extend(part)
    skels = merge(skeletons)
    graphs = [from_osteoid(s, sp, label=int(k)) for k, s in sorted(skels.items())]
    return SkeletonGraph.concatenate(graphs, sp, from_voxels=True)


def _face_planes(objects, source):
    """The six face planes of kimimaro's ``compute_border_targets``, (x, y) ordered.

    Values are what tells the objects apart: component ids for a mask (the
    ids kimimaro's own labelling gives), labels for a label volume.
    """
    array = objects.components.to_dask() if objects.binary else source
    faces = [array[0], array[-1], array[:, 0], array[:, -1], array[:, :, 0], array[:, :, -1]]
    return [np.asarray(f).T for f in dask().compute(*faces)]


def _border_targets(source, objects, anisotropy):
    """``(object value, (x, y, z))`` of every border target, in kimimaro's order.

    kimimaro.intake.compute_border_targets on the whole volume: the same
    planes (the 2D components of a face are the same whether its values
    are kimimaro's component ids or ours), the same calls, the same order.
    """
    import cc3d
    import edt
    import kimimaro.skeletontricks

    sz, sy, sx = objects.shape
    rotate = (lambda x, y: (x, y, 0), lambda x, y: (x, y, sz - 1),
              lambda x, z: (x, 0, z), lambda x, z: (x, sy - 1, z),
              lambda y, z: (0, y, z), lambda y, z: (sx - 1, y, z))
    dims = ((0, 1), (0, 1), (0, 2), (0, 2), (1, 2), (1, 2))
    out = []
    for plane, (d0, d1), rotatefn in zip(_face_planes(objects, source), dims, rotate):
        wx, wy = anisotropy[d0], anisotropy[d1]
        plane = np.copy(plane, order="F")
        if not plane.any():
            continue
        cc_plane = cc3d.connected_components(np.ascontiguousarray(plane))
        dt_plane = edt.edt(cc_plane, black_border=True, anisotropy=(wx, wy))
        found = kimimaro.skeletontricks.find_border_targets(dt_plane, cc_plane, wx, wy)
        for pt in found.values():
            x, y = int(pt[0]), int(pt[1])
            out.append((plane[x, y], rotatefn(x, y)))
    return out


def _teasar_object(mask, origin, obj, teasar, fix_branching, anisotropy, black_border):
    """``kimimaro.skeletonize``'s per-component work (``skeletonize_subset``)
    on one object's grown box, in global coordinates: the list of
    ``osteoid.Skeleton`` of its components, in component order."""
    import cc3d
    import edt
    import fastremap
    import kimimaro.trace
    from kimimaro.utility import find_objects
    from osteoid import Bbox

    # (x, y, z) Fortran order, as kimimaro.intake.format_labels gives it
    labels = np.copy(mask.T, order="F").view(np.uint8)
    cc_labels = fastremap.refit(cc3d.connected_components(labels))
    all_dbf = edt.edt(cc_labels, anisotropy=anisotropy, black_border=bool(black_border),
                      parallel=1, voxel_graph=None)
    ids, counts = fastremap.unique(cc_labels, return_counts=True)
    segids = [int(s) for s, c in zip(ids, counts) if c > 0 and s != 0]
    all_slices = find_objects(cc_labels)
    offset = np.asarray(origin[::-1], np.int64)  # (x, y, z)
    # each component's border targets: a set of global (x, y, z), filled in
    # kimimaro's order, so that pop() picks the same root
    border = defaultdict(set)
    for point in obj.targets:
        local = tuple(int(v) for v in np.subtract(point, offset))
        if all(0 <= v < n for v, n in zip(local, cc_labels.shape)) and cc_labels[local]:
            border[int(cc_labels[local])].add(tuple(int(v) for v in point))
    out = []
    for segid in segids:
        slices = all_slices[segid - 1]
        if slices is None:
            continue
        roi = Bbox.from_slices(slices)
        if roi.volume() <= 1:
            continue
        component = cc_labels[slices] == segid
        dbf = np.where(component, all_dbf[slices], 0.0)
        minpt = roi.minpt + offset  # the component's global corner
        manual, root = [], None
        if border.get(segid):
            targets = np.array(list(border[segid]), dtype=np.uint32)
            targets -= minpt.astype(np.uint32)
            manual = targets.tolist()
            root = manual.pop()
        skeleton = kimimaro.trace.trace(
            component, dbf, anisotropy=anisotropy, fix_branching=fix_branching,
            manual_targets_before=manual, manual_targets_after=[], root=root,
            voxel_graph=None, **teasar)
        if skeleton.empty():
            continue
        skeleton.vertices += minpt.astype(skeleton.vertices.dtype, copy=False)
        skeleton.id = obj.label
        skeleton.vertices = np.multiply(skeleton.vertices, anisotropy, dtype=np.float32)
        skeleton.space = "physical"
        out.append(skeleton)
    return out


# --- thinning ----------------------------------------------------------------------------------


def _run_thinning(source, store, objects, sp, progress):
    from ..skeleton._graph import SkeletonGraph

    graphs = _run_groups("thinning", source, store, objects, _thin_object, (sp,), progress)
    # the in-memory order: biggest box first, ties in order of first voxel
    order = sorted(range(len(graphs)), key=lambda k: (-objects.items[k].size, graphs[k][0]))
    return SkeletonGraph.concatenate([graphs[k][1] for k in order], sp)


def _thin_object(mask, origin, obj, sp):
    """The in-memory thinning of one object (``_thinning``'s ``one``), with
    the flat index of the object's first voxel (the in-memory object order)."""
    from skimage.morphology import skeletonize as thin

    from ..skeleton._graph import voxel_graph
    from ..skeleton._skeletonize import _radii

    skel = thin(mask)
    coords = np.argwhere(skel)
    radii = _radii(mask, coords, sp)
    graph = voxel_graph(coords + np.asarray(origin), sp, radii,
                        np.full(len(coords), obj.label, np.uint64))
    # the in-memory order of objects with equal boxes: their first voxel in raster order
    first = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return tuple(int(f) + o for f, o in zip(first, origin)), graph
