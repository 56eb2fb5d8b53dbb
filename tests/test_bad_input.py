"""Bad input, bad settings and interrupted writes: each gets a clear error (naming the
file or variable and what to do) or leaves the previous file intact."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers import config, facades, metrics, plots, results
from helpers.checkpoints import CheckpointError, load_checkpoint
from helpers.data import DataError, load_fashion_mnist
from helpers.models import ReportCNN, ReportSegNet, UNet
from tools import notebook_outputs

from tiny_data import write_facade, write_idx

REPO = config.REPO_ROOT


# --- settings -------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["maybe", "2", "y", "enabled"])
@pytest.mark.parametrize("name, read", [("DLCV_SMOKE", config.is_smoke),
                                        ("DLCV_REUSE_CHECKPOINTS", config.reuse_checkpoints)])
def test_a_switch_rejects_values_that_are_not_on_or_off(monkeypatch, name, read, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.SettingError) as err:
        read()
    message = str(err.value)
    assert f"{name}={value!r}" in message and "1/true/yes/on" in message and "0/false/no/off" in message


@pytest.mark.parametrize("value, on", [("1", True), ("TRUE", True), (" yes ", True), ("On", True),
                                       ("0", False), ("false", False), ("No", False), ("OFF", False), ("", False)])
def test_a_switch_accepts_on_and_off_in_any_case(monkeypatch, value, on):
    monkeypatch.setenv("DLCV_SMOKE", value)
    assert config.is_smoke() is on


# --- facades ----------------------------------------------------------------------------

@pytest.mark.parametrize("wrong", ["missing", "empty-folder"])
def test_a_wrong_facades_dir_never_falls_back_to_the_default(tiny_facades, monkeypatch, tmp_path, wrong):
    monkeypatch.setattr(facades, "DEFAULT_DIR", tiny_facades)  # a good default folder exists
    (tmp_path / "empty-folder").mkdir()
    monkeypatch.setenv("FACADES_DIR", str(tmp_path / wrong))
    with pytest.raises(DataError) as err:
        facades.load_facades()
    message = str(err.value)
    assert f"looked for train/ and test_dev/ in {tmp_path / wrong} (FACADES_DIR)" in message
    assert str(tiny_facades) not in message


def test_an_empty_facades_dir_is_an_error(tiny_facades, monkeypatch):
    monkeypatch.setattr(facades, "DEFAULT_DIR", tiny_facades)
    monkeypatch.setenv("FACADES_DIR", "  ")
    with pytest.raises(DataError, match="FACADES_DIR is set but empty: set it to the folder .* or unset it"):
        facades.find_facades_dir()


def test_a_label_map_without_its_photo_is_named(tmp_path):
    write_facade(tmp_path / "s", "a")
    write_facade(tmp_path / "s", "b")
    (tmp_path / "s" / "b.jpg").unlink()
    with pytest.warns(UserWarning, match=r"skipped 1 label map\(s\) with no photo beside them: b\.png"):
        X, _ = facades.read_folder(tmp_path / "s")
    assert len(X) == 1


def test_jpeg_and_upper_case_photos_are_loaded(tmp_path):
    for name in ("a", "b", "c"):
        write_facade(tmp_path / "s", name, seed=ord(name))
    (tmp_path / "s" / "b.jpg").rename(tmp_path / "s" / "b.JPG")
    (tmp_path / "s" / "c.jpg").rename(tmp_path / "s" / "c.jpeg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped, nothing to warn about
        X, y = facades.read_folder(tmp_path / "s")
    assert len(X) == len(y) == 3


@pytest.mark.parametrize("model, size, multiple", [(ReportSegNet(), 30, 4), (UNet(), 36, 8)])
def test_a_photo_size_the_model_cannot_take_is_named(model, size, multiple):
    with pytest.raises(ValueError, match=rf"{type(model).__name__} needs an image height and width divisible "
                                         rf"by {multiple}; got {size}x{size}"):
        model(torch.zeros(1, 3, size, size))


def test_the_report_cnn_names_the_image_size_it_takes():
    with pytest.raises(ValueError, match=r"ReportCNN takes grey 28x28 images.*got \(2, 1, 32, 32\)"):
        ReportCNN()(torch.zeros(2, 1, 32, 32))


# --- Fashion-MNIST files ----------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["train", "t10k"])
def test_fewer_labels_than_images_is_named(tmp_path, debian_fashion, prefix):
    n = 30 if prefix == "train" else 12
    write_idx(debian_fashion / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n - 1) % 10, compress=True)
    with pytest.raises(DataError) as err:
        load_fashion_mnist(val_size=5, root=tmp_path / "r", debian_dir=debian_fashion, download=False)
    message = str(err.value)
    assert f"{prefix}-labels-idx1-ubyte holds {n - 1} labels but {prefix}-images-idx3-ubyte holds {n} images" in message
    assert "apt-get install --reinstall dataset-fashion-mnist" in message


def test_a_label_outside_0_to_9_is_named(tmp_path, debian_fashion):
    labels = np.arange(30) % 10
    labels[17] = 10
    write_idx(debian_fashion / "train-labels-idx1-ubyte.gz", labels, compress=True)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte holds label value 10 \(item 17\); "
                                        r"Fashion-MNIST labels are 0\.\.9"):
        load_fashion_mnist(val_size=5, root=tmp_path / "r", debian_dir=debian_fashion, download=False)


def test_a_corrupt_cached_copy_says_what_to_do_and_is_not_kept(tmp_path, debian_fashion):
    root = tmp_path / "r"
    load_fashion_mnist(val_size=5, root=root, debian_dir=debian_fashion, download=False)
    cached = root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    cached.write_bytes(b"\x00\x00\x08\x07" + cached.read_bytes()[4:])  # wrong magic number
    with pytest.raises(DataError) as err:
        load_fashion_mnist(val_size=5, root=root, debian_dir=debian_fashion, download=False)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte is not an IDX file of 3 dimension(s) (magic number 0x807" in message
    assert "were deleted: load again" in message and "apt-get install --reinstall" in message
    assert not cached.exists()
    # the next load decompresses a good copy from the Debian folder again
    assert len(load_fashion_mnist(val_size=5, root=root, debian_dir=debian_fashion, download=False).X_test) == 12


# --- metrics ------------------------------------------------------------------------------

def test_ap_rejects_labels_outside_the_classes_and_float_labels():
    probs = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"labels holds class 3; with 3 classes they must be 0\.\.2"):
        metrics.average_precision_per_class(probs, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"labels holds class -1"):
        metrics.average_precision_per_class(probs, np.array([0, 1, 2, -1]))
    with pytest.raises(ValueError, match=r"labels must hold integer class indices, got dtype float"):
        metrics.average_precision_per_class(probs, np.array([0.0, 1.0, 2.0, 1.0]))


def test_iou_and_accuracy_reject_labels_outside_the_classes():
    with pytest.raises(ValueError, match=r"y_pred holds class 5; with 5 classes"):
        metrics.confusion_matrix([0, 1], [0, 5], num_classes=5)
    with pytest.raises(ValueError, match=r"y_true must hold integer class indices"):
        metrics.per_class_accuracy(np.array([0.5, 1.0]), np.array([0, 1]), num_classes=2)


# --- checkpoints ------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, said", [
    ("state_dict", [1, 2, 3], "state_dict is a list, not a dict"),
    ("config", "lr=0.001", "config is a str, not a dict"),
    ("state_dict", {"features.0.weight": [0.1, 0.2]}, "state_dict['features.0.weight'] is a list, not a tensor"),
])
def test_a_checkpoint_with_wrong_types_is_a_checkpoint_error(tmp_path, field, value, said):
    path = tmp_path / "m.pt"
    payload = {"arch": "ReportCNN", "config": {}, "state_dict": ReportCNN().state_dict(), "history": {},
               "metrics": {}, field: value}
    torch.save(payload, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, ReportCNN(), {})
    assert said in str(err.value) and "m.pt is not a checkpoint written by save_checkpoint" in str(err.value)


# --- interrupted writes -----------------------------------------------------------------

def _interrupt_after_writing(monkeypatch, cls, method):
    """Make ``cls.method`` write half a file, then be interrupted: ``fig.savefig(path)``
    or ``path.write_text(text)``."""
    def half_then_interrupt(self, *args, **kwargs):
        target = self if isinstance(self, Path) else Path(args[0])
        with open(target, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt
    monkeypatch.setattr(cls, method, half_then_interrupt)


def test_an_interrupted_figure_save_keeps_the_old_png(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCV_SMOKE", "1")
    monkeypatch.setenv("DLCV_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setattr(matplotlib, "get_backend", lambda: "agg")
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = plots.save_figure(fig, "part", "curve")
    good = path.read_bytes()
    _interrupt_after_writing(monkeypatch, matplotlib.figure.Figure, "savefig")
    fig, ax = plt.subplots()
    with pytest.raises(KeyboardInterrupt):
        plots.save_figure(fig, "part", "curve")
    plt.close("all")
    assert path.read_bytes() == good and good.startswith(b"\x89PNG")
    assert sorted(p.name for p in path.parent.iterdir()) == ["curve.png"]  # no temporary file left


def test_an_interrupted_readme_update_keeps_the_old_readme(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.START}\nold\n{results.END}\n")
    before = readme.read_text()
    _interrupt_after_writing(monkeypatch, Path, "write_text")
    with pytest.raises(KeyboardInterrupt):
        results.update_readme(readme)
    monkeypatch.undo()
    assert readme.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_an_interrupted_notebook_rewrite_keeps_the_old_notebook(tmp_path, monkeypatch):
    nb = tmp_path / "n.ipynb"
    cell = {"cell_type": "code", "source": [], "metadata": {}, "execution_count": 1,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "a\rb\n"}]}
    nb.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    before = nb.read_text()
    _interrupt_after_writing(monkeypatch, Path, "write_text")
    with pytest.raises(KeyboardInterrupt):
        notebook_outputs.tidy_notebook(nb)
    monkeypatch.undo()
    assert nb.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["n.ipynb"]
    assert notebook_outputs.tidy_notebook(nb) and "a\\rb" not in nb.read_text()


def test_a_smoke_run_removes_its_temporary_folder_when_it_ends(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DLCV_SMOKE": "1", "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "from helpers import config; p = config.figure_dir('x'); "
                          "(p / 'f.png').write_text('x'); print(config.output_root())"],
                         cwd=REPO, env=env, capture_output=True, text=True, check=True)
    made = Path(out.stdout.strip())
    assert made.name.startswith("dlcv-smoke-") and made.parent == tmp_path
    assert not made.exists() and list(tmp_path.iterdir()) == []


# --- the shared facade set-up step (make run and make test) -------------------------------

def test_make_run_and_make_test_share_one_facade_step():
    for target in ("run", "test"):
        plan = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=True).stdout
        assert plan.count("-m helpers.facades --ensure") == 1, target
    plan = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert plan.index("helpers.facades --ensure") < plan.index("pytest")  # before any test runs


def test_no_facades_anywhere_gives_one_message_and_a_nonzero_exit(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FACADES_DIR", raising=False)
    monkeypatch.setattr(facades, "DEFAULT_DIR", tmp_path / "data" / "facades")
    monkeypatch.setattr(facades, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(facades, "CMP_URLS", {"base": "http://127.0.0.1:9/CMP_facade_DB_base.zip"})  # refused
    assert facades.main(["--ensure"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: facade data not found: FACADES_DIR is not set")
    assert "set FACADES_DIR to a folder holding the course's set" in err and "--from-zips DIR" in err
    assert not (tmp_path / "data" / "facades").exists()
    assert list((tmp_path / "data" / "cmp_zips").iterdir()) == []  # no half-downloaded zip
