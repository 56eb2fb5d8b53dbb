"""The training loop, evaluation and prediction, shared by both notebooks.

Every function here receives the fast path decided once by ``config.pick_fast_path``
(device, precision, ``channels_last``, fused optimizer) instead of deciding again.
One training step (:func:`train_step`, with its fp16 variant :func:`_scaled_train_step`
beside it) is the only place where forward, loss, backward and the optimizer step are
written; the training loop and the benchmarks call it.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from typing import NamedTuple

import torch
from torch import nn
from tqdm.std import tqdm  # text bars: no ipywidgets needed, readable in saved notebooks

from .config import FastPath

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device | str, precision: str):
    """Context for the forward pass: bf16 or fp16 autocast, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision not in _DTYPES:
        raise ValueError(f"precision={precision!r} must be 'fp32', 'bf16' or 'fp16'")
    return torch.autocast(device_type=torch.device(device).type, dtype=_DTYPES[precision])


def make_scaler(fast: FastPath) -> torch.amp.GradScaler:
    """The gradient scaler for ``fast``: active for fp16, a pass-through otherwise.

    fp16 represents numbers only down to about 6e-8, so small gradients would become
    zero. The scaler multiplies the loss by a large factor before ``backward`` and
    divides the gradients by it before the optimizer step; when a step's gradients
    hold inf or NaN (the factor was too large) it skips that step and halves the
    factor, and training goes on.
    """
    return torch.amp.GradScaler(fast.device.type, enabled=fast.grad_scaling)


def synchronize(device: torch.device | str) -> None:
    """Wait for the device's queued work (CUDA and MPS run asynchronously), so that a
    timer read after it measures the work; nothing to wait for on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def to_device(X: torch.Tensor, fast: FastPath) -> torch.Tensor:
    """A batch on the fast path's device, in its memory format (a no-op for batches
    that :class:`helpers.data.TensorBatches` already sliced on the device)."""
    X = X.to(fast.device, non_blocking=True)
    if fast.channels_last and X.dim() == 4:
        X = X.contiguous(memory_format=torch.channels_last)
    return X


def prepare_model(model: nn.Module, fast: FastPath) -> nn.Module:
    """Move ``model`` to the fast path's device, in the memory format training uses."""
    fmt = torch.channels_last if fast.channels_last else torch.contiguous_format
    return model.to(fast.device, memory_format=fmt)


class DiceCrossEntropy(nn.Module):
    """Segmentation loss: (class-weighted) cross-entropy plus ``dice_weight`` times the
    soft Dice loss, ``1 -`` the mean over classes of
    ``2 * sum(p * t) / (sum(p) + sum(t))``, where ``p`` is the softmax probability of the
    class and ``t`` its one-hot target, summed over every pixel of the batch.

    Cross-entropy is an average over pixels, so a class with few pixels (pillars) weighs
    little in it; each class's Dice term is a ratio for that class alone, so every class
    weighs the same in the mean however few its pixels. A class absent from both the
    batch's targets and its predictions counts as a perfect match (``eps``).
    """

    def __init__(self, num_classes: int, dice_weight: float = 1.0, weight: torch.Tensor | None = None,
                 eps: float = 1.0):
        super().__init__()
        self.num_classes, self.dice_weight, self.eps = num_classes, dice_weight, eps
        self.cross_entropy = nn.CrossEntropyLoss(weight=weight)

    def dice_loss(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``1 -`` the mean soft Dice over classes; ``scores`` ``(N, C, H, W)``, ``y`` ``(N, H, W)``."""
        if scores.shape[1] != self.num_classes:
            raise ValueError(f"scores have {scores.shape[1]} classes, the loss was built for {self.num_classes}")
        probs = scores.float().softmax(1)
        target = nn.functional.one_hot(y.long(), self.num_classes).movedim(-1, 1).to(probs.dtype)
        dims = (0, *range(2, probs.dim()))
        overlap = (probs * target).sum(dims)
        dice = (2 * overlap + self.eps) / (probs.sum(dims) + target.sum(dims) + self.eps)
        return 1 - dice.mean()

    def forward(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.cross_entropy(scores, y) + self.dice_weight * self.dice_loss(scores, y)


class Step(NamedTuple):
    """What one training step returns: the batch's loss (a detached fp32 scalar
    tensor), the scores (detached), and whether the optimizer step was skipped
    (only the fp16 scaler skips, when the gradients held inf or NaN)."""

    loss: torch.Tensor
    scores: torch.Tensor
    skipped: bool


def train_step(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn, optimizer,
               fast: FastPath, scaler: torch.amp.GradScaler | None = None) -> Step:
    """One training step on the batch ``(X, y)``; returns a :class:`Step`.

    Exercise 2 (the plain step): run ``model`` on ``X`` inside
    ``autocast(fast.device, fast.precision)`` (the precision is decided for you), compute
    ``loss_fn`` on the scores converted to fp32 (``scores.float()``) and ``y``, clear the
    old gradients (``optimizer.zero_grad(set_to_none=True)``), backpropagate, and let the
    optimizer update the weights. Return ``Step(loss.detach(), scores.detach(), False)``.

    With an active fp16 ``scaler`` (from :func:`make_scaler`) the same step runs
    through the scaler instead (:func:`_scaled_train_step`).
    """
    if scaler is not None and scaler.is_enabled():
        return _scaled_train_step(model, X, y, loss_fn, optimizer, fast, scaler)
    # BEGIN SOLUTION q2
    with autocast(fast.device, fast.precision):
        scores = model(X)
    loss = loss_fn(scores.float(), y)  # the loss in fp32: a sum over many terms
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return Step(loss.detach(), scores.detach(), False)
    # END SOLUTION


def _scaled_train_step(model, X, y, loss_fn, optimizer, fast: FastPath, scaler) -> Step:
    """:func:`train_step` for fp16: the loss is scaled before ``backward``, and the scaler
    unscales the gradients, skips the step if any is inf or NaN, and adapts its scale."""
    with autocast(fast.device, fast.precision):
        scores = model(X)
    loss = loss_fn(scores.float(), y)
    optimizer.zero_grad(set_to_none=True)
    scale = scaler.get_scale()
    scaler.scale(loss).backward()
    scaler.step(optimizer)  # unscales the gradients; skips the step if any is inf or NaN
    scaler.update()         # halves the scale after a skipped step, grows it slowly otherwise
    return Step(loss.detach(), scores.detach(), scaler.get_scale() < scale)


def step_scheduler(scheduler) -> None:
    """Advance a per-batch learning-rate schedule by one batch (nothing if ``None``)."""
    if scheduler is None:
        return
    with warnings.catch_warnings():
        # after a step the fp16 scaler skipped, torch warns that the scheduler stepped
        # without the optimizer; the schedule keeps its length on purpose
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
        scheduler.step()


def train_epoch(model: nn.Module, loader, loss_fn, optimizer, fast: FastPath, scaler=None, scheduler=None,
                after_batch=None) -> None:
    """Train ``model`` for one pass over ``loader``.

    Exercise 2 (the epoch): for each batch ``(X, y)`` of ``loader``, numbered ``i`` from
    1: move it to the device (``to_device(X, fast)`` and ``y.to(fast.device)``), take
    one :func:`train_step` (pass ``scaler`` on), advance the learning-rate schedule
    with :func:`step_scheduler`, and, when ``after_batch`` is given, call
    ``after_batch(i, X, y, step)``: that is how :func:`train` records its curves.
    """
    model.train()
    # BEGIN SOLUTION q2
    for i, (X, y) in enumerate(loader, start=1):
        X, y = to_device(X, fast), y.to(fast.device, non_blocking=True)
        step = train_step(model, X, y, loss_fn, optimizer, fast, scaler)
        step_scheduler(scheduler)
        if after_batch is not None:
            after_batch(i, X, y, step)
    # END SOLUTION


def _correct(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Correct predictions, as a tensor on the device (reading it would wait for the
    device): per image ``(N, C)`` or per pixel ``(N, C, H, W)``."""
    return (scores.argmax(dim=1) == y).sum()


def evaluate(model: nn.Module, loader, loss_fn, fast: FastPath) -> tuple[float, float]:
    """Mean loss and accuracy (per image, or per pixel for segmentation) over ``loader``."""
    model.eval()
    total_loss = torch.zeros((), device=fast.device)
    correct = torch.zeros((), dtype=torch.long, device=fast.device)
    count, items = 0, 0
    with torch.inference_mode():
        for X, y in loader:
            X, y = to_device(X, fast), y.to(fast.device, non_blocking=True)
            with autocast(fast.device, fast.precision):
                scores = model(X)
            total_loss += loss_fn(scores.float(), y) * len(X)
            correct += _correct(scores, y)
            count += y.numel()
            items += len(X)
    return float(total_loss) / items, int(correct) / count


def _same(X: torch.Tensor) -> torch.Tensor:
    return X


def _mirror(X: torch.Tensor) -> torch.Tensor:
    return X.flip(-1)


def _mirror_maps(scores: torch.Tensor) -> torch.Tensor:
    """A mirrored input's scores mapped back onto the input: label maps are mirrored back,
    class scores of a whole image need nothing."""
    return scores.flip(-1) if scores.dim() == 4 else scores


def predict(model: nn.Module, loader, fast: FastPath, flip_tta: bool = False,
            views=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax class probabilities and true labels for everything in ``loader``.

    Returns ``(probs, y)`` on the CPU: ``(N, C)`` and ``(N,)`` for images, or
    ``(N, C, H, W)`` and ``(N, H, W)`` for pixels; probabilities are float32.
    ``flip_tta`` averages the probabilities of each image and its left-right mirror
    (test-time augmentation, for models trained with flips); a segmenter's scores for
    the mirror are mirrored back, so each pixel averages its own two scores.

    ``views``, instead of ``flip_tta``, sets other test-time views: ``(view, back)``
    pairs, where the model scores ``view(X)`` and ``back(scores)`` maps those scores
    onto ``X``'s (e.g. undoes a mirror or a resize of a label map); the probabilities
    of all views are averaged, each weighing the same.
    """
    if views is None:
        views = [(_same, _same)] + ([(_mirror, _mirror_maps)] if flip_tta else [])
    elif flip_tta:
        raise ValueError("predict: give flip_tta or views, not both (add the mirror to views instead)")
    elif not views:
        raise ValueError("predict: views is empty; give at least one (view, back) pair, e.g. the image itself")
    model.eval()
    all_probs, all_y = [], []
    with torch.inference_mode():
        for X, y in loader:
            X = to_device(X, fast)
            with autocast(fast.device, fast.precision):
                probs = None
                for view, back in views:
                    view_probs = back(model(view(X)).float()).softmax(dim=1)
                    probs = view_probs if probs is None else probs + view_probs
                if len(views) > 1:
                    probs = probs / len(views)
            all_probs.append(probs.contiguous().cpu())
            all_y.append(y.cpu())
    return torch.cat(all_probs), torch.cat(all_y)


class _RunningMean:
    """Training loss and accuracy summed since the last evaluation point; the sums stay
    on the device (reading them every batch would wait for a GPU)."""

    def __init__(self, device):
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.count = self.items = 0

    def add(self, step: Step, y: torch.Tensor) -> None:
        self.loss += step.loss * len(y)
        self.correct += _correct(step.scores, y)
        self.count += y.numel()
        self.items += len(y)

    def take(self) -> tuple[float, float]:
        """The means (loss, accuracy), and start again."""
        means = float(self.loss) / self.items, int(self.correct) / self.count
        self.loss.zero_()
        self.correct.zero_()
        self.count = self.items = 0
        return means


def train(model: nn.Module, train_loader, val_loader, loss_fn, optimizer, epochs: int, fast: FastPath,
          evals_per_epoch: int = 1, scheduler=None, progress: bool = True, desc: str = "train",
          eval_every: int = 1) -> dict:
    """Train ``model`` for ``epochs`` passes of :func:`train_epoch` and record its learning
    curves against training samples seen.

    The training loss/accuracy at each point is the mean over the batches since the
    previous point; the validation loss/accuracy is measured on all of ``val_loader``
    at that point, ``evals_per_epoch`` times per epoch. ``eval_every`` > 1 evaluates
    only in every ``eval_every``-th epoch and the last (validation costs time: a short
    recipe on large images spends a sizeable share of its run on it). ``val_loader=None``
    is a final fit, which has no held-out images: the training points are recorded at the
    same places and the history has no ``val_loss``/``val_acc``. ``scheduler`` (if any)
    steps once per batch; fp16 runs get a gradient scaler.

    Returns a history dict of plain lists (JSON- and checkpoint-friendly):
    ``samples``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``epoch``,
    ``seconds`` (total wall-clock time, evaluation included, the device synchronised
    before the clock is read) and ``skipped_steps`` (steps the fp16 scaler skipped).
    """
    if evals_per_epoch < 1 or eval_every < 1:
        raise ValueError(f"evals_per_epoch ({evals_per_epoch}) and eval_every ({eval_every}) must be at least 1")
    keys = ("samples", "epoch", "train_loss", "train_acc") + (("val_loss", "val_acc") if val_loader is not None else ())
    history = {k: [] for k in keys}
    scaler = make_scaler(fast)
    n_batches = len(train_loader)
    eval_at = {round(n_batches * (i + 1) / evals_per_epoch) for i in range(evals_per_epoch)}
    seen = {"samples": 0, "skipped": 0, "epoch": 0}
    running = _RunningMean(fast.device)
    bar = tqdm(total=epochs * n_batches, desc=desc, disable=not progress, unit="batch")

    def after_batch(i, X, y, step):
        seen["samples"] += len(X)
        seen["skipped"] += step.skipped
        running.add(step, y)
        bar.update()
        epoch = seen["epoch"]
        if i in eval_at and ((epoch + 1) % eval_every == 0 or epoch == epochs - 1):
            train_loss, train_acc = running.take()
            point = [seen["samples"], seen["epoch"] + i / n_batches, train_loss, train_acc]
            shown = dict(loss=f"{train_loss:.3f}")
            if val_loader is not None:
                val_loss, val_acc = evaluate(model, val_loader, loss_fn, fast)
                model.train()
                point += [val_loss, val_acc]
                shown.update(val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
            for key, value in zip(keys, point):
                history[key].append(value)
            bar.set_postfix(**shown)

    start = time.perf_counter()
    for epoch in range(epochs):
        seen["epoch"] = epoch
        train_epoch(model, train_loader, loss_fn, optimizer, fast, scaler, scheduler, after_batch)
    bar.close()
    synchronize(fast.device)
    history["seconds"] = time.perf_counter() - start
    history["skipped_steps"] = seen["skipped"]
    return history
