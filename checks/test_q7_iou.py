"""Exercise 7: IoU per class and mean IoU (helpers/metrics.py, iou_per_class and mean_iou)."""
import math

import numpy as np

from helpers import metrics


def test_iou_on_a_hand_made_confusion_matrix():
    cm = np.array([[3, 1], [2, 4]])  # rows: true class; columns: predicted class
    iou = np.asarray(metrics.iou_per_class(cm))
    assert np.allclose(iou, [3 / 6, 4 / 7]), \
        f"class 0: 3 both / (3+1 true + 2 predicted) = 0.5; class 1: 4 / 7 = 0.571; got {iou}"


def test_a_class_neither_true_nor_predicted_has_no_iou():
    iou = metrics.iou_per_class(np.array([[2, 0], [0, 0]]))
    assert math.isnan(iou[1]), f"class 1 is neither true nor predicted anywhere: its IoU should be NaN, got {iou[1]}"


def test_mean_iou_leaves_out_undefined_classes():
    assert abs(metrics.mean_iou([0.5, float("nan"), 0.25]) - 0.375) < 1e-12, \
        "mean IoU averages the classes whose IoU is defined: (0.5 + 0.25) / 2 = 0.375"
    assert math.isnan(metrics.mean_iou([float("nan")])), "with no class defined, mean IoU is NaN"
