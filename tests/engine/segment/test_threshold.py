"""Thresholds, hole filling, volume filter and watershed split."""

import numpy as np
import pytest

from engine import InvalidInputError
from engine.segment import (
    absorb_small_objects,
    average_precision,
    fill_holes,
    filter_by_volume,
    postprocess_mask,
    segment_threshold,
    split_touching,
    threshold_mask,
)


def ball(shape, centre, radius, spacing=(1, 1, 1)):
    grid = np.indices(shape).astype(float)
    d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, spacing))
    return d2 <= radius**2


def test_manual_threshold_is_strictly_above():
    image = np.arange(27, dtype=np.uint16).reshape(3, 3, 3)
    mask, value = threshold_mask(image, method="manual", threshold=13)
    assert value == 13
    assert mask.sum() == 13 and not mask.flat[13] and mask.flat[14]


def test_otsu_separates_two_populations():
    rng = np.random.default_rng(0)
    image = rng.normal(100, 5, (10, 20, 20))
    image[:, :, 10:] += 100
    mask, value = threshold_mask(image, method="otsu")
    assert 100 < value < 200
    assert mask[:, :, 10:].all() and not mask[:, :, :10].any()


def test_per_slice_otsu_follows_bleaching():
    # each slice dimmer than the last: one global threshold loses the deep slices
    rng = np.random.default_rng(1)
    image = rng.normal(10, 1, (6, 16, 16))
    image[:, 4:12, 4:12] += 50
    image *= np.linspace(1, 0.2, 6)[:, None, None]
    truth = np.zeros(image.shape, bool)
    truth[:, 4:12, 4:12] = True
    per_slice, levels = threshold_mask(image, per_slice=True)
    assert levels.shape == (6,)
    assert (per_slice == truth).all()
    whole, _ = threshold_mask(image)
    assert (whole != truth).any()


def test_smoothing_sigma_is_physical():
    image = np.zeros((21, 21, 21), np.float32)
    image[10, 10, 10] = 1
    _, _ = threshold_mask(image, smooth=1.0, spacing=(2, 1, 1), method="manual", threshold=0)
    from engine.segment._threshold import gaussian

    blurred = gaussian(image, 2.0, spacing=(2, 1, 1))
    # sigma 2 um is 1 voxel in z and 2 voxels in y and x
    profile_z = blurred[:, 10, 10] / blurred.max()
    profile_x = blurred[10, 10, :] / blurred.max()
    assert profile_z[11] == pytest.approx(np.exp(-0.5), rel=0.05)
    assert profile_x[12] == pytest.approx(np.exp(-0.5), rel=0.05)


def test_fill_holes_3d_and_per_slice():
    shell = ball((15, 15, 15), (7, 7, 7), 6) & ~ball((15, 15, 15), (7, 7, 7), 3)
    assert fill_holes(shell).sum() == ball((15, 15, 15), (7, 7, 7), 6).sum()
    # a tube open at both ends has no 3D hole, but a hole in every slice
    tube = np.zeros((5, 9, 9), bool)
    tube[:, 2:7, 2:7] = True
    tube[:, 4, 4] = False
    assert not fill_holes(tube)[2, 4, 4]
    assert fill_holes(tube, per_slice=True)[2, 4, 4]


def test_volume_filter_uses_physical_volume():
    labels = np.zeros((4, 10, 10), np.uint32)
    labels[0, :2, :2] = 5      # 4 voxels
    labels[2:, 5:, 5:] = 9     # 50 voxels
    spacing = (2.0, 0.5, 0.5)  # 0.5 unit^3 per voxel
    out = filter_by_volume(labels, spacing=spacing, min_volume=2, max_volume=20)
    assert out.max() == 1 and (out > 0).sum() == 4
    out = filter_by_volume(labels, spacing=spacing, min_volume=2.5)
    assert out.max() == 1 and (out > 0).sum() == 50
    with pytest.raises(InvalidInputError, match="max_volume"):
        filter_by_volume(labels, min_volume=5, max_volume=1)


@pytest.mark.parametrize("spacing", [(1, 1, 1), (3, 1, 1)])
def test_split_touching_balls_anisotropic(spacing):
    # two touching balls of radius 8 (physical), centres 14 apart along x
    shape = tuple(int(40 / s) for s in spacing)
    c = tuple(20 / s for s in spacing)
    a = ball(shape, (c[0], c[1], c[2] - 7), 8, spacing)
    b = ball(shape, (c[0], c[1], c[2] + 7), 8, spacing)
    labels = split_touching(a | b, spacing=spacing, min_distance=6)
    assert labels.max() == 2
    truth = np.where(a & ~b, 1, np.where(b & ~a, 2, 0)).astype(np.uint32)
    ap = average_precision(truth, labels * ((a ^ b)), thresholds=(0.9,))
    assert ap[0] == 1.0
    # seeds closer than min_distance merge: one object
    assert split_touching(a | b, spacing=spacing, min_distance=20).max() == 1


def test_absorb_small_objects_merges_fragments_into_their_cell():
    cell = ball((20, 20, 30), (10, 10, 12), 7)
    labels = np.where(cell, 1, 0).astype(np.uint32)
    labels[cell & (np.indices(cell.shape)[2] > 16)] = 2      # a cap cut off the cell
    labels[2:4, 2:4, 26:28] = 3                              # isolated debris
    volume_1 = (labels == 1).sum()
    out = absorb_small_objects(labels, spacing=(1, 1, 1), min_volume=volume_1 - 1)
    assert out.max() == 1
    np.testing.assert_array_equal(out == 1, cell)            # the cap is back, debris gone
    # with a foreground mask, a gap the labels left is filled too
    gap = labels.copy()
    gap[10, 10, 14] = 0
    out = absorb_small_objects(gap, min_volume=volume_1 - 1, foreground=cell)
    np.testing.assert_array_equal(out == 1, cell)


def test_postprocess_fills_then_filters():
    mask = ball((20, 20, 20), (10, 10, 10), 6)
    mask[10, 10, 10] = False
    mask[0, 0, 0] = True
    labels = postprocess_mask(mask, min_volume=2)
    assert labels.max() == 1 and labels[10, 10, 10] == 1 and labels[0, 0, 0] == 0


def test_bad_inputs_are_named():
    with pytest.raises(InvalidInputError, match="method"):
        threshold_mask(np.ones((2, 2, 2)), method="triangle")
    with pytest.raises(InvalidInputError, match="threshold"):
        threshold_mask(np.ones((2, 2, 2)), method="manual")
    with pytest.raises(InvalidInputError, match="colour"):
        segment_threshold(np.ones((10, 32, 32, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="4D"):
        segment_threshold(np.ones((2, 10, 32, 32), np.uint8))
    with pytest.raises(InvalidInputError, match="split"):
        split_touching(np.ones((3, 3, 3), bool), min_distance=-1)


@pytest.mark.slow
def test_otsu_split_on_real_nuclei(nuclei):
    """The unseen half x >= 128 of the real nuclei, physically chosen sizes."""
    image, truth, spacing = nuclei
    calls = []
    labels = segment_threshold(
        image, spacing=spacing, smooth=0.5, split=6.0, min_volume=100,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (3, 3)
    ap = average_precision(truth[..., 128:], labels[..., 128:], (0.5, 0.75))
    assert ap[0] >= 0.9 and ap[1] >= 0.9
