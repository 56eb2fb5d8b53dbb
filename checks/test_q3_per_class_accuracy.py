"""Exercise 3: accuracy per class and the hardest class (helpers/metrics.py)."""
import math

import numpy as np

from helpers import metrics


def test_accuracy_per_class_on_a_hand_made_case():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    acc = np.asarray(metrics.per_class_accuracy(y_true, y_pred, num_classes=4))
    assert acc.shape == (4,), f"one accuracy per class: expected shape (4,), got {acc.shape}"
    assert np.allclose(acc[:3], [1 / 2, 2 / 3, 1.0]), \
        f"class 0 has 1 of 2 right, class 1 2 of 3, class 2 1 of 1: expected [0.5, 0.667, 1.0], got {acc[:3]}"
    assert math.isnan(acc[3]), f"class 3 has no examples: its accuracy should be NaN, got {acc[3]}"


def test_hardest_class_ignores_classes_without_examples():
    assert metrics.hardest_class([0.9, 0.4, 0.7]) == 1, "the hardest class is the one with the lowest accuracy"
    assert metrics.hardest_class([0.9, float("nan"), 0.7]) == 2, \
        "a class with no examples (NaN) cannot be the hardest: ignore NaN"
