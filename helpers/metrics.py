"""Metrics: per-class accuracy, confusion matrix, average precision, IoU.

scikit-learn does the standard parts (confusion matrix, AP, PR curves); the thin
wrappers here fix the conventions (class order, NaN for absent classes).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import average_precision_score, confusion_matrix as _sk_confusion


def check_labels(labels, num_classes: int, name: str = "labels") -> np.ndarray:
    """``labels`` as an integer array, checked to hold only classes 0..num_classes-1.

    A value outside that range would silently count as a negative for every class (AP)
    or drop out of the confusion matrix (IoU, accuracy); float labels are a sign of a
    mix-up with scores. Both are a ValueError naming ``name``.
    """
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {labels.dtype} "
                         "(scores or probabilities passed as labels?)")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise ValueError(f"{name} holds class {int(bad)}; with {num_classes} classes they must be "
                         f"0..{num_classes - 1}")
    return labels


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``(C, C)`` counts; row = true class, column = predicted class."""
    y_true = check_labels(y_true, num_classes, "y_true").ravel()
    y_pred = check_labels(y_pred, num_classes, "y_pred").ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} items but y_pred has {y_pred.size}")
    return _sk_confusion(y_true, y_pred, labels=np.arange(num_classes))


def accuracy(y_true, y_pred) -> float:
    """Fraction of items (images or pixels) whose predicted class is the true one."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape or not y_true.size:
        raise ValueError(f"y_true has {y_true.size} items and y_pred {y_pred.size}: they must match and not be empty")
    return float((y_true == y_pred).mean())


def per_class_accuracy(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Accuracy within each true class, ``(C,)``; NaN for a class with no examples.

    Exercise 3: for each class c, the fraction of the items whose true class is c that
    were predicted as c. ``confusion_matrix`` (above) gives the counts you need.
    """
    # BEGIN SOLUTION q3
    cm = confusion_matrix(y_true, y_pred, num_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)
    # END SOLUTION


def hardest_class(class_accuracy) -> int:
    """Index of the class with the lowest accuracy, ignoring NaN (classes with no examples).

    Exercise 3, second part. Raises ValueError when no class has an accuracy.
    """
    class_accuracy = np.asarray(class_accuracy, dtype=np.float64)
    if np.isnan(class_accuracy).all():
        raise ValueError("no class has an accuracy (all NaN)")
    # BEGIN SOLUTION q3
    return int(np.nanargmin(class_accuracy))
    # END SOLUTION


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """Intersection over union per class from a confusion matrix ``(C, C)`` (rows true,
    columns predicted); NaN where a class is neither present nor predicted.

    Exercise 7: for class c, the items both true and predicted c, over the items true c
    or predicted c (or both).
    """
    cm = np.asarray(cm, dtype=np.float64)
    # BEGIN SOLUTION q7
    tp = np.diag(cm)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    # END SOLUTION


def mean_iou(iou) -> float:
    """Mean IoU over the classes whose IoU is defined (not NaN); NaN if none is.

    Exercise 7, second part.
    """
    iou = np.asarray(iou, dtype=np.float64)
    # BEGIN SOLUTION q7
    return float("nan") if np.isnan(iou).all() else float(np.nanmean(iou))
    # END SOLUTION


def pixel_accuracy(cm: np.ndarray) -> float:
    """Fraction of all items (pixels) on the diagonal of the confusion matrix."""
    cm = np.asarray(cm)
    return float(np.trace(cm) / cm.sum())


def average_precision_per_class(probs, labels, class_names=None) -> np.ndarray:
    """AP of each class, one-vs-rest, over every item (pixel) given.

    Args:
        probs: class scores ``(N, C)`` or ``(N, C, H, W)``.
        labels: true classes ``(N,)`` or ``(N, H, W)``.
    Returns ``(C,)``; a class absent from ``labels`` has no defined AP: NaN, with a
    warning naming it (:func:`mean_ap` leaves it out). Scores are viewed, not copied,
    where possible: one float32 column at a time is passed to scikit-learn.

    Exercise 6: for each class c present, rank every item by its score for c
    (``columns(c)``, a flat array) and summarise the precision-recall curve of "is
    class c" (``positives``) as the average precision; scikit-learn's
    ``average_precision_score`` does exactly that.
    """
    probs, labels = np.asarray(probs), np.asarray(labels)
    num_classes = probs.shape[1]
    if probs.ndim == 4:
        # (N, C, H, W) -> per class a flat view over (N, H, W)
        columns = lambda c: probs[:, c].reshape(-1)  # noqa: E731
    elif probs.ndim == 2:
        columns = lambda c: probs[:, c]  # noqa: E731
    else:
        raise ValueError(f"probs must be (N, C) or (N, C, H, W), got shape {probs.shape}")
    flat = check_labels(labels, num_classes).reshape(-1)
    if flat.size != probs.size // num_classes:
        raise ValueError(f"labels {labels.shape} do not match probs {probs.shape}")
    ap = np.full(num_classes, np.nan)
    for c in range(num_classes):
        positives = flat == c
        if not positives.any():
            name = class_names[c] if class_names is not None else c
            warnings.warn(f"class {name!r} is absent from the labels: its AP is undefined (NaN)")
            continue
        # BEGIN SOLUTION q6
        ap[c] = average_precision_score(positives, columns(c))
        # END SOLUTION
    return ap


def mean_ap(ap) -> float:
    """Mean over the classes whose AP is defined."""
    ap = np.asarray(ap, dtype=np.float64)
    if np.isnan(ap).all():
        return float("nan")
    return float(np.nanmean(ap))


def describe_curves(history: dict, x: str = "samples") -> str:
    """A few sentences read off a training history: where the validation loss bottomed
    out, whether it rose again (over-fitting late in training), and how far the final
    training loss sits below the validation loss (the generalisation gap). Where the
    history has accuracies, a training accuracy more than 3 points above validation also
    counts as a gap: label smoothing keeps both losses above a floor (about 0.50 for 10
    classes at 0.1) that hides it in the losses; otherwise the final accuracies close the
    text. The training accuracy is the mean over the batches since the previous validation
    point (a quarter epoch for four validations per epoch, two epochs for one every second
    epoch), so it trails the weights a little. A final fit's history (no validation
    points) gets the training curve only, and the reminder that it cannot show over-fitting."""
    if "val_loss" not in history:
        train = history["train_loss"]
        text = f"Training loss went from {train[0]:.3f} to {train[-1]:.3f}"
        if "train_acc" in history:
            text += (f" and training accuracy ended at {100 * float(history['train_acc'][-1]):.1f}% (the mean over "
                     "the training batches since the previous point)")
        return text + (". This fit kept no images aside, so its curves cannot measure over-fitting: only a "
                       "held-out set can.")
    val, train = np.asarray(history["val_loss"]), np.asarray(history["train_loss"])
    best = int(np.argmin(val))
    where = (f"{history[x][best]:,.0f} training samples" if x == "samples"
             else f"epoch {history[x][best]:.0f}")
    text = (f"Validation loss was lowest ({val[best]:.3f}) after {where} and ended at "
            f"{val[-1]:.3f}; training loss went from {train[0]:.3f} to {train[-1]:.3f}.")
    rise = val[-1] - val[best]
    acc_gap = None
    if "train_acc" in history and "val_acc" in history:
        # percentages rounded as printed, so the gap is the difference of the printed numbers
        train_acc, val_acc = (round(100 * float(history[k][-1]), 1) for k in ("train_acc", "val_acc"))
        acc_gap = round(train_acc - val_acc, 1)
    if best < len(val) - 1 and rise > 0.05 * val[best] and train[-1] < train[best]:
        text += (f" The validation loss rose by {rise:.3f} ({rise / val[best]:.0%}) from its minimum while "
                 "the training loss kept falling: the model over-fits late in training.")
    elif train[-1] < 0.5 * val[-1]:
        text += (f" The validation loss did not rise much at the end, but the final training loss is "
                 f"{train[-1] / val[-1]:.0%} of it: a wide gap, the model fits its training images much "
                 "better than unseen ones (over-fitting).")
    elif acc_gap is not None and acc_gap > 3:
        text += (f" The validation loss did not rise at the end, but the final training accuracy ({train_acc:.1f}%) "
                 f"is {acc_gap:.1f} points above the validation accuracy ({val_acc:.1f}%): the "
                 "model fits its training images better than unseen ones (a generalisation gap).")
        return text
    else:
        text += " The validation loss did not rise at the end and stays close to the training loss: no clear over-fitting."
    if acc_gap is not None:
        text += (f" Final accuracy: {train_acc:.1f}% on the training batches since the previous validation, "
                 f"{val_acc:.1f}% on validation.")
    return text
