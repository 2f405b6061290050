"""label_properties and connected components against hand-computed values."""

import numpy as np
import pytest

from engine import InvalidInputError
from engine.label import connected_components, label_properties, remove_small_objects


def test_properties_of_boxes_with_anisotropic_spacing():
    lab = np.zeros((4, 6, 8), np.uint16)
    lab[0:2, 0:2, 0:4] = 3          # 16 voxels
    lab[2:4, 3:6, 5:8] = 9          # 18 voxels
    image = np.zeros(lab.shape, np.float32)
    image[lab == 9] = 2.5
    props = label_properties(lab, spacing=(2.0, 0.5, 0.25), image=image)
    assert props.label.tolist() == [3, 9]
    assert props.voxels.tolist() == [16, 18]
    assert props.volume.tolist() == pytest.approx([16 * 0.25, 18 * 0.25])
    # Centroid of label 9: voxel (2.5, 4, 6) -> physical (5, 2, 1.5).
    row = props.iloc[1]
    assert (row.z, row.y, row.x) == pytest.approx((5.0, 2.0, 1.5))
    assert (row.z0, row.y0, row.x0, row.z1, row.y1, row.x1) == (2, 3, 5, 4, 6, 8)
    assert props.mean_intensity.tolist() == pytest.approx([0.0, 2.5])


def test_centroids_are_not_rounded():
    lab = np.zeros((1, 1, 4), np.uint8)
    lab[0, 0, 0:2] = 1
    assert label_properties(lab).x.tolist() == [0.5]


def test_sparse_uint64_ids():
    lab = np.zeros((2, 2, 2), np.uint64)
    lab[0, 0, 0] = 2**62 + 1
    lab[1, 1, 1] = 17
    props = label_properties(lab)
    assert [int(v) for v in props.label] == [17, 2**62 + 1]
    assert props.voxels.tolist() == [1, 1]


def test_connected_components_26_and_6():
    mask = np.zeros((3, 3, 3), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True   # corner neighbours
    assert connected_components(mask, connectivity=26)[1] == 1
    assert connected_components(mask, connectivity=6)[1] == 2
    with pytest.raises(InvalidInputError, match="connectivity"):
        connected_components(mask, connectivity=5)


def test_remove_small_objects_by_physical_volume():
    lab = np.zeros((2, 2, 6), np.uint8)
    lab[:, :, 0:2] = 1      # 8 voxels
    lab[0, 0, 4] = 2        # 1 voxel
    out = remove_small_objects(lab, min_volume=3.0, spacing=(2, 1, 1))
    assert set(np.unique(out)) == {0, 1}
    assert out[0, 0, 4] == 0 and lab[0, 0, 4] == 2   # input untouched
