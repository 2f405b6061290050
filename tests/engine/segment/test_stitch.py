"""IoU stitching equals Cellpose's own on the same 2D masks."""

import numpy as np
import pytest

from engine import InvalidInputError
from engine.segment import stitch_slices


def per_slice_labels(volume):
    from skimage.measure import label

    return np.stack([label(plane) for plane in volume]).astype(np.uint32)


def cellpose_stitch(masks, threshold):
    utils = pytest.importorskip("cellpose.utils")
    return utils.stitch3D(masks.copy(), stitch_threshold=threshold)


def test_known_answer():
    s = np.zeros((4, 6, 6), np.uint32)
    s[0, :3, :3] = 1            # continues into slice 1 (IoU 1)
    s[1, :3, :3] = 4
    s[1, 4:, 4:] = 2            # new in slice 1
    s[2, :3, :2] = 1            # IoU 6/9 with the first object
    s[3, 3:, :] = 1             # overlaps nothing above: new
    out = stitch_slices(s, stitch_threshold=0.5)
    assert out[0, 0, 0] == out[1, 0, 0] == out[2, 0, 0] == 1
    assert len({out[1, 5, 5], out[3, 5, 5], 1}) == 3
    assert out.dtype == np.uint32
    raised = stitch_slices(s, stitch_threshold=0.7)
    assert raised[2, 0, 0] not in (0, 1)


@pytest.mark.parametrize("threshold", [0.1, 0.25, 0.5, 0.9])
def test_equals_cellpose_on_real_nuclei_slices(nuclei, threshold):
    image, truth, _ = nuclei
    from skimage.filters import threshold_otsu

    # real 2D masks: per-slice components of a thresholded nuclei stack,
    # with empty slices at the top and bottom as Cellpose sees them
    masks = per_slice_labels(image > threshold_otsu(image))
    ours = stitch_slices(masks, stitch_threshold=threshold)
    theirs = cellpose_stitch(masks, threshold)
    np.testing.assert_array_equal(ours, theirs.astype(np.uint32))


def test_equals_cellpose_on_ground_truth_pieces(nuclei):
    _, truth, _ = nuclei
    masks = per_slice_labels(truth[:, :128, :128] > 0)
    # remove every other label of a slice to leave gaps in the numbering
    masks[30][masks[30] % 2 == 0] = 0
    for threshold in (0.25, 0.6):
        np.testing.assert_array_equal(
            stitch_slices(masks, threshold), cellpose_stitch(masks, threshold)
        )


def test_bad_threshold_and_shape():
    with pytest.raises(InvalidInputError, match="stitch_threshold"):
        stitch_slices(np.zeros((2, 3, 3), np.uint8), 0)
    with pytest.raises(InvalidInputError, match="stitch_threshold"):
        stitch_slices(np.zeros((2, 3, 3), np.uint8), "high")
    with pytest.raises(InvalidInputError, match=r"\(z, y, x\)"):
        stitch_slices(np.zeros((3, 3), np.uint8))
