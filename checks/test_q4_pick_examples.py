"""Exercise 4: right and wrong examples of a class (helpers/plots.py, pick_examples)."""
import numpy as np

from helpers.plots import pick_examples

Y_TRUE = np.array([1, 0, 1, 1, 2, 1, 1])
Y_PRED = np.array([1, 0, 2, 1, 2, 0, 1])


def test_first_right_and_wrong_in_data_set_order():
    right, wrong = pick_examples(Y_TRUE, Y_PRED, cls=1, per_class=2)
    assert list(right) == [0, 3], f"the first two class-1 items predicted 1 are at 0 and 3, got {list(right)}"
    assert list(wrong) == [2, 5], f"the first two class-1 items predicted otherwise are at 2 and 5, got {list(wrong)}"


def test_fewer_when_there_are_not_enough():
    right, wrong = pick_examples(Y_TRUE, Y_PRED, cls=0, per_class=2)
    assert list(right) == [1] and list(wrong) == [], \
        f"class 0 has one right item (1) and no wrong one; got right={list(right)}, wrong={list(wrong)}"
