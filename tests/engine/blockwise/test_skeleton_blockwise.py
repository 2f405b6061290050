"""Blockwise skeletons equal the in-memory ones.

Ground truth is :func:`engine.skeleton.skeletonize` on the whole volume
(itself tested against the phantoms' true centrelines in
tests/engine/skeleton). Here the object-by-object path must give the same
graph, with chunks smaller than the objects, for masks and label volumes,
isotropic and anisotropic spacing, TEASAR and thinning, from numpy and from
an OME-Zarr on disk.

Equality (:func:`assert_same_skeleton`), in two parts:

1. as skeletons, whatever the vertex order: the same sorted vertex
   coordinates, the same set of edges as coordinate pairs, the same radius
   and label at each vertex coordinate, and the same cable length per label
   (to 1e-9);
2. as arrays: vertices, edges, radii and labels identical, element for
   element, in the same order (which is what makes every later measure,
   branch table and pruning decision identical too).
"""

import numpy as np
import pytest
import vessel_phantoms as vp
from scipy import ndimage

from engine import InvalidInputError, skeleton
from engine.blockwise import skeletonize
from engine.io import write_ome_zarr

CHUNKS = (16, 20, 24)


def assert_same_skeleton(got, expected):
    # 1. the same skeleton, order aside
    assert len(got) == len(expected)
    order_g = np.lexsort(got.vertices.T[::-1])
    order_e = np.lexsort(expected.vertices.T[::-1])
    assert np.array_equal(got.vertices[order_g], expected.vertices[order_e])
    assert np.array_equal(got.radii[order_g], expected.radii[order_e])
    assert np.array_equal(got.labels[order_g], expected.labels[order_e])

    def edge_set(g):
        pairs = [tuple(sorted((tuple(g.vertices[a]), tuple(g.vertices[b])))) for a, b in g.edges]
        assert len(set(pairs)) == len(pairs)
        return set(pairs)

    assert edge_set(got) == edge_set(expected)
    cable_g = skeleton.cable_length(got, by_label=True)
    cable_e = skeleton.cable_length(expected, by_label=True)
    assert list(cable_g.index) == list(cable_e.index)
    np.testing.assert_allclose(cable_g.to_numpy(), cable_e.to_numpy(), rtol=0, atol=1e-9)
    # 2. the same arrays, in the same order
    assert np.array_equal(got.vertices, expected.vertices)
    assert np.array_equal(got.edges, expected.edges)
    assert np.array_equal(got.radii, expected.radii)
    assert np.array_equal(got.labels, expected.labels) and got.labels.dtype == expected.labels.dtype
    assert got.spacing == expected.spacing and got.from_voxels == expected.from_voxels


def split_labels(mask, n, seed):
    """``mask`` cut into ``n`` Voronoi cells with sparse, shuffled uint32 ids:
    labels touch each other and a label may have several components."""
    rng = np.random.default_rng(seed)
    points = np.argwhere(mask)[rng.choice(int(mask.sum()), n, replace=False)]
    seeds = np.zeros(mask.shape, np.int32)
    seeds[tuple(points.T)] = np.arange(1, n + 1)
    _, nearest = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    ids = rng.permutation(np.arange(1, n + 1) * 37 + 1000).astype(np.uint32)
    return np.where(mask, ids[seeds[tuple(nearest)] - 1], 0).astype(np.uint32)


def cut_tree():
    """Vessels cut by all six faces (kimimaro's border targets: several per
    object, so their order decides the root), at a coarse z."""
    tree = vp.random_tree((48, 96, 96), spacing=(2.0, 1.0, 1.0), seed=2)
    return tree.mask()[6:42, 10:84, 5:90], tree.spacing


VOLUMES = {
    "straight_y": lambda: (vp.straight_y().mask(), (1.0, 1.0, 1.0)),
    "curved_tree dz=2": lambda: (vp.curved_tree(spacing=(2.0, 1.0, 1.0)).mask(), (2.0, 1.0, 1.0)),
    "random_tree": lambda: (vp.random_tree((64, 96, 96), seed=1).mask(), (1.0, 1.0, 1.0)),
    "random_tree anisotropic": lambda: (vp.random_tree((64, 96, 96), seed=1).mask(),
                                        (1.3, 0.7, 1.0)),
    "cut by the faces": cut_tree,
}


@pytest.fixture(scope="module", params=list(VOLUMES))
def volume(request):
    return VOLUMES[request.param]()


@pytest.mark.parametrize("kind", ["mask", "labels"])
def test_teasar_equals_in_memory(volume, kind):
    mask, spacing = volume
    vol = mask if kind == "mask" else split_labels(mask, 7, seed=3)
    expected = skeleton.skeletonize(vol, spacing)
    got = skeletonize(vol, spacing, chunks=CHUNKS)
    assert len(expected) > 50
    assert_same_skeleton(got, expected)
    labels = {1} if kind == "mask" else set(np.unique(vol[vol > 0]).tolist())
    assert set(np.unique(got.labels).tolist()) <= labels


@pytest.mark.parametrize("name", ["curved_tree dz=2", "cut by the faces"])
def test_thinning_equals_in_memory(name):
    mask, spacing = VOLUMES[name]()
    for vol in (mask, split_labels(mask, 7, seed=4)):
        expected = skeleton.skeletonize(vol, spacing, method="thinning")
        got = skeletonize(vol, spacing, method="thinning", chunks=CHUNKS)
        assert_same_skeleton(got, expected)


def test_options_equal_in_memory():
    mask, spacing = cut_tree()
    kwargs = {"prune": 6.0, "max_loop": 0.0, "fix_branching": False, "teasar": {"scale": 2.0}}
    expected = skeleton.skeletonize(mask, spacing, **kwargs)
    assert_same_skeleton(skeletonize(mask, spacing, chunks=(9, 11, 13), **kwargs), expected)


def test_ome_zarr_input(tmp_path):
    """Boxes read straight from the store, chunks smaller than the objects."""
    mask, spacing = cut_tree()
    labels = split_labels(mask, 7, seed=5)
    for name, vol in (("mask", mask), ("labels", labels)):
        path = tmp_path / f"{name}.ome.zarr"
        write_ome_zarr(path, vol, spacing=spacing, chunks=CHUNKS, labels=name == "labels")
        calls = []
        got = skeletonize(path, spacing, progress=lambda done, total, calls=calls:
                          calls.append((done, total)))
        assert_same_skeleton(got, skeleton.skeletonize(vol, spacing))
        assert calls and calls[-1][0] == calls[-1][1]


def test_many_small_objects_and_masks_as_integers():
    rng = np.random.default_rng(0)
    noise = ndimage.gaussian_filter(rng.random((30, 40, 50)), 2.0)
    blobs = noise > np.quantile(noise, 0.85)  # many objects, some touching the faces
    assert ndimage.label(blobs, np.ones((3, 3, 3)))[1] > 20
    expected = skeleton.skeletonize(blobs, (1.5, 1.0, 1.0))
    assert_same_skeleton(skeletonize(blobs, (1.5, 1.0, 1.0), chunks=(7, 9, 11)), expected)
    # integer 0/1 is a mask, as in memory: labels all 1
    got = skeletonize(blobs.astype(np.int16), (1.5, 1.0, 1.0), chunks=(7, 9, 11))
    assert_same_skeleton(got, expected)
    labels = split_labels(blobs, 40, seed=6)
    assert_same_skeleton(skeletonize(labels, (1.0, 0.7, 1.3), chunks=(7, 9, 11)),
                         skeleton.skeletonize(labels, (1.0, 0.7, 1.3)))


def test_object_filling_the_volume_and_empty_volume():
    full = np.ones((8, 10, 24), bool)  # kimimaro's black border case
    assert_same_skeleton(skeletonize(full, (2.0, 1.0, 1.0), chunks=(3, 4, 5)),
                         skeleton.skeletonize(full, (2.0, 1.0, 1.0)))
    empty = skeletonize(np.zeros((4, 5, 6), np.uint16), chunks=(2, 2, 2))
    assert_same_skeleton(empty, skeleton.skeletonize(np.zeros((4, 5, 6), np.uint16)))


def test_object_too_large_for_a_task():
    labels = np.zeros((20, 30, 40), np.uint16)
    labels[1:3, 1:3, 1:3] = 3
    labels[4:16, 5:25, 3:37] = 9
    with pytest.raises(InvalidInputError, match=r"label 9 spans a box of 14 x 22 x 36 = 11088 "
                                                r"voxels.*fit in one worker's memory"):
        skeletonize(labels, chunks=(8, 8, 8), max_object_voxels=5000)
    # a mask names the connected component
    with pytest.raises(InvalidInputError, match=r"object 2 \(connected component 2 of the mask\)"):
        skeletonize(labels > 0, chunks=(8, 8, 8), max_object_voxels=5000)
    assert len(skeletonize(labels, chunks=(8, 8, 8), max_object_voxels=11088))


def test_invalid_inputs():
    with pytest.raises(InvalidInputError, match="boolean mask or integer labels"):
        skeletonize(np.zeros((3, 4, 5), np.float32))
    with pytest.raises(InvalidInputError, match="non-negative"):
        skeletonize(np.full((3, 4, 5), -1, np.int32))
    with pytest.raises(InvalidInputError, match="max_object_voxels"):
        skeletonize(np.zeros((3, 4, 5), bool), max_object_voxels=0)
