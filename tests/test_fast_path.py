"""The fast-path decision for every device a student may get, simulated on this CPU,
and the fp16 + GradScaler training path run for real on the CPU."""
import dataclasses
import math

import pytest
import torch
from torch import nn

from helpers import config, training
from helpers.data import TensorBatches
from helpers.models import ReportCNN


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend a CUDA GPU is present: ``fake_cuda("Tesla T4", (7, 5))``."""
    monkeypatch.delenv("DLCV_PRECISION", raising=False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)  # restored after the test

    def install(name, capability):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        # is_bf16_supported() answers True on a T4 (it counts emulation): the choice must not ask it
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
        monkeypatch.setattr(config, "fused_optimizer_available", lambda device: True)
    return install


@pytest.mark.parametrize("name, capability, precision", [
    ("Tesla T4", (7, 5), "fp16"),          # Colab's free GPU
    ("Tesla V100-SXM2-16GB", (7, 0), "fp16"),
    ("Tesla P100-PCIE-16GB", (6, 0), "fp16"),
    ("NVIDIA A100-SXM4-40GB", (8, 0), "bf16"),
    ("NVIDIA L4", (8, 9), "bf16"),
    ("NVIDIA H100 80GB HBM3", (9, 0), "bf16"),
])
def test_cuda_precision_by_capability(fake_cuda, name, capability, precision):
    fake_cuda(name, capability)
    fast = config.pick_fast_path()
    assert fast.device.type == "cuda" and fast.precision == precision
    assert fast.grad_scaling == (precision == "fp16")
    assert fast.channels_last and fast.fused_optimizer
    assert fast.device_name == name and fast.capability == capability
    assert torch.backends.cudnn.benchmark  # fixed shapes: let cuDNN pick its fastest algorithms
    line = fast.describe()
    assert f"{name}, capability {capability[0]}.{capability[1]}" in line
    assert ("fp16 autocast + GradScaler" if precision == "fp16" else "bf16 autocast") in line
    assert fast.record()["device_name"] == name and fast.record()["capability"] == "%d.%d" % capability
    assert fast.record()["fused_optimizer"] and not fast.record(fused=False)["fused_optimizer"]
    assert "fused Adam" in line and "fused Adam" not in fast.describe(fused=False)


def test_t4_describes_its_choice(fake_cuda):
    fake_cuda("Tesla T4", (7, 5))
    assert config.pick_fast_path().describe().startswith(
        "device: cuda, Tesla T4, capability 7.5: fp16 autocast + GradScaler (no bf16 units below capability 8.0)")


def test_forcing_bf16_on_a_t4_is_a_clear_error(fake_cuda, monkeypatch):
    fake_cuda("Tesla T4", (7, 5))
    monkeypatch.setenv("DLCV_PRECISION", "bf16")
    with pytest.raises(config.PrecisionError, match=r"DLCV_PRECISION=bf16: Tesla T4, capability 7\.5 has no bf16 "
                                                    r"units.*use fp16"):
        config.pick_fast_path()
    monkeypatch.setenv("DLCV_PRECISION", "fp16")
    assert config.pick_fast_path().precision == "fp16"
    monkeypatch.setenv("DLCV_PRECISION", "FP32")  # any case
    assert config.pick_fast_path().precision == "fp32"


def test_mps_runs_fp32_unless_told(monkeypatch):
    monkeypatch.delenv("DLCV_PRECISION", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(config, "fused_optimizer_available", lambda device: False)
    fast = config.pick_fast_path()
    assert fast.device.type == "mps" and fast.precision == "fp32" and not fast.channels_last
    assert fast.device_name.startswith("Apple MPS")
    assert config.pick_fast_path(precision="fp16").precision == "fp16"
    with pytest.raises(config.PrecisionError, match="precision argument=bf16 is not supported on Apple MPS"):
        config.pick_fast_path(precision="bf16")


@pytest.mark.parametrize("has_bf16, precision", [(True, "bf16"), (False, "fp32")])
def test_cpu_precision_follows_its_bf16_units(monkeypatch, has_bf16, precision):
    monkeypatch.delenv("DLCV_PRECISION", raising=False)
    monkeypatch.setattr(config, "cpu_has_bf16", lambda: has_bf16)
    fast = config.pick_fast_path("cpu")
    assert fast.precision == precision and fast.channels_last and fast.capability is None
    assert fast.device_name == config.cpu_name() and fast.device_name
    assert config.pick_fast_path("cpu", "fp32").precision == "fp32"
    assert config.pick_fast_path("cpu", "fp16").grad_scaling  # allowed (for tests; slow on most CPUs)


def test_forcing_bf16_on_a_cpu_without_units_falls_back_with_a_warning(monkeypatch):
    monkeypatch.setattr(config, "cpu_has_bf16", lambda: False)
    monkeypatch.setenv("DLCV_PRECISION", "bf16")
    with pytest.warns(UserWarning, match="DLCV_PRECISION=bf16: this CPU .* has no bf16 units; falling back"):
        fast = config.pick_fast_path("cpu")
    assert fast.precision == "fp32" and "fell back" in fast.reason


def test_unknown_precision_names_the_variable(monkeypatch):
    monkeypatch.setenv("DLCV_PRECISION", "fp8")
    with pytest.raises(config.PrecisionError, match=r"DLCV_PRECISION='fp8' is not one of auto, fp32, bf16, fp16"):
        config.pick_fast_path("cpu")


def test_fp16_training_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    fast = dataclasses.replace(config.plain_path("cpu"), precision="fp16")
    model = ReportCNN()
    X, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = training.make_scaler(fast)
    assert scaler.is_enabled()
    steps = [training.train_step(model, X, y, nn.functional.cross_entropy, optimizer, fast, scaler)
             for _ in range(30)]
    assert steps[0].scores.dtype == torch.float16  # the forward pass really ran in fp16
    losses = [s.loss.item() for s in steps]
    assert losses[-1] < 0.5 * losses[0]
    assert sum(s.skipped for s in steps) <= 2


def test_fp16_step_with_an_inf_gradient_is_skipped_and_training_goes_on():
    torch.manual_seed(0)
    fast = dataclasses.replace(config.plain_path("cpu"), precision="fp16")
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    X, y = torch.rand(8, 1, 2, 2), torch.arange(8) % 3
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = training.make_scaler(fast)
    before = [p.detach().clone() for p in model.parameters()]
    scale = scaler.get_scale()
    hook = model[1].weight.register_hook(lambda grad: torch.full_like(grad, math.inf))  # an overflow
    step = training.train_step(model, X, y, nn.functional.cross_entropy, optimizer, fast, scaler)
    hook.remove()
    assert step.skipped
    assert scaler.get_scale() == scale / 2  # the scale shrinks
    for p, old in zip(model.parameters(), before):
        assert torch.equal(p, old) and torch.isfinite(p).all()  # no weight touched, none corrupted
    step = training.train_step(model, X, y, nn.functional.cross_entropy, optimizer, fast, scaler)
    assert not step.skipped and math.isfinite(step.loss.item())
    assert not torch.equal(model[1].weight, before[0])  # the next step updates the weights


def test_train_counts_skipped_steps_and_carries_on():
    torch.manual_seed(0)
    fast = dataclasses.replace(config.plain_path("cpu"), precision="fp16")
    X, y = torch.rand(32, 1, 28, 28), torch.arange(32) % 10
    model = ReportCNN()
    calls = []

    def loss_fn(scores, target):  # the first training batch overflows
        calls.append(1)
        loss = nn.functional.cross_entropy(scores, target)
        return loss * math.inf if len(calls) == 1 else loss

    history = training.train(model, TensorBatches(X, y, 8, shuffle=True), TensorBatches(X, y, 16), loss_fn,
                             torch.optim.Adam(model.parameters()), epochs=2, fast=fast, progress=False)
    assert history["skipped_steps"] >= 1
    assert all(math.isfinite(v) for v in history["val_loss"])
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_cpu_keeps_freed_memory_on_linux_glibc_and_says_so(monkeypatch):
    """On the CPU the fast path asks glibc to keep freed memory (fewer page faults per
    step); the set-up line and the record say so; a GPU's fast path does not ask."""
    import platform
    monkeypatch.delenv("DLCV_KEEP_MEMORY", raising=False)
    monkeypatch.setattr(config, "_kept_memory", False)
    fast = config.pick_fast_path("cpu")
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert fast.keep_memory == on_glibc and fast.record()["keep_memory"] == on_glibc
    assert ("freed memory kept" in fast.describe()) == on_glibc
    # the baseline does not ask for it, but the setting is process-wide, and its record says so
    assert config.plain_path("cpu").keep_memory == on_glibc
    monkeypatch.setattr(config, "_kept_memory", False)
    assert not config.plain_path("cpu").keep_memory


def test_keep_freed_memory_switch_and_other_platforms(monkeypatch):
    """``DLCV_KEEP_MEMORY=0`` turns it off, a value that is not on/off is refused by name
    (no silent default), and macOS or Windows get False without calling into a C library."""
    monkeypatch.setattr(config, "_kept_memory", False)
    monkeypatch.setenv("DLCV_KEEP_MEMORY", "0")
    assert config.keep_freed_memory() is False
    assert not config.pick_fast_path("cpu").keep_memory
    monkeypatch.setenv("DLCV_KEEP_MEMORY", "maybe")
    with pytest.raises(config.SettingError, match=r"DLCV_KEEP_MEMORY='maybe'.*unset or empty \(on\).*0/false/no/off \(off\)"):
        config.keep_freed_memory()
    monkeypatch.delenv("DLCV_KEEP_MEMORY")
    for system in ("Darwin", "Windows"):
        monkeypatch.setattr(config.platform, "system", lambda system=system: system)
        monkeypatch.setattr(config.ctypes, "CDLL", lambda *a, **k: pytest.fail("no C library call off Linux"))
        assert config.keep_freed_memory() is False
