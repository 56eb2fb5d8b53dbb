"""Test-time augmentation beyond the mirror: do more views pay, read on validation?

Both stronger models average each image's scores with its mirror's (flip TTA), kept
because validation gained from it. The issue's speed-run reading suggests more views:
airbench averages shifted copies too, and segmenters often average several scales. Each
costs evaluation time only, so it would lift accuracy without touching the training
time. This script trains each model once, exactly as ``recipes.py`` does (the strong CNN's
held-out fit and the U-Net's recipe, seed 0), then scores sets of views of the same model:

- strong CNN: the image; with its mirror; with its four one-pixel shifts (up, down, left,
  right; the uncovered edge filled with the image's own background, its smallest value,
  as the training shifts fill it); and the mirror's shifts too (ten views);
- U-Net: the photo and its mirror at 256 pixels (the notebook's views), then also at
  other scales (0.75x to 1.25x, multiples of 8 pixels): the scores of each resized view
  are resized back to the photo (bilinear) before averaging.

Views are averaged as softmax probabilities, every view weighing the same. Validation is
where a choice would be read; test (test_dev for the facades) is reported, never used to
choose. Beside each set, the seconds of one evaluation pass over the test images.

    python benchmarks/tta.py                   # about 15 minutes on 2 cores (two trainings)
    python benchmarks/tta.py --models unet     # one model
    python benchmarks/tta.py --tiny            # seconds: checks that it runs (tests)

Writes ``benchmarks/tta.json``; ``python benchmarks/tables.py`` renders its table into
``benchmarks/README.md``. Run it alone: it also reports training seconds.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import recipes
from common import RECIPES, add_precision_argument, parse_models, pick_fast_path, write_json
from helpers import config, data, training

HERE = Path(__file__).resolve().parent
SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # (rows, columns): up, down, left, right by one pixel
# the U-Net's scale sets, as factors of the photo's side (each view with its mirror)
SCALE_SETS = ((1.0,), (0.75, 1.0), (1.0, 1.25), (0.75, 1.0, 1.25), (0.875, 1.0, 1.125))


def shift(X: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Each image of ``X`` (N, C, H, W) moved ``dy`` rows down and ``dx`` columns right
    (negative: up, left); the uncovered edge takes the image's smallest value."""
    N, C, H, W = X.shape
    p = max(abs(dy), abs(dx))
    out = X.amin(dim=(1, 2, 3), keepdim=True).expand(N, C, H + 2 * p, W + 2 * p).clone()
    out[..., p + dy:p + dy + H, p + dx:p + dx + W] = X
    return out[..., p:p + H, p:p + W]


def resized(X: torch.Tensor, size: int) -> torch.Tensor:
    """``X`` resized to ``size`` x ``size`` (bilinear, antialiased when shrinking)."""
    if size == X.shape[-1]:
        return X
    return F.interpolate(X, size=(size, size), mode="bilinear", align_corners=False, antialias=size < X.shape[-1])


def scaled_side(side: int, scale: float) -> int:
    """``side`` times ``scale``, rounded to a multiple of 8 pixels (the U-Net's), at least 8."""
    return max(8, round(side * scale / 8) * 8)


def classification_views(name: str):
    """``[(view, back)]`` of a set: ``view(X)`` is the input, ``back(scores)`` the identity."""
    same = lambda S: S  # noqa: E731
    views = [(lambda X: X, same)]
    if "mirror" in name:
        views.append((lambda X: X.flip(-1), same))
    if "shifts" in name:
        views += [(lambda X, d=d, m=m: shift(X.flip(-1) if m else X, *d), same)
                  for m in ((False, True) if "mirror" in name else (False,)) for d in SHIFTS]
    return views


def segmentation_views(scales, side: int, mirror: bool = True):
    """``[(view, back)]`` for the photo at each scale (a side rounded to a multiple of 8
    pixels, the U-Net's), with its mirror; ``back`` maps the scores onto the photo."""
    views = []
    for s in scales:
        size = scaled_side(side, s)
        for m in (False, True) if mirror else (False,):
            view = lambda X, size=size, m=m: resized(X.flip(-1) if m else X, size)  # noqa: E731
            back = lambda S, m=m: resized(S.flip(-1) if m else S, side)  # noqa: E731
            views.append((view, back))
    return views


def view_sets(recipe, side: int) -> list[tuple[str, list]]:
    if recipe.segmentation:
        sets = [("the photo alone (256 px)", segmentation_views((1.0,), side, mirror=False))]
        for scales in SCALE_SETS:
            label = ", ".join(str(scaled_side(side, s)) for s in scales)
            sets.append((f"with the mirror at {label} px" if len(scales) > 1 or scales[0] != 1.0 else
                         "with the mirror (the notebook's)", segmentation_views(scales, side)))
        return sets
    return [("the image alone", classification_views("plain")),
            ("with the mirror (the notebook's)", classification_views("mirror")),
            ("with its four one-pixel shifts", classification_views("shifts")),
            ("with the mirror, and the shifts of both", classification_views("mirror shifts"))]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="strong_cnn,unet", help="comma-separated: strong_cnn, unet")
    parser.add_argument("--fashion-root", default=str(config.DATA_DIR))
    parser.add_argument("--debian-dir", default=str(data.DEBIAN_DIR))
    parser.add_argument("--facades-dir", default=None, help="facade data (default: FACADES_DIR, then data/facades)")
    parser.add_argument("--out", default=str(HERE / "tta.json"))
    parser.add_argument("--tiny", action="store_true", help="one epoch on a few images (tests)")
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    chosen = parse_models(parser, args.models, allowed=recipes.STRONG)
    fast = pick_fast_path(parser, args.precision)
    started, rows = time.strftime("%Y-%m-%d %H:%M"), []
    for recipe in chosen:
        variant, measured = recipes.yardstick(recipe)
        if args.tiny and recipe.segmentation:  # the test photos are 32x32
            measured = dataclasses.replace(measured, image_shape=(3, 16, 16))
        splits = recipes._splits(recipe.name, args)
        config.seed_everything(0)
        model, history, val, test, used = recipes.train_model(measured, splits, fast, 0, 1 if args.tiny else None)
        side = splits.X_test.shape[-1]
        for name, views in view_sets(recipe, side):
            val_score = recipes._score(measured, *training.predict(model, val, used, views=views))
            start = time.perf_counter()
            probs, y = training.predict(model, test, used, views=views)
            training.synchronize(used.device)
            seconds = time.perf_counter() - start
            test_score = recipes._score(measured, probs, y)
            rows.append(dict(model=recipe.name, trained=variant, seed=0, views=name, n_views=len(views),
                             val=val_score[0], val_per_class=val_score[1], test=test_score[0],
                             test_per_class=test_score[1], test_eval_seconds=round(seconds, 2),
                             train_seconds=round(history["seconds"], 1)))
            print(f"{recipe.name:<10} {name:<40} {len(views):>2} views  val {val_score[0]:.4f}  "
                  f"test {test_score[0]:.4f}  test pass {seconds:5.1f} s", flush=True)
    result = dict(device=fast.device.type, device_name=config.device_name(fast.device), cores=os.cpu_count(),
                  threads=torch.get_num_threads(), torch=torch.__version__, python=platform.python_version(),
                  precision=fast.precision, tiny=args.tiny, started=started, rows=rows)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
