"""Save trained models with their configuration and metrics; reuse them on request.

Checkpoints live under ``checkpoints/`` (outside git). A re-run loads one only when
``DLCV_REUSE_CHECKPOINTS=1`` and its configuration matches exactly.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from . import config
from .files import atomic_path


class CheckpointError(RuntimeError):
    """A checkpoint that is unreadable or does not match the model/configuration."""


def save_checkpoint(path: Path | str, model: nn.Module, run_config: dict,
                    history: dict | None = None, metrics: dict | None = None) -> Path:
    """Write ``model``'s weights with ``run_config``, ``history`` and ``metrics``.

    Written to a temporary file and renamed, so an interrupted save leaves no
    truncated checkpoint behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "arch": type(model).__name__,
        "config": dict(run_config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history or {},
        "metrics": metrics or {},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: Path | str, model: nn.Module, run_config: dict | None = None) -> dict:
    """Load weights saved by :func:`save_checkpoint` into ``model``.

    Raises :class:`CheckpointError` naming the file when it is missing, truncated or
    not a checkpoint, saved from another architecture, or (when ``run_config`` is
    given) trained with another configuration. Returns the stored payload.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path} is truncated or not a checkpoint ({err}); "
                              "delete it and train again") from err
    if not isinstance(payload, dict) or not {"arch", "config", "state_dict"} <= payload.keys():
        raise CheckpointError(f"{path} is not a checkpoint written by save_checkpoint; delete it and train again")
    kinds = {"arch": str, "config": dict, "state_dict": dict, "history": dict, "metrics": dict}
    wrong = [f"{key} is a {type(payload[key]).__name__}, not a {kind.__name__}" for key, kind in kinds.items()
             if key in payload and not isinstance(payload[key], kind)]
    if isinstance(payload["state_dict"], dict):
        wrong += [f"state_dict[{k!r}] is a {type(v).__name__}, not a tensor"
                  for k, v in payload["state_dict"].items() if not torch.is_tensor(v)][:3]
    if wrong:
        raise CheckpointError(f"{path} is not a checkpoint written by save_checkpoint ({'; '.join(wrong)}); "
                              "delete it and train again")
    arch = type(model).__name__
    if payload["arch"] != arch:
        raise CheckpointError(f"{path} holds a {payload['arch']}, not a {arch}")
    if run_config is not None and payload["config"] != dict(run_config):
        diff = sorted(k for k in set(payload["config"]) | set(run_config)
                      if payload["config"].get(k) != run_config.get(k))
        details = ", ".join(f"{k}: saved {payload['config'].get(k)!r} vs now {run_config.get(k)!r}"
                            for k in diff)
        raise CheckpointError(f"{path} was trained with another configuration ({details})")
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not fit this {arch}: {err}") from err
    return payload


def train_or_load(name: str, model: nn.Module, run_config: dict, train_fn,
                  reuse: bool | None = None, directory: Path | str | None = None) -> tuple[dict, bool]:
    """Train ``model`` with ``train_fn()`` (which returns a history) and save it, or,
    when reuse is on and ``<directory>/<name>.pt`` matches ``run_config``, load it.

    ``reuse`` defaults to ``DLCV_REUSE_CHECKPOINTS``. Returns ``(history, loaded)``;
    a checkpoint that cannot be reused is reported and replaced by a fresh training run.
    """
    reuse = config.reuse_checkpoints() if reuse is None else reuse
    path = Path(directory or config.checkpoint_dir()) / f"{name}.pt"
    if reuse and path.exists():
        try:
            payload = load_checkpoint(path, model, run_config)
            print(f"Loaded checkpoint {path} instead of training "
                  f"(it took {payload['history'].get('seconds', float('nan')):.0f} s to train).")
            return payload["history"], True
        except CheckpointError as err:
            print(f"Not reusing the checkpoint: {err}. Training again.")
    history = train_fn()
    save_checkpoint(path, model, run_config, history)
    return history, False
