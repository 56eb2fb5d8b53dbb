"""Batch-level data augmentation: random flips and crops applied to whole batches.

Each image of a batch gets its own random flip and crop offset, drawn from a seeded
generator; label maps (segmentation) get exactly the same flip and crop as their photos.
Used only for training batches, never for evaluation.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


FILLS = ("zero", "min")


def flip_crop(X: torch.Tensor, generator: torch.Generator, size: int | None = None, pad: int = 0,
              y: torch.Tensor | None = None, flip: bool = True, fill: str = "zero"):
    """Randomly flip (left-right) and crop each image of a batch.

    Args:
        X: images ``(N, C, H, W)``.
        size: side of the square crop (default: the input size after padding is removed).
        pad: padding added on every side before cropping (shift augmentation).
        y: optional label maps ``(N, H, W)``, flipped and cropped like ``X`` (padding
           uses class 0).
        fill: what the padding of ``X`` holds: ``"zero"``, or ``"min"``, each image's
           smallest value. After standardisation a Fashion-MNIST image's black
           background is its smallest value and zero is the data set's mean grey, so a zero border
           would give shifted images a grey edge that no test image has.
    Returns the augmented ``X`` (and ``y`` when given).
    """
    if fill not in FILLS:
        raise ValueError(f"fill={fill!r}: choose one of {', '.join(FILLS)}")
    N, C, H, W = X.shape
    size_h, size_w = (size, size) if size is not None else (H, W)
    if size_h > H + 2 * pad or size_w > W + 2 * pad:
        raise ValueError(f"crop size {size} is larger than the padded image {H + 2 * pad}x{W + 2 * pad}")
    # random draws on the generator's device (the data's, for TensorBatches on a GPU)
    rng = generator.device
    flips = (torch.rand(N, generator=generator, device=rng) < 0.5) if flip else torch.zeros(
        N, dtype=torch.bool, device=rng)
    dy = torch.randint(0, H + 2 * pad - size_h + 1, (N,), generator=generator, device=rng)
    dx = torch.randint(0, W + 2 * pad - size_w + 1, (N,), generator=generator, device=rng)
    device = X.device
    rows = (dy[:, None] + torch.arange(size_h, device=rng)).to(device)          # (N, h)
    cols = dx[:, None] + torch.arange(size_w, device=rng)                        # (N, w)
    cols = torch.where(flips[:, None], cols.flip(1), cols).to(device)            # a flip reverses the columns
    n = torch.arange(N, device=device)

    def take(T: torch.Tensor) -> torch.Tensor:
        if pad and fill == "min" and T.dim() == 4:
            padded = T.amin(dim=(1, 2, 3), keepdim=True).expand(N, C, H + 2 * pad, W + 2 * pad).clone()
            padded[..., pad:pad + H, pad:pad + W] = T
            T = padded
        elif pad:
            T = F.pad(T, (pad, pad, pad, pad))
        if T.dim() == 4:   # (N, C, H, W) -> gather (N, C, h, w)
            return T[n[:, None, None, None], torch.arange(T.shape[1], device=device)[None, :, None, None],
                     rows[:, None, :, None], cols[:, None, None, :]]
        return T[n[:, None, None], rows[:, :, None], cols[:, None, :]]    # (N, H, W) -> (N, h, w)

    X_out = take(X)
    if y is None:
        return X_out
    return X_out, take(y)


def classification_augment(pad: int = 2, flip: bool = True):
    """``augment(X, y, generator)`` for :class:`helpers.data.TensorBatches`: flip (unless
    ``flip`` is False) and shift images by up to ``pad`` pixels, filling the uncovered
    edge with each image's smallest value (its background); labels unchanged."""
    def augment(X, y, generator):
        return flip_crop(X, generator, pad=pad, flip=flip, fill="min"), y
    return augment


def scale_flip_crop(X: torch.Tensor, y: torch.Tensor, generator: torch.Generator, size: int,
                    scale: tuple[float, float] = (2 / 3, 1.5)):
    """Randomly rescale, flip (left-right) and crop each photo of a batch and its label map.

    Each photo gets a square window of side ``round(size * s)`` pixels, ``s`` drawn
    log-uniformly from ``scale`` (so that zooming in and out are equally likely), at a
    random place inside the photo, resized to ``size`` x ``size``: the photo bilinearly,
    the label map by nearest neighbour (labels stay labels). ``s`` below 1 zooms in,
    above 1 out. With ``scale=(1, 1)`` it is a plain random crop and flip.

    Args:
        X: photos ``(N, C, H, W)``; y: label maps ``(N, H, W)``.
    Returns ``(X, y)`` of ``(N, C, size, size)`` and ``(N, size, size)``.
    """
    low, high = scale
    N, C, H, W = X.shape
    if not 0 < low <= high or round(size * high) > min(H, W):
        raise ValueError(f"scale={scale}: windows of {size} x {low} to {size} x {high} pixels must be at least "
                         f"1 pixel and fit the {H}x{W} photos")
    rng = generator.device
    s = torch.exp(torch.empty(N, device=rng).uniform_(math.log(low), math.log(high), generator=generator))
    side = torch.round(size * s).clamp(1, min(H, W))
    # whole-pixel offsets: with s = 1 every output pixel is an input pixel
    top = torch.floor(torch.rand(N, generator=generator, device=rng) * (H - side + 1))
    left = torch.floor(torch.rand(N, generator=generator, device=rng) * (W - side + 1))
    flips = torch.rand(N, generator=generator, device=rng) < 0.5
    # the window as an affine map of the output's [-1, 1] square into the input's (align_corners=False)
    theta = torch.zeros(N, 2, 3, device=rng)
    theta[:, 0, 0] = torch.where(flips, -side / W, side / W)
    theta[:, 0, 2] = (2 * left + side) / W - 1
    theta[:, 1, 1] = side / H
    theta[:, 1, 2] = (2 * top + side) / H - 1
    grid = F.affine_grid(theta.to(X.device), [N, 1, size, size], align_corners=False)
    X_out = F.grid_sample(X, grid.to(X.dtype), mode="bilinear", align_corners=False)
    y_out = F.grid_sample(y[:, None].to(grid.dtype), grid, mode="nearest", align_corners=False)[:, 0]
    return X_out, y_out.round().to(y.dtype)


def segmentation_augment(size: int, scale: tuple[float, float] = (1.0, 1.0)):
    """``augment(X, y, generator)``: the same flip and ``size`` x ``size`` crop for each
    photo and its label map; with a ``scale`` range other than ``(1, 1)``, the crop's side
    also varies (:func:`scale_flip_crop`) before it is resized to ``size``."""
    def augment(X, y, generator):
        if tuple(scale) == (1.0, 1.0):
            return flip_crop(X, generator, size=size, y=y)
        return scale_flip_crop(X, y, generator, size, scale)
    return augment
