"""Pruning, loops, label volumes, conversions and bad input of engine.skeleton."""

import numpy as np
import pytest
from vessel_phantoms import Segment, _line, arc_position, straight_y, tube_voxels

from engine import InvalidInputError
from engine.skeleton import (
    Branches,
    SkeletonGraph,
    cable_length,
    from_osteoid,
    label_branches,
    prune_graph,
    skeletonize,
    to_osteoid,
)


def _y_with_spur(spacing, spur_length):
    """The straight Y plus a short side tube off the middle of the trunk."""
    tree = straight_y(spacing)
    a, j = tree.nodes[0], tree.nodes[1]
    mid = (a + j) / 2
    side = np.cross(j - a, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side)
    tree.nodes[4] = mid + side * spur_length
    tree.segments[0] = Segment(_line(a, mid), 3.0, 0, 5)
    tree.nodes[5] = mid
    tree.segments += [Segment(_line(mid, j), 3.0, 5, 1), Segment(_line(mid, tree.nodes[4]), 3.0, 5, 4)]
    return tree


def test_prune_removes_short_spurs_only():
    sp = (2.0, 0.7, 0.7)
    tree = _y_with_spur(sp, 16.0)  # the spur reaches 16 + 3 (cap) from the centreline
    mask = tree.mask()
    kept = Branches(skeletonize(mask, sp))
    assert len(kept.junctions) == 2 and len(kept) == 5
    pruned = Branches(skeletonize(mask, sp, prune=30.0))
    assert len(pruned.junctions) == 1 and len(pruned) == 3
    # the trunk is whole again: one branch from the root tip to the junction
    assert np.isclose(pruned.cable_length(), kept.cable_length() - kept.table["length"].min(), rtol=0.03)
    # a prune shorter than the spur keeps it
    assert len(Branches(skeletonize(mask, sp, prune=10.0))) == 5


def _ring_graph():
    """A line (0..4) with a small square cycle (4-5-6-7-4) and a tail (6-8-9)."""
    v = np.array([[0, 0, x] for x in range(5)] + [[0, 1, 4], [0, 1, 5], [0, 0, 5],
                                                    [0, 1, 6], [0, 1, 7]], float)
    e = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 4], [6, 8], [8, 9]])
    radii = np.ones(len(v))
    radii[7] = 0.5  # the thinner side of the cycle
    return SkeletonGraph(v, e, radii, np.ones(len(v), np.uint64))


def test_small_loops_lose_their_thinnest_branch():
    g = _ring_graph()
    b = Branches(g, smooth=0)
    assert len(b) == 4 and set(b.table["kind"]) == {"junction-end", "junction-junction"}
    opened = prune_graph(g, loop=5.0)
    assert len(opened) == len(g) - 1 and not np.any(np.all(opened.vertices == [0, 0, 5], axis=1))
    b2 = Branches(opened, smooth=0)
    assert len(b2) == 1 and b2.table["kind"][0] == "end-end"
    assert b2.cable_length() == pytest.approx(8.0)  # 0..4, 4-5-6, 6-8-9
    # a cycle longer than max_loop stays
    assert len(prune_graph(g, loop=3.9)) == len(g)


def test_label_volume_gives_one_skeleton_per_label():
    sp = (1.0, 0.5, 0.5)
    shape = (30, 60, 120)
    vol = np.zeros(shape, np.uint16)
    a, b, c, d = map(np.array, ([15.0, 12.0, 8.0], [15.0, 18.0, 50.0], [6.0, 25.0, 10.0], [20.0, 25.0, 40.0]))
    vol[tube_voxels(_line(a, b), 4.0, sp, shape)] = 7
    vol[tube_voxels(_line(c, d), 2.5, sp, shape)] = 300
    g = skeletonize(vol, sp)
    assert set(np.unique(g.labels).tolist()) == {7, 300}
    br = Branches(g)
    per_label = br.cable_length(by_label=True)
    # TEASAR runs tip to tip: the centreline plus a radius (the cap) at each end
    assert per_label[7] == pytest.approx(np.linalg.norm(b - a) + 8.0, rel=0.02)
    assert per_label[300] == pytest.approx(np.linalg.norm(d - c) + 5.0, rel=0.02)
    labels = label_branches(vol, br)
    ids7 = set(np.unique(labels[vol == 7]))
    ids300 = set(np.unique(labels[vol == 300]))
    assert ids7 and ids300 and not ids7 & ids300 and 0 not in ids7 | ids300
    assert np.array_equal(labels > 0, vol > 0)


def test_osteoid_round_trip_is_xyz_and_physical():
    sp = (2.0, 0.7, 0.7)
    tree = straight_y(sp)
    g = skeletonize(tree.mask(), sp)
    skels = to_osteoid(g)
    assert list(skels) == [1]
    s = skels[1]
    assert np.allclose(s.vertices, g.vertices[:, ::-1], atol=1e-4)
    assert s.cable_length() == pytest.approx(cable_length(g), rel=1e-5)
    back = from_osteoid(s, sp)
    assert np.allclose(back.vertices, g.vertices, atol=1e-4)
    assert len(Branches(back)) == 3


def test_cable_length_smoothed_is_closer_to_truth():
    sp = (2.0, 0.7, 0.7)
    tree = straight_y(sp)
    g = skeletonize(tree.mask(), sp)
    true = sum(tree.segments[k].length for k in range(3)) + 2 * 3.0  # two tip caps
    assert cable_length(g) > 1.05 * true         # the raw staircase
    assert cable_length(g, smooth=None) == pytest.approx(true, rel=0.02)


def test_empty_and_bad_input():
    empty = skeletonize(np.zeros((5, 5, 5), bool))
    assert len(empty) == 0 and len(Branches(empty)) == 0
    assert label_branches(np.zeros((5, 5, 5), bool), Branches(empty)).max() == 0
    with pytest.raises(InvalidInputError, match="volume"):
        skeletonize(np.ones((5, 5, 5), np.float32))
    with pytest.raises(InvalidInputError, match="spacing"):
        skeletonize(np.ones((5, 5, 5), bool), spacing=(1, -1, 1))
    with pytest.raises(InvalidInputError, match="method"):
        skeletonize(np.ones((5, 5, 5), bool), method="magic")
    with pytest.raises(InvalidInputError, match="prune"):
        skeletonize(np.ones((5, 5, 5), bool), prune=-1)


def test_thinning_method_gives_the_same_tree():
    sp = (1.0, 1.0, 1.0)
    tree = straight_y(sp)
    b = Branches(skeletonize(tree.mask(), sp, method="thinning"))
    assert len(b) == 3 and len(b.junctions) == 1
    j = b.junctions[["z", "y", "x"]].to_numpy(float)[0]
    assert np.linalg.norm(j - tree.nodes[1]) < 3.0
    c = tree.capped_centreline(0)
    assert arc_position(c, j)[1] < 3.0


def test_branch_points_of_non_voxel_skeletons_stay_separate():
    # two branch points one unit apart on a line, each with a side branch
    v = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 5, 1], [0, 5, 2]], float)
    e = np.array([[0, 1], [1, 2], [2, 3], [1, 4], [2, 5]])
    g = SkeletonGraph(v, e, np.ones(6), np.ones(6, np.uint64))
    b = Branches(g, smooth=0)
    assert len(b.junctions) == 2 and len(b) == 5
    assert b.cable_length() == pytest.approx(cable_length(g)) == pytest.approx(13.0)
    with pytest.raises(InvalidInputError, match="spacing"):
        cable_length(to_osteoid(g)[1], smooth=None)
