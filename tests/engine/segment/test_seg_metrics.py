"""Average precision against hand-computed answers and Cellpose's metric."""

import numpy as np
import pytest

from engine.segment import average_precision, match_labels


def test_hand_computed():
    truth = np.zeros((1, 10, 10), np.uint32)
    truth[0, :5, :5] = 1    # 25 voxels
    truth[0, 6:, 6:] = 2    # 16 voxels, missed
    pred = np.zeros_like(truth)
    pred[0, :5, :4] = 3     # IoU 20/25 = 0.8
    pred[0, 8:, :2] = 4     # false positive
    ap = average_precision(truth, pred, thresholds=(0.5, 0.8, 0.81))
    # TP=1, FP=1, FN=1 -> 1/3; at 0.81 nothing matches -> 0/4
    np.testing.assert_allclose(ap, [1 / 3, 1 / 3, 0])
    table = match_labels(truth, pred)
    assert table[["truth", "predicted"]].values.tolist() == [[1, 3]]
    assert table.iou.iloc[0] == pytest.approx(0.8)


def test_empty_images_are_perfect():
    z = np.zeros((2, 3, 3), np.uint8)
    np.testing.assert_array_equal(average_precision(z, z), [1, 1, 1])


def test_agrees_with_cellpose_metric(nuclei):
    metrics = pytest.importorskip("cellpose.metrics")
    _, truth, _ = nuclei
    # a prediction with typical errors: shifted, one merge, one split
    pred = np.roll(truth, 2, axis=2).copy()
    pred[pred == 3] = 2
    pred[(pred == 5) & (np.arange(256)[None, None, :] > 80)] = 99
    ours = average_precision(truth, pred, (0.5, 0.75, 0.9))
    theirs = metrics.average_precision([truth], [pred], threshold=[0.5, 0.75, 0.9])[0][0]
    np.testing.assert_allclose(ours, theirs)
