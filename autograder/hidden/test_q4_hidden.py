"""Exercise 4, hidden: pick_examples on held-out cases."""
import numpy as np

from helpers.plots import pick_examples


def test_random_cases():
    rng = np.random.default_rng(5)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    for cls in range(4):
        for k in (1, 3):
            right, wrong = pick_examples(y_true, y_pred, cls, per_class=k)
            mine = np.flatnonzero(y_true == cls)
            assert list(right) == [i for i in mine if y_pred[i] == cls][:k]
            assert list(wrong) == [i for i in mine if y_pred[i] != cls][:k]


def test_a_class_with_no_items():
    right, wrong = pick_examples(np.array([0, 0]), np.array([0, 1]), cls=3)
    assert list(right) == [] and list(wrong) == []
