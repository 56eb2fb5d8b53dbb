"""Exercise 6: average precision per class (helpers/metrics.py, average_precision_per_class)."""
import math
import warnings

import numpy as np

from helpers import metrics


def test_average_precision_on_a_hand_made_case():
    # class 1 scores, ranked: 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg)
    # precision at each positive: 1/1, then 2/3 -> AP = (1 + 2/3) / 2
    p1 = np.array([0.9, 0.8, 0.7, 0.1])
    probs = np.stack([1 - p1, p1], axis=1)
    labels = np.array([1, 0, 1, 0])
    ap = np.asarray(metrics.average_precision_per_class(probs, labels))
    assert ap.shape == (2,), f"one AP per class: expected shape (2,), got {ap.shape}"
    assert abs(ap[1] - (1 + 2 / 3) / 2) < 1e-9, f"class 1: expected AP {(1 + 2 / 3) / 2:.4f}, got {ap[1]:.4f}"
    assert abs(ap[0] - (1 / 1 + 2 / 3) / 2) < 1e-9, f"class 0: expected AP {(1 + 2 / 3) / 2:.4f}, got {ap[0]:.4f}"


def test_every_pixel_counts():
    rng = np.random.default_rng(0)
    probs = rng.random((2, 3, 4, 4))
    labels = rng.integers(0, 3, (2, 4, 4))
    flat = np.asarray(metrics.average_precision_per_class(probs.transpose(0, 2, 3, 1).reshape(-1, 3), labels.ravel()))
    per_pixel = np.asarray(metrics.average_precision_per_class(probs, labels))
    assert np.allclose(per_pixel, flat), "scores (N, C, H, W) should give the same AP as the same pixels listed (N*H*W, C)"


def test_a_class_absent_from_the_labels_has_no_ap():
    probs = np.array([[0.8, 0.2, 0.0], [0.3, 0.7, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap = metrics.average_precision_per_class(probs, np.array([0, 1]))
    assert math.isnan(ap[2]), f"class 2 never occurs: its AP should be NaN, got {ap[2]}"
