import math

import numpy as np
import pytest

from helpers import metrics


def test_per_class_accuracy_hand_computed():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0, 2]
    acc = metrics.per_class_accuracy(y_true, y_pred, num_classes=4)
    np.testing.assert_allclose(acc[:3], [1 / 2, 2 / 3, 1.0])
    assert math.isnan(acc[3])  # no examples of class 3


def test_confusion_rows_are_true_classes():
    cm = metrics.confusion_matrix([0, 0, 1], [1, 1, 1], num_classes=3)
    np.testing.assert_array_equal(cm, [[0, 2, 0], [0, 1, 0], [0, 0, 0]])


def test_iou_and_pixel_accuracy_hand_computed():
    cm = np.array([[3, 1], [2, 4]])
    np.testing.assert_allclose(metrics.iou_per_class(cm), [3 / 6, 4 / 7])
    assert metrics.pixel_accuracy(cm) == pytest.approx(0.7)
    # a class neither present nor predicted has no IoU
    assert math.isnan(metrics.iou_per_class(np.array([[2, 0], [0, 0]]))[1])


def _two_class_probs():
    s = np.array([0.9, 0.9, 0.5, 0.1])
    return np.stack([1 - s, s], axis=1), np.array([1, 0, 1, 0])


def test_average_precision_with_ties_hand_computed():
    probs, labels = _two_class_probs()
    ap = metrics.average_precision_per_class(probs, labels)
    # class 1, ranked by score: {0.9: pos, neg} -> P 1/2 at R 1/2; {0.5: pos} -> P 2/3 at R 1
    # class 0, scores 1-s:       {0.9: pos} -> P 1 at R 1/2; {0.5: neg}; {0.1: neg, pos} -> P 1/2 at R 1
    np.testing.assert_allclose(ap, [0.5 * 1 + 0.5 * 0.5, 0.5 * 0.5 + 0.5 * 2 / 3])


def test_average_precision_over_pixels_matches_flattened():
    rng = np.random.default_rng(0)
    probs = rng.random((3, 4, 5, 6)).astype(np.float32)
    labels = rng.integers(0, 4, (3, 5, 6))
    flat = probs.transpose(0, 2, 3, 1).reshape(-1, 4)
    np.testing.assert_allclose(metrics.average_precision_per_class(probs, labels),
                               metrics.average_precision_per_class(flat, labels.ravel()))


def test_absent_class_gives_nan_and_is_left_out_of_the_mean():
    probs, labels = _two_class_probs()
    probs = np.concatenate([probs * 0.9, np.full((4, 1), 0.1)], axis=1)  # a third class, never true
    with pytest.warns(UserWarning, match="'balcony' is absent"):
        ap = metrics.average_precision_per_class(probs, labels, ["a", "b", "balcony"])
    assert math.isnan(ap[2])
    assert metrics.mean_ap(ap) == pytest.approx((0.75 + (0.25 + 1 / 3)) / 2)


def test_average_precision_rejects_bad_shapes():
    with pytest.raises(ValueError, match="labels"):
        metrics.average_precision_per_class(np.zeros((4, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="probs must be"):
        metrics.average_precision_per_class(np.zeros((4, 2, 3)), np.zeros(4))


def test_describe_curves_names_over_fitting_only_when_present():
    rising = {"samples": [1, 2, 3, 4], "train_loss": [1.0, 0.6, 0.4, 0.2], "val_loss": [0.9, 0.5, 0.6, 0.7]}
    assert "rose by 0.200 (40%)" in metrics.describe_curves(rising)
    gap = dict(rising, train_loss=[1.0, 0.5, 0.3, 0.1], val_loss=[0.9, 0.5, 0.49, 0.48])
    assert "a wide gap" in metrics.describe_curves(gap)
    falling = dict(rising, train_loss=[1.0, 0.6, 0.45, 0.4], val_loss=[0.9, 0.6, 0.5, 0.45])
    assert "no clear over-fitting" in metrics.describe_curves(falling)
    assert "after epoch 4" in metrics.describe_curves(dict(falling, epoch=[1, 2, 3, 4]), x="epoch")
    # label smoothing lifts both losses to a floor: the accuracies still show the gap
    smoothed = dict(falling, train_acc=[0.80, 0.90, 0.95, 0.99], val_acc=[0.80, 0.88, 0.92, 0.94])
    assert ("training accuracy (99.0%) is 5.0 points above the validation accuracy (94.0%)"
            in metrics.describe_curves(smoothed))
    # the gap is the difference of the printed (rounded) percentages: 99.1 - 94.1 = 5.0, where the
    # unrounded 99.064 - 94.136 = 4.928 would print as 4.9 beside them
    rounding = dict(smoothed, train_acc=[0.8, 0.9, 0.95, 0.99064], val_acc=[0.8, 0.88, 0.92, 0.94136])
    assert "(99.1%) is 5.0 points above the validation accuracy (94.1%)" in metrics.describe_curves(rounding)
    close = dict(smoothed, val_acc=[0.80, 0.88, 0.95, 0.97])
    assert "no clear over-fitting" in metrics.describe_curves(close)
    assert "Final accuracy: 99.0% on the training batches since the previous validation, 97.0% on validation." \
        in metrics.describe_curves(close)
    assert "Final accuracy" not in metrics.describe_curves(falling)  # no accuracies recorded
    # a final fit has no validation points: the training curve, and no verdict on over-fitting
    final_fit = {"samples": [1, 2], "train_loss": [1.0, 0.55], "train_acc": [0.7, 0.9667]}
    text = metrics.describe_curves(final_fit)
    assert text.startswith("Training loss went from 1.000 to 0.550 and training accuracy ended at 96.7%")
    assert "cannot measure over-fitting" in text and "no clear over-fitting" not in text


def test_accuracy_and_mean_iou_hand_computed():
    assert metrics.accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75
    assert metrics.accuracy(np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, 1]])) == 0.75  # pixels
    with pytest.raises(ValueError, match="y_true has 2 items and y_pred 3"):
        metrics.accuracy([0, 1], [0, 1, 1])
    assert metrics.mean_iou([0.5, np.nan, 0.25]) == pytest.approx(0.375)  # an undefined class is left out
    assert math.isnan(metrics.mean_iou([np.nan, np.nan]))
