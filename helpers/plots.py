"""Figures: each helper draws one figure, saves it as PNG and shows it inline.

Files go to ``figures/<part>/<name>.png`` under ``config.output_root()`` (the repo
root in a full run, a temporary folder in smoke mode), at a fixed size and dpi so
that reruns write the same files; ``config.figure_dir(part)`` is the folder.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, StrMethodFormatter
from sklearn.metrics import precision_recall_curve

from . import config
from .files import atomic_path

DPI = 100
GREEN, RED = "#1a9641", "#d7191c"


def save_figure(fig: plt.Figure, part: str, name: str) -> Path:
    """Save ``fig`` as ``figures/<part>/<name>.png``, then show it (in a notebook)
    or close it (elsewhere). Returns the path written; the figure helpers below return
    nothing, so a notebook cell that ends with one shows the figure and no stray value."""
    path = config.figure_dir(part) / f"{name}.png"
    with atomic_path(path) as tmp:  # an interrupted save leaves the previous PNG intact
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    if "inline" in matplotlib.get_backend().lower():
        plt.show()
    else:
        plt.close(fig)
    return path


def show_images(images, titles, part: str, name: str, ncols: int = 8, colors=None,
                cmap: str = "gray", suptitle: str = "") -> None:
    """A grid of images ``(N, H, W)`` or ``(N, H, W, 3)`` with one title each, and
    ``suptitle`` above the grid."""
    images = np.asarray(images)
    n = len(images)
    nrows = -(-n // ncols)
    title_lines = max((str(t).count("\n") + 1 for t in titles), default=1)
    # constrained layout keeps multi-line titles clear of the row above
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, (1.5 + 0.15 * title_lines) * nrows),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap)
            ax.set_title(titles[i], fontsize=8, color=colors[i] if colors else "black")
    if suptitle:
        fig.suptitle(suptitle)
    save_figure(fig, part, name)


def plot_curves(history: dict, part: str, name: str, x: str = "samples",
                metrics=("loss", "acc"), title: str = "") -> None:
    """Training and validation curves from a :func:`helpers.training.train` history
    (training curves only for a final fit, whose history has no validation points).

    ``x`` is ``"samples"`` (training samples seen) or ``"epoch"``.
    """
    labels = {"loss": "cross-entropy loss", "acc": "accuracy"}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    xs = np.asarray(history[x])
    for ax, metric in zip(axes.flat, metrics):
        # each training point is the mean over the batches since the previous point
        ax.plot(xs, history[f"train_{metric}"], marker=".", label="training batches (mean since last point)")
        if f"val_{metric}" in history:
            ax.plot(xs, history[f"val_{metric}"], marker=".", label="validation set")
        ax.set_xlabel("training samples seen" if x == "samples" else "epoch")
        if x == "samples":
            ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # 600,000 rather than 6e5
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))  # long labels that never touch
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # 5, 10, 15: no 2.5
        ax.set_ylabel(labels.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(textwrap.fill(title, 60 * len(metrics)))  # no wider than the axes below it
    fig.tight_layout()
    save_figure(fig, part, name)


def _title_room(fig: plt.Figure, title: str) -> float:
    """Draw ``title`` above the figure; the top of the area left to the axes (for
    ``tight_layout(rect=...)``, which does not make room for a suptitle)."""
    if not title:
        return 1.0
    fig.suptitle(title)
    return 1 - 0.5 / fig.get_figheight()


def plot_per_class(values: dict, classes, part: str, name: str, ylabel: str = "accuracy",
                   title: str = "", decimals: int = 2) -> None:
    """Grouped bars: one group per class, one bar per series in ``values``
    (series name -> ``(C,)`` array), with each bar's value written above it to
    ``decimals`` places."""
    n_series = len(values)
    width = 0.8 / n_series
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(min(14, 4 + 0.45 * len(classes) * n_series), 4))
    for i, (label, vals) in enumerate(values.items()):
        bars = ax.bar(x + (i - (n_series - 1) / 2) * width, vals, width, label=label)
        ax.bar_label(bars, fmt=f"%.{decimals}f", fontsize=7, padding=1)
    ax.set_xticks(x, classes, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.08)
    ax.grid(axis="y", alpha=0.3)
    # the legend sits above the axes, where it can cover no bar, however low
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=n_series, frameon=False)
    if title:
        ax.set_title(title, pad=30)  # room for the legend
    fig.tight_layout()
    save_figure(fig, part, name)


def plot_confusion(matrices: dict, classes, part: str, name: str) -> None:
    """Row-normalised confusion matrices (title -> ``(C, C)`` counts) side by side."""
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(7 * n, 6), squeeze=False)
    for ax, (title, cm) in zip(axes.flat, matrices.items()):
        cm = np.asarray(cm, dtype=np.float64)
        rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        sns.heatmap(rates, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, square=True,
                    xticklabels=classes, yticklabels=classes, cbar=False, ax=ax,
                    annot_kws={"fontsize": 7})
        ax.tick_params(axis="y", labelrotation=0)  # seaborn turns short labels upright, long ones not
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(f"{title} (row-normalised)")
    fig.tight_layout()
    save_figure(fig, part, name)


def pick_examples(y_true, y_pred, cls: int, per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first ``per_class`` items of class ``cls`` predicted right, and of
    the first ``per_class`` predicted wrong, in the order of the data set.

    Exercise 4. ``y_true`` and ``y_pred`` are ``(N,)`` class indices; each result holds
    at most ``per_class`` indices (fewer when there are not that many).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    # BEGIN SOLUTION q4
    right = np.flatnonzero((y_true == cls) & (y_pred == cls))[:per_class]
    wrong = np.flatnonzero((y_true == cls) & (y_pred != cls))[:per_class]
    return right, wrong
    # END SOLUTION


def show_predictions(images, y_true, y_pred, classes, part: str, name: str, per_class: int = 2,
                     title: str = "") -> None:
    """For each class, the first ``per_class`` correct predictions (green title)
    and the first ``per_class`` wrong ones (red title), in test-set order
    (:func:`pick_examples`), under ``title``.

    ``images`` ``(N, H, W)``; ``y_true``/``y_pred`` ``(N,)``.
    """
    images, y_true, y_pred = np.asarray(images), np.asarray(y_true), np.asarray(y_pred)
    ncols = 2 * per_class
    fig, axes = plt.subplots(len(classes), ncols, figsize=(1.9 * ncols, 2.0 * len(classes)),
                             squeeze=False)
    for c, row in enumerate(axes):
        right, wrong = pick_examples(y_true, y_pred, c, per_class)
        picks = [(i, GREEN) for i in right] + [None] * (per_class - len(right))
        picks += [(i, RED) for i in wrong] + [None] * (per_class - len(wrong))
        for ax, pick in zip(row, picks):
            ax.set_xticks([])
            ax.set_yticks([])
            if pick is None:
                ax.axis("off")
                continue
            i, color = pick
            ax.imshow(images[i], cmap="gray")
            for spine in ax.spines.values():
                spine.set_edgecolor(color)
                spine.set_linewidth(3)
            ax.set_title(f"true: {classes[y_true[i]]}\npred: {classes[y_pred[i]]}",
                         fontsize=7, color=color)
    fig.tight_layout(rect=(0, 0, 1, _title_room(fig, title)))
    save_figure(fig, part, name)


def show_filters(weight, part: str, name: str, ncols: int = 8) -> None:
    """First-layer kernels ``(K, 1, kh, kw)`` as a grid, each on its own colour scale
    (blue negative, red positive)."""
    weight = np.asarray(weight)[:, 0]
    n = len(weight)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.3 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            lim = np.abs(weight[i]).max()
            ax.imshow(weight[i], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(f"#{i}", fontsize=7)
    fig.tight_layout()
    save_figure(fig, part, name)


def label_legend(classes, palette) -> list:
    return [Patch(facecolor=np.asarray(palette[i]) / 255, edgecolor="gray", label=c)
            for i, c in enumerate(classes)]


def show_segmentations(columns: dict, classes, palette, part: str, name: str, title: str = "") -> None:
    """Rows of photos beside label maps, under ``title``.

    ``columns``: title -> list of images; photos ``(H, W, 3)`` uint8, label maps
    ``(H, W)`` integers drawn with ``palette`` (``(C, 3)`` uint8 RGB).
    """
    palette = np.asarray(palette, dtype=np.uint8)
    titles = list(columns)
    nrows = len(columns[titles[0]])
    fig, axes = plt.subplots(nrows, len(titles), figsize=(2.6 * len(titles), 2.6 * nrows + 0.6),
                             squeeze=False)
    for j, column in enumerate(titles):
        for i, img in enumerate(columns[column]):
            img = np.asarray(img)
            ax = axes[i, j]
            ax.imshow(palette[img] if img.ndim == 2 else img)
            ax.axis("off")
            if i == 0:
                ax.set_title(column, fontsize=10)
    fig.legend(handles=label_legend(classes, palette), loc="lower center", ncol=len(classes),
               frameon=False)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, _title_room(fig, title)))
    save_figure(fig, part, name)


def plot_pr_curves(probs, labels, classes, part: str, name: str, max_points: int = 2000,
                   title: str = "") -> None:
    """One-vs-rest precision-recall curve of each class over every pixel (or image).

    ``probs`` ``(N, C, ...)``, ``labels`` ``(N, ...)``. Curves are thinned to
    ``max_points`` points for drawing; the AP itself comes from
    :func:`helpers.metrics.average_precision_per_class`.
    """
    probs, labels = np.asarray(probs), np.asarray(labels).reshape(-1)
    fig, ax = plt.subplots(figsize=(6, 5))
    for c, cls in enumerate(classes):
        positives = labels == c
        if not positives.any():
            continue
        precision, recall, _ = precision_recall_curve(positives, probs[:, c].reshape(-1))
        keep = np.unique(np.linspace(0, len(recall) - 1, max_points).astype(int))
        (line,) = ax.plot(recall[keep], precision[keep], label=cls)
        # chance: scores that ignore the image give a precision of the class's share at every recall
        ax.axhline(positives.mean(), color=line.get_color(), linestyle=":", linewidth=1)
    ax.plot([], [], color="grey", linestyle=":", linewidth=1, label="chance (the class's share)")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, part, name)
