"""The training loop, evaluation and prediction, shared by both notebooks.

Speed levers applied here (see the README's profile): bf16 autocast where the
hardware has bf16 units (``config.pick_precision``), ``channels_last`` memory
format for convolutions, a fused optimizer step where the device has one
(``fused_optimizer_available``), and ``torch.inference_mode`` for evaluation.
"""
from __future__ import annotations

import contextlib
import time

import torch
from torch import nn
from tqdm.std import tqdm  # text bars: no ipywidgets needed, readable in saved notebooks


def autocast(device: torch.device, precision: str):
    """Context for the forward pass: bf16 autocast, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise ValueError(f"precision={precision!r} must be 'fp32' or 'bf16'")
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def use_channels_last(device: torch.device) -> bool:
    """channels_last helps the CPU (oneDNN) and CUDA convolutions; MPS gains nothing."""
    return torch.device(device).type in ("cpu", "cuda")


def fused_optimizer_available(device: torch.device) -> bool:
    """Whether ``torch.optim.Adam(..., fused=True)`` (and AdamW) runs on ``device``.

    A fused step updates every parameter in one kernel instead of a dozen small
    operations per tensor; it is the same Adam update. Support depends on the torch
    version and device type, so this tries it on a one-element parameter.
    """
    probe = torch.zeros(1, device=device, requires_grad=True)
    try:
        optimizer = torch.optim.Adam([probe], fused=True)
        probe.grad = torch.ones_like(probe)
        optimizer.step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so that a timer
    read after it measures the work; nothing to wait for on the CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def to_device(X: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    X = X.to(device, non_blocking=True)
    if channels_last and X.dim() == 4:
        X = X.contiguous(memory_format=torch.channels_last)
    return X


def prepare_model(model: nn.Module, device: torch.device, channels_last: bool | None = None) -> nn.Module:
    """Move ``model`` to ``device`` in the memory format training will use."""
    if channels_last is None:
        channels_last = use_channels_last(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return model.to(device, memory_format=fmt)


def _correct(scores: torch.Tensor, y: torch.Tensor) -> int:
    """Correct predictions: per image ``(N, C)`` or per pixel ``(N, C, H, W)``."""
    return int((scores.argmax(dim=1) == y).sum())


def evaluate(model: nn.Module, loader, loss_fn, device: torch.device, precision: str = "fp32",
             channels_last: bool | None = None) -> tuple[float, float]:
    """Mean loss and accuracy (per image, or per pixel for segmentation) over ``loader``."""
    if channels_last is None:
        channels_last = use_channels_last(device)
    model.eval()
    total_loss, correct, count, items = 0.0, 0, 0, 0
    with torch.inference_mode():
        for X, y in loader:
            X, y = to_device(X, device, channels_last), y.to(device, non_blocking=True)
            with autocast(device, precision):
                scores = model(X)
            total_loss += float(loss_fn(scores.float(), y)) * len(X)
            correct += _correct(scores, y)
            count += y.numel()
            items += len(X)
    return total_loss / items, correct / count


def predict(model: nn.Module, loader, device: torch.device, precision: str = "fp32",
            channels_last: bool | None = None, flip_tta: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax class probabilities and true labels for everything in ``loader``.

    Returns ``(probs, y)`` on the CPU: ``(N, C)`` and ``(N,)`` for images, or
    ``(N, C, H, W)`` and ``(N, H, W)`` for pixels; probabilities are float32.
    ``flip_tta`` averages the probabilities of each image and its left-right mirror
    (test-time augmentation, for image classifiers trained with flips).
    """
    if channels_last is None:
        channels_last = use_channels_last(device)
    model.eval()
    all_probs, all_y = [], []
    with torch.inference_mode():
        for X, y in loader:
            X = to_device(X, device, channels_last)
            with autocast(device, precision):
                probs = model(X).float().softmax(dim=1)
                if flip_tta:
                    probs = (probs + model(X.flip(-1)).float().softmax(dim=1)) / 2
            all_probs.append(probs.contiguous().cpu())
            all_y.append(y.cpu())
    return torch.cat(all_probs), torch.cat(all_y)


def train(model: nn.Module, train_loader, val_loader, loss_fn, optimizer, epochs: int,
          device: torch.device, precision: str = "fp32", evals_per_epoch: int = 1,
          scheduler=None, channels_last: bool | None = None, progress: bool = True,
          desc: str = "train") -> dict:
    """Train ``model`` and record its learning curves against training samples seen.

    The training loss/accuracy at each point is the mean over the batches since the
    previous point; the validation loss/accuracy is measured on all of ``val_loader``
    at that point, ``evals_per_epoch`` times per epoch. ``scheduler`` (if any) steps
    once per batch.

    Returns a history dict of plain lists (JSON- and checkpoint-friendly):
    ``samples``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``epoch``,
    and ``seconds`` (total wall-clock time, evaluation included).
    """
    if channels_last is None:
        channels_last = use_channels_last(device)
    keys = ("samples", "epoch", "train_loss", "train_acc", "val_loss", "val_acc")
    history = {k: [] for k in keys}
    n_batches = len(train_loader)
    eval_at = {round(n_batches * (i + 1) / evals_per_epoch) for i in range(evals_per_epoch)}
    samples = 0
    start = time.perf_counter()
    bar = tqdm(total=epochs * n_batches, desc=desc, disable=not progress, unit="batch")
    for epoch in range(epochs):
        model.train()
        run_loss, run_correct, run_count, run_items = 0.0, 0, 0, 0
        for i, (X, y) in enumerate(train_loader, start=1):
            X, y = to_device(X, device, channels_last), y.to(device, non_blocking=True)
            with autocast(device, precision):
                scores = model(X)
            loss = loss_fn(scores.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            samples += len(X)
            run_loss += loss.item() * len(X)
            run_correct += _correct(scores.detach(), y)
            run_count += y.numel()
            run_items += len(X)
            bar.update()
            if i in eval_at:
                val_loss, val_acc = evaluate(model, val_loader, loss_fn, device, precision, channels_last)
                model.train()
                for key, value in zip(keys, (samples, epoch + i / n_batches, run_loss / run_items,
                                             run_correct / run_count, val_loss, val_acc)):
                    history[key].append(value)
                bar.set_postfix(loss=f"{run_loss / run_items:.3f}", val_loss=f"{val_loss:.3f}",
                                val_acc=f"{val_acc:.3f}")
                run_loss, run_correct, run_count, run_items = 0.0, 0, 0, 0
    bar.close()
    history["seconds"] = time.perf_counter() - start
    return history
