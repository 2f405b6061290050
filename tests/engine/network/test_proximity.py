"""Proximity networks on hand-placed objects with known distances."""

import numpy as np
import pytest

from engine import InvalidInputError
from engine.network import proximity, surface_proximity


def pairs(net):
    return sorted((int(a), int(b)) for a, b in zip(net.edges.node_a, net.edges.node_b))


@pytest.fixture
def dots():
    """Single-voxel objects on a line along z with dz = 2: centroids at
    z = 0, 6, 10, 30 (physical)."""
    nodes = np.zeros((16, 3, 3), np.uint32)
    for label, z in [(5, 0), (6, 3), (7, 5), (8, 15)]:
        nodes[z, 1, 1] = label
    return nodes


def test_radius_uses_physical_spacing(dots):
    assert pairs(proximity(dots, radius=6, spacing=(2, 1, 1))) == [(5, 6), (6, 7)]
    assert pairs(proximity(dots, radius=10, spacing=(2, 1, 1))) == [(5, 6), (5, 7), (6, 7)]
    # Ignoring the anisotropy would link 5-6 at radius 3.
    assert pairs(proximity(dots, radius=3, spacing=(2, 1, 1))) == []


def test_k_nearest_and_combined(dots):
    assert pairs(proximity(dots, k=1, spacing=(2, 1, 1))) == [(5, 6), (6, 7), (7, 8)]
    assert pairs(proximity(dots, k=1, radius=10, spacing=(2, 1, 1))) == [(5, 6), (6, 7)]


def test_distance_column(dots):
    net = proximity(dots, radius=6, spacing=(2, 1, 1))
    assert net.edges.distance.tolist() == [6.0, 4.0]


def test_surface_distance_between_boundaries():
    nodes = np.zeros((3, 3, 30), np.uint16)
    nodes[:, :, 0:10] = 1          # big object: centroid far from its boundary
    nodes[1, 1, 12] = 2            # 3 voxels (x) from the boundary of 1 (x = 9)
    nodes[1, 1, 25] = 3
    net = surface_proximity(nodes, distance=3.0, spacing=(1, 1, 1))
    assert pairs(net) == [(1, 2)]
    assert net.edges.distance.tolist() == [3.0]
    # Centroid distance 1 -- 2 is 7.5: a centroid radius of 3 links nothing.
    assert pairs(proximity(nodes, radius=3.0)) == []
    assert pairs(surface_proximity(nodes, distance=3.0, spacing=(1, 1, 2))) == []


def test_bad_parameters():
    nodes = np.ones((2, 2, 2), np.uint8)
    with pytest.raises(InvalidInputError, match="radius, k, or both"):
        proximity(nodes)
    with pytest.raises(InvalidInputError, match="k must be an integer"):
        proximity(nodes, k=0)
    with pytest.raises(InvalidInputError, match="distance must be >= 0"):
        surface_proximity(nodes, distance=-2)
