"""What the benchmark scripts share (and the product does not need).

Run a script as ``python benchmarks/<name>.py``: its own folder is then on the import
path, so ``import common`` finds this module.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

from helpers import config, data, facades, models, training
from helpers.files import atomic_write_text


class FacadeFiles(Dataset):
    """Facade photos decoded from disk one at a time: the standard per-sample pipeline."""

    def __init__(self, folder: Path, limit: int | None = None):
        self.photos = facades.list_photos(Path(folder))[:limit]

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, i):
        photo, label = facades.read_pair(self.photos[i], self.photos[i].with_suffix(".png"))
        return facades.scale_photos(torch.from_numpy(photo).permute(2, 0, 1)), torch.from_numpy(label.astype(np.int64))


class WrappedBatches:
    """Training batches that pass through another's (``data.TensorBatches`` or a wrapper
    of them): as many batches, over as many images. Subclasses change what ``__iter__``
    yields or does between batches."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def dataset_size(self) -> int:
        return self.batches.dataset_size


class LowResFirst(WrappedBatches):
    """Training batches whose images are shrunk to ``size`` x ``size`` (bilinear, with
    antialiasing) during the first ``epochs`` passes, then left as they are: progressive
    resizing, which buys cheaper early steps (the convolutions' work scales with the
    pixels) at some cost in accuracy. It needs a network that takes any input size (the
    strong CNN pools globally). Wraps ``data.TensorBatches``; counts passes itself."""

    def __init__(self, batches, epochs: int, size: int):
        if epochs < 0 or size < 1:
            raise ValueError(f"epochs={epochs} and size={size}: need epochs >= 0 and size >= 1")
        super().__init__(batches)
        self.epochs, self.size, self.passes = epochs, size, 0

    def __iter__(self):
        low, self.passes = self.passes < self.epochs, self.passes + 1
        for X, y in self.batches:
            if low:
                X = nn.functional.interpolate(X, size=(self.size, self.size), mode="bilinear", antialias=True,
                                              align_corners=False)
            yield X, y


class AveragedAfterSteps(WrappedBatches):
    """Training batches that, after each step the training loop takes on one of them,
    fold the model's weights into ``averaged`` (a ``torch.optim.swa_utils.AveragedModel``):
    an exponential moving average of the weights (the speed-run work's weight averaging). The
    loop asks for the next batch only after it has stepped on the last one, so each
    update sees the weights that step left (the last update runs as the pass ends).
    Wraps any training batches; adds no step of its own."""

    def __init__(self, batches, averaged, model: nn.Module):
        super().__init__(batches)
        self.averaged, self.model = averaged, model

    def __iter__(self):
        for batch in self.batches:
            yield batch
            self.averaged.update_parameters(self.model)


class AlternatingFlips(data.TensorBatches):
    """Shuffled training batches in which each image is mirrored left-right every other
    epoch, rather than at random each time it is drawn ("derandomised" flips): a random
    half of the images, drawn once, starts mirrored, and every image changes side from one
    epoch to the next. Over any two consecutive epochs each image is seen both ways
    exactly once, where random flips show about half of them the same way in both. The flips apply after
    ``transform`` and before ``augment`` (give it no random flip of its own). Counts its
    passes itself; the first orientations come from the batches' generator, before the
    first shuffle."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.shuffle:
            raise ValueError("AlternatingFlips is for shuffled training batches: pass shuffle=True")
        self.first = torch.rand(len(self.X), generator=self.generator, device=self.generator.device) < 0.5
        self.passes = 0

    def __iter__(self):
        self.odd, self.passes = self.passes % 2 == 1, self.passes + 1
        return super().__iter__()

    def before_augment(self, X: torch.Tensor, idx) -> torch.Tensor:
        mirrored = (self.first[idx] ^ self.odd).to(X.device)
        return torch.where(mirrored[:, None, None, None], X.flip(-1), X)


def seconds_per_step(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn, optimizer, fast: config.FastPath,
                     steps: int, warmup: int = 0, scaler=None) -> float:
    """Wall-clock seconds per training step (``training.train_step``) on the batch ``(X, y)``,
    over ``steps`` steps taken after ``warmup`` untimed ones (where kernels get picked);
    the device is synchronised before and after, so a GPU's queued work counts."""
    for _ in range(warmup):
        training.train_step(model, X, y, loss_fn, optimizer, fast, scaler)
    training.synchronize(fast.device)
    start = time.perf_counter()
    for _ in range(steps):
        training.train_step(model, X, y, loss_fn, optimizer, fast, scaler)
    training.synchronize(fast.device)
    return (time.perf_counter() - start) / steps


def shapes_text(shapes) -> str:
    """``[[64, 32, 14, 14], [128]] -> "64x32x14x14, 128"``."""
    return ", ".join("x".join(map(str, s)) for s in shapes)


def write_json(path: Path | str, result: dict) -> Path:
    """Write a benchmark's result file (through a temporary file) and say so."""
    path = atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """``--precision``: the fast path's precision, as ``DLCV_PRECISION`` takes it."""
    parser.add_argument("--precision", default="auto", choices=config.PRECISIONS,
                        help="the fast path's precision (default: auto, as the notebooks pick it)")


def pick_fast_path(parser: argparse.ArgumentParser, precision: str) -> config.FastPath:
    """The notebooks' fast-path decision for this machine; a precision the device cannot
    run is reported as a usage error, not a traceback."""
    try:
        return config.pick_fast_path(precision=precision)
    except config.PrecisionError as err:
        parser.error(str(err))


@dataclass(frozen=True)
class Recipe:
    """One notebook model's training recipe, as the benchmarks rebuild it.

    The notebooks spell their recipes out in their cells, for readers;
    ``tests/test_benchmarks.py`` reads those cells and checks that every field here
    matches, so a benchmark always measures what the notebooks run.
    """

    name: str
    model: str                 # class name in helpers.models
    batch_size: int
    image_shape: tuple         # one training input (the U-Net trains on crops)
    eval_shape: tuple          # one evaluation input
    num_classes: int
    epochs: int
    optimizer: str             # "Adam" or "AdamW" (the notebooks); "SGD" for an alternative tried
    lr: float                  # the learning rate, or the one-cycle peak
    weight_decay: float = 0.0
    momentum: float = 0.0      # SGD only: Nesterov momentum (0: plain SGD)
    fused: bool = False        # the notebook asks for a fused step where the device has one
    label_smoothing: float = 0.0
    eval_batch: int = data.EVAL_BATCH
    schedule: str = "constant"   # "constant", "cosine" (to zero) or "one-cycle", stepped per batch
    flip: bool = False           # classification: random left-right flips of training images
    pad: int = 0                 # classification: random shifts of up to ``pad`` pixels (0: none)
    alternate_flips: bool = False  # classification, with ``flip``: each image mirrored every other epoch
                                   # (common.AlternatingFlips) instead of at random each time
    class_weight_power: float = 0.0  # segmentation: class weights 1 / share ** power (0: unweighted)
    dice_weight: float = 0.0         # segmentation: add this times the soft Dice loss (training.DiceCrossEntropy)
    crop_scale: tuple = (1.0, 1.0)   # segmentation: each training crop covers a window of its side times a factor
                                     # drawn from this range (helpers.augment.scale_flip_crop; (1, 1): plain crops)
    flip_tta: bool = False       # mirror averaging at test time, kept if it helps on validation (a final
                                 # fit has none to read: there it is applied, as its held-out fits decided)
    evals_per_epoch: int = 1
    eval_every: int = 1          # validate every ``eval_every``-th epoch (and after the last)
    train_fraction: float = 1.0  # train on this fraction of the training images (the first ones: a random subset)
    fit_on_validation: bool = False  # a final fit: train on the training and the validation images
    low_res_epochs: int = 0      # classification: the first epochs on images shrunk to ``low_res`` pixels
    low_res: int = 20
    ema_decay: float = 0.0       # score an exponential moving average of the weights and batch-norm statistics,
                                 # updated after every step with this decay (AveragedAfterSteps; 0: the weights as trained)
    model_options: tuple = ()    # (name, value) pairs for the model's constructor (the notebooks use none)

    @property
    def segmentation(self) -> bool:
        return len(self.image_shape) == 3 and self.image_shape[0] == 3

    def fast_path(self, fast: config.FastPath) -> config.FastPath:
        """``fast`` as this recipe uses it: a fused optimizer step only where the notebook
        asks for one and the device has one."""
        return dataclasses.replace(fast, fused_optimizer=fast.fused_optimizer and self.fused)

    def build(self, fast: config.FastPath, seed: int = 0, train_labels: torch.Tensor | None = None, **model_kw):
        """``(model, optimizer, loss_fn)`` on ``fast``'s device, seeded. The loss carries
        the recipe's class weights (:func:`helpers.data.class_weights`) when
        ``train_labels`` are given; without them (step-cost benchmarks on random
        batches) it is unweighted."""
        torch.manual_seed(seed)
        model = training.prepare_model(getattr(models, self.model)(**dict(self.model_options), **model_kw), fast)
        optimizer_cls = getattr(torch.optim, self.optimizer)
        extra = dict(momentum=self.momentum, nesterov=self.momentum > 0) if self.optimizer == "SGD" else {}
        optimizer = optimizer_cls(model.parameters(), lr=self.lr, weight_decay=self.weight_decay,
                                  fused=self.fast_path(fast).fused_optimizer or None, **extra)
        weight = None
        if self.class_weight_power and train_labels is not None:
            weight = data.class_weights(train_labels, self.num_classes, self.class_weight_power).to(fast.device)
        if self.dice_weight:
            return model, optimizer, training.DiceCrossEntropy(self.num_classes, self.dice_weight, weight=weight)
        return model, optimizer, nn.CrossEntropyLoss(weight=weight, label_smoothing=self.label_smoothing)

    def loaders(self, splits: data.Splits, fast: config.FastPath, transform=None, shuffle_seed: int = 0,
                augment=None):
        """``(train, val, test)`` batches of ``splits`` as the notebooks build them: the
        training batches shuffled by a generator seeded with ``shuffle_seed``."""
        X_train, y_train = splits.X_train, splits.y_train
        if self.train_fraction != 1.0:  # a point on the learning curve
            if not 0 < self.train_fraction <= 1:
                raise ValueError(f"train_fraction={self.train_fraction}: choose a fraction in (0, 1]")
            keep = max(1, round(self.train_fraction * len(X_train)))
            X_train, y_train = X_train[:keep], y_train[:keep]
        if self.fit_on_validation:  # validation scores of such a model say nothing: it has seen those images
            X_train, y_train = torch.cat([X_train, splits.X_val]), torch.cat([y_train, splits.y_val])
        if self.alternate_flips and not self.flip:
            raise ValueError("alternate_flips=True needs flip=True: it schedules the flips")
        batches = AlternatingFlips if self.alternate_flips else data.TensorBatches
        train = batches(X_train, y_train, self.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(shuffle_seed), device=fast.device,
                        transform=transform, augment=augment)
        if self.low_res_epochs:
            train = LowResFirst(train, self.low_res_epochs, self.low_res)
        val, test = (data.TensorBatches(X, y, self.eval_batch, device=fast.device, transform=transform)
                     for X, y in ((splits.X_val, splits.y_val), (splits.X_test, splits.y_test)))
        return train, val, test

    def scheduler(self, optimizer, steps: int):
        """The recipe's learning-rate schedule over ``steps`` batches (None: constant)."""
        if self.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        if self.schedule == "one-cycle":
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=steps)
        if self.schedule != "constant":
            raise ValueError(f"schedule={self.schedule!r}: use 'constant', 'cosine' or 'one-cycle'")
        return None

    def step_flops(self, shape: tuple | None = None, n: int = 2) -> float:
        """Floating-point operations of one training step per image (forward and backward;
        convolutions and matrix products, as ``torch.utils.flop_counter`` counts them:
        two per multiply-add) on images of ``shape`` (default: the training shape),
        counted on a batch of ``n`` in fp32 on the CPU. The count depends on the
        architecture and the image size only, not on the machine or its load."""
        return _step_flops(self.model, self.model_options, self.num_classes, tuple(shape or self.image_shape), n)

    def training_flops(self, train_images: int, val_images: int = 0) -> float:
        """The whole training run's floating-point operations (:meth:`step_flops` per image
        seen), for ``train_images`` training and ``val_images`` validation images (these
        count only in a final fit): what the recipe costs independently of the machine.
        Validation passes are not counted."""
        images = round(self.train_fraction * train_images) if self.train_fraction != 1.0 else train_images
        images += val_images if self.fit_on_validation else 0
        low = min(self.low_res_epochs, self.epochs)
        per_image = (self.epochs - low) * self.step_flops()
        if low:
            per_image += low * self.step_flops((self.image_shape[0], self.low_res, self.low_res))
        return images * per_image

    def random_batch(self, fast: config.FastPath, n: int | None = None, shape: tuple | None = None):
        """Random inputs and labels of the recipe's training shape (the cost of a step does
        not depend on pixel values): ``(X, y)`` on the device."""
        shape = shape or self.image_shape
        n = n or self.batch_size
        X = training.to_device(torch.randn(n, *shape), fast)
        y = torch.randint(0, self.num_classes, (n, *shape[1:]) if self.segmentation else (n,))
        return X, y.to(fast.device)


@functools.cache
def _step_flops(model_name: str, options: tuple, num_classes: int, shape: tuple, n: int) -> float:
    """:meth:`Recipe.step_flops`, counted once per architecture and image shape."""
    with torch.random.fork_rng(devices=[]):  # building the model draws its initial weights: not from the caller's RNG
        model = getattr(models, model_name)(**dict(options), num_classes=num_classes)
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(n, *shape)).sum().backward()
    return counter.get_total_flops() / n


# recipes.py's name for the recipe that validation reads where a notebook trains a final fit
# (tables.py reads the same name back from recipes.json)
HELD_OUT_VARIANT = "held-out fit"

FASHION, PHOTO, CROP = (1, 28, 28), (3, 256, 256), (3, 128, 128)
# StrongCNN's cheaper variant (benchmarks/README.md, "Pooling first"), as Recipe.model_options
POOL_CONV = (("transition", "pool-conv"),)
# StrongCNN with a shortcut around each stage's pair of further convolutions (models.ResidualPair)
RESIDUAL = (("residual", True),)
# StrongCNN downsampling with 2x2 convolutions of stride 2 instead of a 3x3 convolution and max-pooling
PATCH = (("transition", "patch"),)
# the U-Net with five levels (benchmarks/README.md, "Five levels for the U-Net"), as Recipe.model_options:
# a fifth level of 256 channels, and the same depth three quarters as wide
UNET_FIVE_LEVELS = (("widths", (16, 32, 64, 128, 256)),)
UNET_FIVE_NARROW = (("widths", (12, 24, 48, 96, 192)),)
# the U-Net's first (full-resolution) level half as wide again, 24 channels instead of 16: more features where
# the thin pillars and balcony rails are drawn, the rest unchanged
UNET_WIDE_FIRST = (("widths", (24, 32, 64, 128)),)
FASHION_VAL = 10_000  # the Fashion-MNIST validation split: 10,000 of the 60,000 training images, drawn at random
# (training, validation) images for Recipe.training_flops: Fashion-MNIST's, and the course
# facade set's 906 photos, of which facades.course_split validates 108 (36 facades' crops)
FACADES_VAL = facades.COURSE_CROPS * facades.COURSE_VAL_FACADES
WORK_IMAGES = {"strong_cnn": (60_000 - FASHION_VAL, FASHION_VAL), "unet": (906 - FACADES_VAL, FACADES_VAL)}
RECIPES = {
    "report_cnn": Recipe("report_cnn", "ReportCNN", 64, FASHION, FASHION, 10, epochs=10, optimizer="Adam",
                         lr=1e-3, fused=True, schedule="cosine", evals_per_epoch=4),
    # the notebook's strong CNN is a final fit: every choice was made on validation by its
    # held-out twin (recipes.HELD_OUT: the same recipe on the 50,000 training images for
    # 8 epochs, about as many steps), then it trains on training + validation images
    "strong_cnn": Recipe("strong_cnn", "StrongCNN", 256, FASHION, FASHION, 10, epochs=7, optimizer="AdamW",
                         lr=3e-3, weight_decay=5e-4, fused=True, label_smoothing=0.1, schedule="one-cycle",
                         evals_per_epoch=4, fit_on_validation=True, flip=True, flip_tta=True),
    "report_segnet": Recipe("report_segnet", "ReportSegNet", 8, PHOTO, PHOTO, 5, epochs=20, optimizer="Adam",
                            lr=1e-3, weight_decay=1e-5, eval_batch=facades.EVAL_BATCH),
    "unet": Recipe("unet", "UNet", 16, CROP, PHOTO, 5, epochs=30, optimizer="AdamW", lr=3e-3,
                   weight_decay=1e-4, eval_batch=facades.EVAL_BATCH, schedule="one-cycle", class_weight_power=0.5,
                   flip_tta=True, eval_every=5),
}


def parse_models(parser: argparse.ArgumentParser, names: str, allowed=tuple(RECIPES)) -> list[Recipe]:
    """``--models a,b`` as recipes; an unknown name is a usage error that lists the choices."""
    chosen = names.split(",")
    unknown = sorted(set(chosen) - set(allowed))
    if unknown:
        parser.error(f"--models: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return [RECIPES[name] for name in chosen]


def train_and_predict(recipe: Recipe, fast: config.FastPath, splits: data.Splits, transform=None,
                      epochs: int | None = None):
    """Train a report model with its notebook recipe (seed 0: weights, batch order,
    schedule, validation points) on ``splits`` and predict the test split:
    ``(probs, y, history)``."""
    epochs = epochs or recipe.epochs
    model, optimizer, loss_fn = recipe.build(fast)
    loader, val, test = recipe.loaders(splits, fast, transform)
    history = training.train(model, loader, val, loss_fn, optimizer, epochs, fast,
                             evals_per_epoch=recipe.evals_per_epoch, eval_every=recipe.eval_every,
                             scheduler=recipe.scheduler(optimizer, epochs * len(loader)), progress=False)
    probs, y = training.predict(model, test, fast)
    return probs, y, history
