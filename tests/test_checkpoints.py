import pytest
import torch

from helpers.checkpoints import CheckpointError, load_checkpoint, save_checkpoint, train_or_load
from helpers.models import ReportCNN, ReportSegNet

CONFIG = {"model": "ReportCNN", "epochs": 2, "lr": 1e-3}


def test_save_and_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = ReportCNN()
    path = save_checkpoint(tmp_path / "m.pt", model, CONFIG, {"seconds": 1.5}, {"acc": 0.9})
    assert not list(tmp_path.glob("*.part"))
    other = ReportCNN()
    payload = load_checkpoint(path, other, CONFIG)
    assert payload["history"] == {"seconds": 1.5} and payload["metrics"] == {"acc": 0.9}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)


def test_other_architecture_is_named(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", ReportCNN(), CONFIG)
    with pytest.raises(CheckpointError, match=r"m\.pt holds a ReportCNN, not a ReportSegNet"):
        load_checkpoint(path, ReportSegNet(), CONFIG)


def test_other_configuration_is_named(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", ReportCNN(), CONFIG)
    with pytest.raises(CheckpointError, match=r"m\.pt was trained with another configuration \(epochs: saved 2 vs now 10\)"):
        load_checkpoint(path, ReportCNN(), dict(CONFIG, epochs=10))


def test_truncated_file_is_named(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", ReportCNN(), CONFIG)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"m\.pt is truncated or not a checkpoint"):
        load_checkpoint(path, ReportCNN(), CONFIG)


def test_train_or_load_reuses_only_a_matching_checkpoint(tmp_path, capsys):
    calls = []

    def train_fn():
        calls.append(1)
        return {"seconds": 3.0}

    model = ReportCNN()
    history, loaded = train_or_load("m", model, CONFIG, train_fn, reuse=True, directory=tmp_path)
    assert (history, loaded, len(calls)) == ({"seconds": 3.0}, False, 1)  # nothing to reuse yet
    history, loaded = train_or_load("m", ReportCNN(), CONFIG, train_fn, reuse=True, directory=tmp_path)
    assert (history, loaded, len(calls)) == ({"seconds": 3.0}, True, 1)
    assert "Loaded checkpoint" in capsys.readouterr().out
    # off by default: trains again
    train_or_load("m", ReportCNN(), CONFIG, train_fn, reuse=False, directory=tmp_path)
    assert len(calls) == 2
    # a changed configuration is reported and trained again
    train_or_load("m", ReportCNN(), dict(CONFIG, lr=0.1), train_fn, reuse=True, directory=tmp_path)
    assert len(calls) == 3 and "another configuration" in capsys.readouterr().out
