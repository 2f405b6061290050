"""connect(): networks through connecting objects, on hand-drawn volumes
whose true network is known by construction."""

import numpy as np
import pytest

from engine import InvalidInputError
from engine.network import connect, search_regions


def pairs(net):
    return sorted({(int(a), int(b)) for a, b in zip(net.edges.node_a, net.edges.node_b)})


def two_nodes_and_vessel(dtype=np.uint16, ids=(10, 20)):
    nodes = np.zeros((5, 9, 30), dtype)
    nodes[1:4, 2:7, 0:4] = ids[0]
    nodes[1:4, 2:7, 26:30] = ids[1]
    vessel = np.zeros(nodes.shape, np.uint8)
    vessel[2, 4, 3:27] = 1
    return nodes, vessel


def test_vessel_links_its_two_end_nodes():
    nodes, vessel = two_nodes_and_vessel()
    net = connect(nodes, vessel, search=2.0)
    assert pairs(net) == [(10, 20)]
    assert net.edges.edge_id.nunique() == 1


def test_vessel_touching_a_node_face_from_outside_its_bounding_box():
    nodes = np.zeros((3, 6, 12), np.uint8)
    nodes[:, 0:3, 0:3] = 1
    nodes[:, 0:3, 9:12] = 2
    vessel = np.zeros_like(nodes)
    vessel[1, 3, :] = 1          # runs along y = 3, just outside both boxes
    assert pairs(connect(nodes, vessel, search=0.0)) == [(1, 2)]


def test_sparse_uint64_ids_are_kept():
    big = (2**40 + 7, 2**63 + 5)
    nodes, vessel = two_nodes_and_vessel(np.uint64, big)
    net = connect(nodes, vessel, search=2.0)
    assert pairs(net) == [big]
    assert sorted(int(v) for v in net.nodes.label) == list(big)


def test_y_shaped_vessel_links_all_three_pairs_with_one_edge_object():
    nodes = np.zeros((3, 40, 40), np.uint8)
    nodes[:, 0:4, 18:22] = 1      # top
    nodes[:, 36:40, 0:4] = 2      # bottom left
    nodes[:, 36:40, 36:40] = 3    # bottom right
    vessel = np.zeros_like(nodes)
    vessel[1, 3:21, 20] = 1                  # trunk down to the junction (20, 20)
    for i in range(18):                      # two diagonal arms
        vessel[1, 20 + i, 20 - i] = 1
        vessel[1, 20 + i, 20 + i] = 1
    net = connect(nodes, vessel, search=1.5)
    assert pairs(net) == [(1, 2), (1, 3), (2, 3)]
    assert net.edges.edge_id.nunique() == 1


def test_vessel_passing_beside_a_third_node():
    nodes, vessel = two_nodes_and_vessel()
    nodes[2, 0, 14] = 30     # third node, 4 voxels beside the vessel (y=4)
    assert pairs(connect(nodes, vessel, search=2.0)) == [(10, 20)]
    # Radius 3: the vessel touches node 30's search region without entering it.
    assert pairs(connect(nodes, vessel, search=3.0)) == [(10, 20), (10, 30), (20, 30)]
    # Radius 4: the vessel enters that region and is split there.
    assert pairs(connect(nodes, vessel, search=4.0)) == [(10, 30), (20, 30)]


def test_search_radius_is_physical_per_axis():
    nodes = np.zeros((9, 9, 9), np.uint8)
    nodes[0:2, :, 0:2] = 1
    nodes[0:2, :, 7:9] = 2
    vessel = np.zeros_like(nodes)
    vessel[3, 4, 1:8] = 1        # one z-plane above the nodes' top (z=1), touching both in x
    vessel[3, 4, 1] = vessel[3, 4, 7] = 0
    # The vessel is 2 planes above the nodes: 2 * dz away.
    assert pairs(connect(nodes, vessel, search=2.0, spacing=(1, 1, 1))) == [(1, 2)]
    assert pairs(connect(nodes, vessel, search=2.0, spacing=(3, 1, 1))) == []
    assert pairs(connect(nodes, vessel, search=6.0, spacing=(3, 1, 1))) == [(1, 2)]


def test_vessels_one_voxel_apart_stay_separate():
    nodes = np.zeros((3, 12, 30), np.uint8)
    nodes[:, 0:3, 0:3] = 1
    nodes[:, 0:3, 27:30] = 2
    nodes[:, 9:12, 0:3] = 3
    nodes[:, 9:12, 27:30] = 4
    vessel = np.zeros_like(nodes)
    vessel[1, 2, 2:28] = 1     # 1 -- 2 along y = 2 ... then bends to y = 4
    vessel[1, 2:5, 8] = 1
    vessel[1, 4, 8:20] = 1
    vessel[1, 2:5, 20] = 1
    vessel[1, 9, 2:28] = 1     # 3 -- 4 along y = 9 ... then bends to y = 6
    vessel[1, 6:10, 12] = 1
    vessel[1, 6, 12:16] = 1
    vessel[1, 6:10, 16] = 1
    # y = 4 and y = 6 never touch (one empty row between them).
    net = connect(nodes, vessel, search=0.0)
    assert pairs(net) == [(1, 2), (3, 4)]


def test_crossing_between_meeting_search_regions():
    nodes = np.zeros((1, 5, 12), np.uint8)
    nodes[0, :, 0:3] = 1
    nodes[0, :, 9:12] = 2
    vessel = np.zeros_like(nodes)
    vessel[0, 2, 2:10] = 1       # lies wholly inside the two search regions
    assert pairs(connect(nodes, vessel, search=4.0)) == [(1, 2)]
    regions = search_regions(nodes, search=4.0)
    assert set(np.unique(regions[0, 2, 2:10])) == {1, 2}


def test_labelled_edges_are_not_merged():
    nodes, _ = two_nodes_and_vessel()
    nodes[1:4, 2:7, 13:17] = 30
    edges = np.zeros(nodes.shape, np.uint16)
    edges[2, 4, 3:15] = 5         # 10 -> 30
    edges[2, 4, 15:27] = 6        # 30 -> 20, touching label 5 at x = 14 | 15
    net = connect(nodes, edges, search=0.0)
    assert pairs(net) == [(10, 30), (20, 30)]


def test_trunk_removal_drops_the_largest_object():
    nodes, vessel = two_nodes_and_vessel()
    nodes[0, 0, 10] = 30
    nodes[0, 0, 14] = 40
    vessel[0, 1, 10:15] = 1      # short vessel 30 -- 40 (next to both)
    assert pairs(connect(nodes, vessel, search=1.0)) == [(10, 20), (30, 40)]
    assert pairs(connect(nodes, vessel, search=1.0, trunks=1)) == [(30, 40)]


def test_bridge_closes_a_gap_only_when_asked():
    nodes, vessel = two_nodes_and_vessel()
    vessel[2, 4, 14:16] = 0      # a 2-voxel break
    assert pairs(connect(nodes, vessel, search=1.0)) == []
    assert pairs(connect(nodes, vessel, search=1.0, bridge=1.5)) == [(10, 20)]


def test_two_dimensional_image():
    nodes = np.zeros((20, 20), np.uint8)
    nodes[0:3, 0:3] = 1
    nodes[17:20, 17:20] = 2
    vessel = np.zeros_like(nodes)
    vessel[np.arange(2, 18), np.arange(2, 18)] = 1   # diagonal: 8-connected only
    net = connect(nodes, vessel, search=1.0)
    assert pairs(net) == [(1, 2)]


def test_edge_label_volume_matches_table():
    nodes, vessel = two_nodes_and_vessel()
    net = connect(nodes, vessel, search=2.0, keep_edge_labels=True)
    (edge_id,) = net.edges.edge_id.unique()
    assert set(np.unique(net.edge_labels)) == {0, edge_id}
    # The piece is what lies outside both search regions (x from 6 to 23).
    assert np.flatnonzero(net.edge_labels[2, 4]).tolist() == list(range(6, 24))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda n, e: (n.astype(float), e), "floating-point"),
        (lambda n, e: (n.astype(np.int16) - 20, e), "negative"),
        (lambda n, e: (np.zeros_like(n), e), "no objects"),
        (lambda n, e: (n, e[:, :, :10]), "same shape"),
        (lambda n, e: (n[np.newaxis, np.newaxis].repeat(2, 0), e), "3D"),
    ],
)
def test_bad_input_gets_a_clear_error(change, message):
    nodes, vessel = two_nodes_and_vessel()
    nodes, vessel = change(nodes, vessel)
    with pytest.raises(InvalidInputError, match=message):
        connect(nodes, vessel, search=1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"search": -1}, "search must be >= 0"),
    ({"search": 1, "spacing": (0, 1, 1)}, "spacing values must all be > 0"),
    ({"search": 1, "spacing": (1, 1)}, "spacing must have 3 values"),
])
def test_bad_parameters(kwargs, message):
    nodes, vessel = two_nodes_and_vessel()
    with pytest.raises(InvalidInputError, match=message):
        connect(nodes, vessel, **kwargs)
