"""Instance-segmentation accuracy: matching labels to ground truth by IoU.

Average precision here is the definition Cellpose, StarDist and the
Data Science Bowl use: at an IoU threshold t, true positives are pairs
of a true and a predicted object matched one-to-one with IoU >= t
(optimal matching), and AP = TP / (TP + FP + FN).
"""

import numpy as np
import pandas as pd

from .._validate import check_labels, check_same_shape


def _overlaps(truth, predicted):
    both = (truth > 0) & (predicted > 0)
    t = truth[both].astype(np.uint64)
    p = predicted[both].astype(np.uint64)
    width = np.uint64(int(predicted.max()) + 1)
    pairs, inter = np.unique(t * width + p, return_counts=True)
    return (pairs // width).astype(np.intp), (pairs % width).astype(np.intp), inter


def match_labels(truth, predicted):
    """Every overlapping pair of true and predicted objects, with its IoU.

    Parameters
    ----------
    truth, predicted : ndarray of int, same shape
        Label images (0 = background).

    Returns
    -------
    pandas.DataFrame
        Columns ``truth``, ``predicted``, ``intersection``, ``iou``, one
        row per overlapping pair, sorted by decreasing IoU.

    Examples
    --------
    >>> t = np.array([[1, 1, 0, 2]]); p = np.array([[3, 3, 3, 0]])
    >>> match_labels(t, p)[["truth", "predicted", "iou"]].to_dict("records")
    [{'truth': 1, 'predicted': 3, 'iou': 0.6666666666666666}]
    """
    truth = check_labels(truth, name="truth", allow_empty=True)
    predicted = check_labels(predicted, name="predicted", allow_empty=True)
    check_same_shape(truth, predicted, names=("truth", "predicted"))
    ti, pi, inter = _overlaps(truth, predicted)
    area_t = np.bincount(truth.ravel(), minlength=int(truth.max()) + 1)
    area_p = np.bincount(predicted.ravel(), minlength=int(predicted.max()) + 1)
    iou = inter / (area_t[ti] + area_p[pi] - inter)
    table = pd.DataFrame(
        {"truth": ti, "predicted": pi, "intersection": inter, "iou": iou}
    )
    return table.sort_values("iou", ascending=False, ignore_index=True)


def average_precision(truth, predicted, thresholds=(0.5, 0.75, 0.9)):
    """Average precision of a label image against ground truth.

    Parameters
    ----------
    truth, predicted : ndarray of int, same shape
        Label images (0 = background); ids need not be consecutive.
    thresholds : sequence of float
        IoU thresholds.

    Returns
    -------
    ap : ndarray of float, one per threshold
        TP / (TP + FP + FN); 1.0 when both images are empty.

    Examples
    --------
    >>> t = np.zeros((1, 4, 8), int); t[0, :, :4] = 1; t[0, :, 4:] = 2
    >>> p = t.copy(); p[0, :, 3] = 2   # object 2 grows into object 1
    >>> average_precision(t, p, thresholds=(0.5, 0.78))
    array([1.        , 0.33333333])
    """
    from scipy.optimize import linear_sum_assignment

    table = match_labels(truth, predicted)
    truth = np.asarray(truth)
    predicted = np.asarray(predicted)
    n_true = np.unique(truth[truth > 0]).size
    n_pred = np.unique(predicted[predicted > 0]).size
    result = []
    for t in np.atleast_1d(np.asarray(thresholds, float)):
        hits = table[table.iou >= t]
        tp = _optimal_matches(hits, linear_sum_assignment) if len(hits) else 0
        denominator = n_true + n_pred - tp
        result.append(tp / denominator if denominator else 1.0)
    return np.array(result)


def _optimal_matches(hits, linear_sum_assignment):
    rows, row_index = np.unique(hits.truth.to_numpy(), return_inverse=True)
    cols, col_index = np.unique(hits.predicted.to_numpy(), return_inverse=True)
    cost = np.zeros((rows.size, cols.size))
    cost[row_index, col_index] = -1.0 - hits.iou.to_numpy() * 1e-6
    r, c = linear_sum_assignment(cost)
    return int((cost[r, c] < 0).sum())
