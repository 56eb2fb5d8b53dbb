"""Paths, the smoke flag, seeding, and the choice of device and precision.

Environment variables (each read here and nowhere else):

- ``DLCV_SMOKE=1``      shrink data and epochs (CI); figures, metrics and checkpoints
                         go to a temporary folder so committed files never change.
- ``DLCV_PRECISION``    ``auto`` (default), ``fp32`` or ``bf16``.
- ``DLCV_REUSE_CHECKPOINTS=1``  load a matching checkpoint instead of training.
- ``DLCV_OUTPUT_DIR``   where smoke runs write (default: a fresh temporary folder).
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"

_TRUE = {"1", "true", "yes", "on"}
_smoke_output_dir: Path | None = None


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def is_smoke() -> bool:
    """True when ``DLCV_SMOKE`` asks for the tiny CI configuration."""
    return _flag("DLCV_SMOKE")


def reuse_checkpoints() -> bool:
    """True when ``DLCV_REUSE_CHECKPOINTS`` opts in to loading saved models."""
    return _flag("DLCV_REUSE_CHECKPOINTS")


def output_root() -> Path:
    """Folder that receives ``figures/`` and ``checkpoints/``.

    The repository root in a full run; a temporary folder in smoke mode, so that
    running the tests never touches the committed figures.
    """
    global _smoke_output_dir
    if not is_smoke():
        return REPO_ROOT
    if os.environ.get("DLCV_OUTPUT_DIR"):
        return Path(os.environ["DLCV_OUTPUT_DIR"])
    if _smoke_output_dir is None:
        _smoke_output_dir = Path(tempfile.mkdtemp(prefix="dlcv-smoke-"))
    return _smoke_output_dir


def figure_dir(part: str) -> Path:
    """``figures/<part>/`` under :func:`output_root`, created on demand."""
    path = output_root() / "figures" / part
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkpoint_dir() -> Path:
    path = output_root() / "checkpoints"
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU generator seeded the same way.

    Pass the returned generator to anything random (splits, shuffling) so that the
    same seed on the same machine gives the same numbers.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def try_device() -> torch.device:
    """The best device available: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_bf16() -> bool:
    """True when this CPU has native bf16 arithmetic (AVX512-BF16 or AMX)."""
    # oneDNN's own check: true on CPUs with AVX512-BF16 or AMX-BF16 instructions
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def pick_precision(device: torch.device, requested: str | None = None) -> str:
    """Resolve the compute precision, ``"fp32"`` or ``"bf16"``.

    ``requested`` (or ``DLCV_PRECISION`` when it is None) may be ``auto``, ``fp32``
    or ``bf16``. ``auto`` picks bf16 autocast where the hardware has units for it
    (CUDA with bf16 support, a CPU with AVX512-BF16/AMX) and fp32 elsewhere (MPS,
    older CPUs). Forcing ``bf16`` where it is not supported falls back to fp32.
    """
    if requested is None:
        requested = os.environ.get("DLCV_PRECISION", "auto").strip().lower() or "auto"
    if requested not in PRECISIONS:
        raise ValueError(
            f"precision={requested!r} is not one of {PRECISIONS}; "
            "set DLCV_PRECISION=fp32 to force full precision"
        )
    if requested == "fp32":
        return "fp32"
    device = torch.device(device)
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    elif device.type == "cpu":
        supported = cpu_has_bf16()
    else:
        supported = False
    return "bf16" if supported else "fp32"
