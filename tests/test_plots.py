import numpy as np
import pytest
import torch

from helpers import config, facades, plots


@pytest.fixture
def out(tmp_path, monkeypatch):
    """Smoke mode with a known output folder: figures must land there, not in the repo."""
    monkeypatch.setenv("DLCV_SMOKE", "1")
    monkeypatch.setenv("DLCV_OUTPUT_DIR", str(tmp_path))
    return tmp_path / "figures" / "part"


def test_smoke_mode_never_writes_into_the_repository(out):
    assert config.figure_dir("part") == out
    assert config.REPO_ROOT not in out.parents


def test_full_mode_writes_under_the_repository(monkeypatch):
    monkeypatch.delenv("DLCV_SMOKE", raising=False)
    assert config.output_root() == config.REPO_ROOT


def test_each_figure_helper_writes_its_png(out):
    rng = np.random.default_rng(0)
    classes = ["a", "b", "c"]
    history = {"samples": [10, 20], "epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
               "train_acc": [0.5, 0.8], "val_acc": [0.4, 0.7]}
    y = np.array([0, 1, 2, 0, 1, 2])
    calls = [
        plots.show_images(rng.random((3, 8, 8)), classes, "part", "images", ncols=2),
        plots.plot_curves(history, "part", "curves"),
        plots.plot_curves(history, "part", "loss", x="epoch", metrics=("loss",)),
        plots.plot_per_class({"val": [0.1, 0.5, 0.9], "test": [0.2, 0.4, 0.8]}, classes, "part", "bars"),
        plots.plot_confusion({"m1": np.eye(3), "m2": np.ones((3, 3))}, classes, "part", "confusion"),
        plots.show_predictions(rng.random((6, 8, 8)), y, np.array([0, 2, 2, 1, 1, 0]), classes,
                               "part", "predictions"),
        plots.show_filters(torch.randn(32, 1, 3, 3), "part", "filters"),
        plots.show_segmentations({"photo": [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)],
                                  "labels": [rng.integers(0, 5, (8, 8))]},
                                 facades.CLASSES, facades.PALETTE, "part", "segmentations"),
        plots.plot_pr_curves(rng.random((6, 3)), y, classes, "part", "pr"),
    ]
    assert calls == [None] * 9  # a notebook cell ending with a figure shows no stray value
    names = ["images", "curves", "loss", "bars", "confusion", "predictions", "filters", "segmentations", "pr"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.png" for n in names)
    for name in names:
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figures_are_reproducible(out):
    plots.show_filters(torch.ones(4, 1, 3, 3), "part", "f")
    first = (out / "f.png").read_bytes()
    plots.show_filters(torch.ones(4, 1, 3, 3), "part", "f")
    assert (out / "f.png").read_bytes() == first


def _captured(monkeypatch):
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, part, name: figures.append(fig))
    return figures


def test_bar_legend_covers_no_bar_and_titles_are_drawn(monkeypatch):
    figures = _captured(monkeypatch)
    classes = ["a", "b", "c", "d"]
    # low bars at both ends, where a legend inside the axes would sit on them
    plots.plot_per_class({"one": [0.02, 0.9, 0.9, 0.03], "two": [0.05, 1.0, 0.95, 0.01]}, classes, "p", "bars",
                         title="bars")
    fig = figures[-1]
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert not any(legend.overlaps(bar.get_window_extent(renderer)) for bar in ax.patches)
    assert not legend.overlaps(ax.title.get_window_extent(renderer))
    plots.plot_pr_curves(np.eye(3)[[0, 1, 2, 0]], np.array([0, 1, 2, 0]), ["a", "b", "c"], "p", "pr", title="PR")
    assert figures[-1].axes[0].get_title() == "PR"
    plots.show_images(np.zeros((2, 4, 4)), ["x", "y"], "p", "grid", suptitle="Two images")
    assert figures[-1].get_suptitle() == "Two images"
    plots.show_predictions(np.zeros((4, 4, 4)), np.array([0, 1, 0, 1]), np.array([0, 1, 1, 1]), ["a", "b"],
                           "p", "preds", title="Report CNN")
    assert figures[-1].get_suptitle() == "Report CNN"
    plots.show_segmentations({"photo": [np.zeros((4, 4, 3), dtype=np.uint8)], "labels": [np.zeros((4, 4), int)]},
                             facades.CLASSES, facades.PALETTE, "p", "seg", title="Test photos")
    assert figures[-1].get_suptitle() == "Test photos"


def test_curve_axes_read_as_whole_epochs_and_separated_thousands(monkeypatch):
    figures = _captured(monkeypatch)
    history = {"samples": [150_000, 300_000, 450_000], "epoch": [1, 2, 3], "train_loss": [1.0, 0.6, 0.5],
               "val_loss": [1.1, 0.7, 0.6], "train_acc": [0.5, 0.8, 0.9], "val_acc": [0.4, 0.7, 0.8]}
    plots.plot_curves(history, "p", "epochs", x="epoch", metrics=("loss",))
    fig = figures[-1]
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticks()
    shown = [t for t in ticks if 1 <= t <= 3]
    assert shown and all(float(t).is_integer() for t in shown)  # 1, 2, 3: never 1.5
    plots.plot_curves(history, "p", "samples", x="samples")
    fig = figures[-1]
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert "300,000" in labels and not any("e" in t for t in labels)
    # a final fit's history has no validation points: one curve per panel, one legend entry
    final_fit = {k: v for k, v in history.items() if not k.startswith("val_")}
    plots.plot_curves(final_fit, "p", "final_fit")
    for ax in figures[-1].axes:
        assert len(ax.get_lines()) == 1
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training batches (mean since last point)"]


def test_figure_titles_clear_the_panels_below_them(monkeypatch):
    """A suptitle never sits on the first row's titles (tight_layout leaves it no room by itself)."""
    figures = _captured(monkeypatch)
    classes = ["T-shirt/top", "Trouser", "Pullover"]
    y = np.array([0, 1, 2, 0, 1, 2])
    plots.show_predictions(np.zeros((6, 8, 8)), y, np.array([0, 1, 2, 1, 2, 0]), classes, "p", "preds",
                           title="Report CNN on the test set: first right (green) and wrong (red) per class")
    plots.show_segmentations({"photo": [np.zeros((8, 8, 3), dtype=np.uint8)] * 2,
                              "ground truth": [np.zeros((8, 8), int)] * 2}, facades.CLASSES, facades.PALETTE,
                             "p", "seg", title="Two photos")
    for fig in figures:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        top = fig._suptitle.get_window_extent(renderer)
        panel_titles = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
        assert panel_titles and not any(top.overlaps(t) for t in panel_titles)


def test_bar_labels_take_the_asked_decimals(monkeypatch):
    figures = _captured(monkeypatch)
    plots.plot_per_class({"a": [0.1749, 0.5]}, ["x", "y"], "p", "bars", decimals=3)
    texts = [t.get_text() for t in figures[-1].axes[0].texts]
    assert texts == ["0.175", "0.500"]
