"""Exercise 3, hidden: per-class accuracy and the hardest class on held-out cases."""
import numpy as np

from helpers import metrics


def _reference(y_true, y_pred, num_classes):
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mine = y_true == c
        if mine.any():
            out[c] = (y_pred[mine] == c).mean()
    return out


def test_random_cases():
    rng = np.random.default_rng(42)
    for n, k in ((50, 3), (400, 10), (7, 6)):
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        np.testing.assert_allclose(metrics.per_class_accuracy(y_true, y_pred, k), _reference(y_true, y_pred, k))


def test_pixels_count_like_images():
    rng = np.random.default_rng(7)
    y_true, y_pred = rng.integers(0, 5, (3, 8, 8)), rng.integers(0, 5, (3, 8, 8))
    np.testing.assert_allclose(metrics.per_class_accuracy(y_true, y_pred, 5), _reference(y_true.ravel(), y_pred.ravel(), 5))


def test_hardest_class_cases():
    assert metrics.hardest_class(np.array([0.2, 0.1, 0.3])) == 1
    assert metrics.hardest_class([float("nan"), 0.8, float("nan"), 0.5]) == 3
