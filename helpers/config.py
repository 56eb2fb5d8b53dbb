"""Paths, the smoke flag, seeding, and the fast-path decision (device and precision).

The project's own environment variables are read in this module, except ``FACADES_DIR``,
which ``helpers.facades`` reads where it looks for the data:

- ``DLCV_SMOKE=1``      shrink data and epochs (CI); figures, metrics and checkpoints
                         go to a temporary folder so committed files never change.
- ``DLCV_PRECISION``    ``auto`` (default), ``fp32``, ``bf16`` or ``fp16``.
- ``DLCV_REUSE_CHECKPOINTS=1``  load a matching checkpoint instead of training.
- ``DLCV_OUTPUT_DIR``   where smoke runs write (default: a temporary folder).
- ``DLCV_KEEP_MEMORY``  on CPU, keep freed memory for reuse (default on, and empty means on
                         here, unlike the other switches; 0 turns it off):
                         :func:`keep_freed_memory`.

On/off switches accept 1/true/yes/on and 0/false/no/off or empty, nothing else.
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import platform
import random
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_smoke_output_dir: Path | None = None


class SettingError(ValueError):
    """An environment variable with a value this project does not accept."""


def env_flag(name: str, default: bool = False) -> bool:
    """Read the on/off switch ``name`` from the environment.

    Accepts exactly 1/true/yes/on and 0/false/no/off (any case); unset or empty gives
    ``default`` (off for every switch but ``DLCV_KEEP_MEMORY``). Anything else (``maybe``,
    ``2``, ``y``) is a :class:`SettingError` naming the variable, so that a mistyped
    ``DLCV_SMOKE`` never turns a test into a full run.
    """
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    on, off = "/".join(_TRUE), "/".join(_FALSE[:-1])
    if default:
        raise SettingError(f"{name}={raw!r} is not an on/off value: leave it unset or empty (on), "
                           f"use one of {on} (on) or {off} (off)")
    raise SettingError(f"{name}={raw!r} is not an on/off value: use one of {on} to turn it on, "
                       f"{off} or leave it empty to turn it off")


def is_smoke() -> bool:
    """True when ``DLCV_SMOKE`` asks for the tiny CI configuration."""
    return env_flag("DLCV_SMOKE")


def reuse_checkpoints() -> bool:
    """True when ``DLCV_REUSE_CHECKPOINTS`` opts in to loading saved models."""
    return env_flag("DLCV_REUSE_CHECKPOINTS")


def output_root() -> Path:
    """Folder that receives ``figures/`` and ``checkpoints/``.

    The repository root in a full run; in smoke mode ``DLCV_OUTPUT_DIR`` if set, else a
    temporary folder that is removed when the process exits, so that running the tests
    never touches the committed figures and leaves nothing behind.
    """
    global _smoke_output_dir
    if not is_smoke():
        return REPO_ROOT
    if os.environ.get("DLCV_OUTPUT_DIR"):
        return Path(os.environ["DLCV_OUTPUT_DIR"])
    if _smoke_output_dir is None:
        _smoke_output_dir = Path(tempfile.mkdtemp(prefix="dlcv-smoke-"))
        # smoke outputs are throw-away: remove them when this process (or kernel) exits
        atexit.register(shutil.rmtree, _smoke_output_dir, ignore_errors=True)
    return _smoke_output_dir


def figure_dir(part: str) -> Path:
    """``figures/<part>/`` under :func:`output_root`, created on demand."""
    path = output_root() / "figures" / part
    path.mkdir(parents=True, exist_ok=True)
    return path


def display_path(path: Path | str) -> str:
    """``path`` as a notebook should print it: relative to the output root (the
    repository in a full run), never showing the folders of the machine that ran it."""
    path = Path(path)
    for root in (output_root(), REPO_ROOT):
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name


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


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


class PrecisionError(ValueError):
    """A precision this device cannot run, or an unknown one; the message says what to set."""


def cpu_has_bf16() -> bool:
    """True when this CPU has native bf16 arithmetic (AVX512-BF16 or AMX)."""
    # oneDNN's own check: true on CPUs with AVX512-BF16 or AMX-BF16 instructions
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: torch.device | str) -> str:
    """What the device is, by name: the GPU's model, the CPU's model, or Apple's MPS."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return cpu_name()


def fused_optimizer_available(device: torch.device | str) -> bool:
    """Whether ``torch.optim.Adam(..., fused=True)`` (and AdamW) runs on ``device``.

    A fused step updates every parameter in one kernel instead of a dozen small
    operations per tensor; it is the same Adam update. Support depends on the torch
    version and device type, so this tries it on a one-element parameter.
    """
    try:
        probe = torch.zeros(1, device=device, requires_grad=True)
        optimizer = torch.optim.Adam([probe], fused=True)
        probe.grad = torch.ones_like(probe)
        optimizer.step()
    except (RuntimeError, TypeError, ValueError, AssertionError):
        return False
    return True


def _requested_precision(requested: str | None) -> tuple[str, str]:
    """``(precision, where it came from)``; an unknown value is a :class:`PrecisionError`."""
    source = "precision argument"
    if requested is None:
        requested, source = os.environ.get("DLCV_PRECISION", "auto"), "DLCV_PRECISION"
    value = requested.strip().lower() or "auto"
    if value not in PRECISIONS:
        raise PrecisionError(f"{source}={requested!r} is not one of {', '.join(PRECISIONS)}; "
                             "leave it unset (auto) or set DLCV_PRECISION=fp32 to force full precision")
    return value, source


def _choose(device: torch.device, name: str, capability, requested: str, source: str) -> tuple[str, str]:
    """``(precision, reason)`` for ``device``; see :func:`pick_fast_path`."""
    kind = device.type
    where = f"{name}, capability {capability[0]}.{capability[1]}" if capability else name
    if requested == "auto":
        if kind == "cuda":
            if capability >= (8, 0):
                return "bf16", f"{where}: bf16 autocast (bf16 tensor cores)"
            return "fp16", f"{where}: fp16 autocast + GradScaler (no bf16 units below capability 8.0)"
        if kind == "cpu":
            if cpu_has_bf16():
                return "bf16", f"{where}: bf16 autocast (oneDNN finds AVX512-BF16 or AMX)"
            return "fp32", f"{where}: fp32 (no bf16 units)"
        return "fp32", f"{where}: fp32 (autocast measured no gain here)"
    if requested == "fp32":
        return "fp32", f"{where}: fp32 ({source}=fp32)"
    if requested == "bf16":
        if kind == "cuda" and capability < (8, 0):
            raise PrecisionError(
                f"{source}=bf16: {where} has no bf16 units and cuDNN has no bf16 convolutions "
                "below capability 8.0; use fp16 (autocast + GradScaler) or leave it unset (auto)")
        if kind == "mps":
            raise PrecisionError(f"{source}=bf16 is not supported on {where}; use fp32 or fp16")
        if kind == "cpu" and not cpu_has_bf16():
            warnings.warn(f"{source}=bf16: this CPU ({name}) has no bf16 units; falling back to fp32",
                          stacklevel=3)
            return "fp32", f"{where}: fp32 ({source}=bf16, but no bf16 units: fell back)"
        return "bf16", f"{where}: bf16 autocast ({source}=bf16)"
    # fp16: CUDA (any capability torch supports), Apple MPS, and the CPU (for tests: slow there)
    return "fp16", f"{where}: fp16 autocast + GradScaler ({source}=fp16)"


# glibc's mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_kept_memory = False


def keep_freed_memory() -> bool:
    """Ask the C allocator to keep the memory that tensors free, for the next step to reuse.

    Every training step frees its activations and gradients and allocates them again in
    the next step. By default glibc's ``malloc`` hands freed memory at the top of its
    heap back to the kernel ("trimming"), so the next step's tensors land on fresh pages,
    and the first write to each 4 KiB page is a page fault; on a virtual machine a page
    fault is dear, and a step over 256x256 feature maps touches tens of thousands of
    pages. Here glibc serves every block under 32 MiB (the most a 64-bit glibc allows) from its heap
    rather than from a fresh mapping of its own, stops trimming, and grows the heap 1 GiB of
    address space at a time (pages are backed by memory only once written). The results do not change, only
    where the memory comes from; the process keeps its peak memory until it exits.

    Process-wide and permanent: in a notebook it lasts as long as the kernel. Linux with glibc only: elsewhere (macOS, Windows, a musl
    Linux) it does nothing and returns False; ``DLCV_KEEP_MEMORY=0`` turns it off.
    ``benchmarks/allocator.py`` measures what it is worth.
    """
    global _kept_memory
    if _kept_memory:
        return True
    if not env_flag("DLCV_KEEP_MEMORY", default=True):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _kept_memory = all(libc.mallopt(option, value) == 1 for option, value in (
            (_M_MMAP_THRESHOLD, 2 ** 25), (_M_TRIM_THRESHOLD, 2 ** 40), (_M_TOP_PAD, 2 ** 30)))
    except (OSError, AttributeError):
        return False
    return _kept_memory


@dataclass(frozen=True)
class FastPath:
    """Everything decided once for a device: where to run, in which precision, with
    which memory format and optimizer kernel. Training, evaluation and the benchmarks
    receive one of these instead of deciding again.

    ``grad_scaling``: fp16 autocast needs a ``torch.amp.GradScaler`` (fp16's small
    range would flush small gradients to zero).
    """

    device: torch.device
    precision: str = "fp32"
    channels_last: bool = False
    fused_optimizer: bool = False
    device_name: str = ""
    capability: tuple | None = None
    reason: str = ""
    keep_memory: bool = False  # the C allocator keeps freed memory (keep_freed_memory; CPU, Linux)

    @property
    def grad_scaling(self) -> bool:
        return self.precision == "fp16"

    def describe(self, fused: bool = True) -> str:
        """One line for a notebook's set-up cell. ``fused=False``: the notebook's
        optimizers do not ask for the fused step, so it is not listed."""
        extras = [x for x, on in (("channels_last", self.channels_last),
                                  ("fused Adam", self.fused_optimizer and fused),
                                  ("freed memory kept", self.keep_memory)) if on]
        return (f"device: {self.device.type}, {self.reason}"
                + (f"; {', '.join(extras)}" if extras else ""))

    def record(self, fused: bool = True) -> dict:
        """The decision as plain values, for ``metrics.json`` and benchmark files.
        ``fused=False``: the model's optimizer did not ask for the fused step, so the
        record says it was not used even where the device has one."""
        return {"device": self.device.type, "device_name": self.device_name,
                "capability": ".".join(map(str, self.capability)) if self.capability else None,
                "precision": self.precision, "channels_last": self.channels_last,
                "fused_optimizer": self.fused_optimizer and fused, "keep_memory": self.keep_memory}


def pick_fast_path(device: torch.device | str | None = None, precision: str | None = None) -> FastPath:
    """Decide the fast path for ``device`` (default: :func:`try_device`).

    The precision: ``precision`` (or ``DLCV_PRECISION`` when it is None) is ``auto``,
    ``fp32``, ``bf16`` or ``fp16``. ``auto`` decides by what the device really has:

    - CUDA, compute capability 8.0 or more (A100, L4, H100, RTX 30xx+): bf16 autocast;
    - CUDA below 8.0 (T4, V100, P100, RTX 20xx): fp16 autocast with a GradScaler, since
      these GPUs have no bf16 units (``torch.cuda.is_bf16_supported()`` answers True on
      a T4 all the same, because it counts emulation, so it is not asked);
    - a CPU whose oneDNN finds bf16 units (AVX512-BF16 or AMX): bf16; other CPUs: fp32;
    - Apple MPS: fp32.

    Forcing ``bf16`` where the device cannot run it raises :class:`PrecisionError` (CUDA
    below 8.0, MPS), or warns and falls back to fp32 (a CPU without bf16 units).

    Then ``channels_last`` on CPU and CUDA (oneDNN
    and cuDNN convolutions prefer it; MPS gains nothing); a fused Adam step where the
    device has one. On CUDA it also turns on ``torch.backends.cudnn.benchmark`` (the
    notebooks' shapes are fixed, so each convolution's fastest algorithm is found once);
    on the CPU it asks the C allocator to keep freed memory (:func:`keep_freed_memory`).
    """
    device = torch.device(device) if device is not None else try_device()
    requested, source = _requested_precision(precision)
    name = device_name(device)
    capability = tuple(torch.cuda.get_device_capability(device)) if device.type == "cuda" else None
    chosen, reason = _choose(device, name, capability, requested, source)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return FastPath(device=device, precision=chosen, channels_last=device.type in ("cpu", "cuda"),
                    fused_optimizer=fused_optimizer_available(device), device_name=name,
                    capability=capability, reason=reason, keep_memory=device.type == "cpu" and keep_freed_memory())


def plain_path(device: torch.device | str = "cpu") -> FastPath:
    """fp32, default memory format, unfused optimizer: the baseline the fast path is
    measured against, and what tests use. It does not ask to keep freed memory, but that
    setting is process-wide: once a fast path in this process has kept it, the baseline
    runs with it too, and ``keep_memory`` says so (``benchmarks/allocator.py`` prices it
    in separate processes)."""
    device = torch.device(device)
    return FastPath(device=device, device_name=device_name(device), reason="fp32 baseline",
                    keep_memory=device.type == "cpu" and _kept_memory)
