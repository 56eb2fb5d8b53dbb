"""What a training step of the stronger models' variants costs, timed in turns in one process.

The recipe runs of ``recipes.py`` come from different runs on a machine whose speed
drifts, so their seconds cannot show what a cheaper variant saves. Here each variant
trains a few steps on random batches (the cost of a step does not depend on the pixel
values), round after round in turns, so that drift moves them all alike; the figure is
the median over the rounds, and the ratio to the notebook's model (the strong CNN's or the
U-Net's) is given with its range over the rounds (round i against round i). Beside it, the
arithmetic of a step (``Recipe.step_flops``) against the notebook model's: where time
follows arithmetic, the two ratios agree.

    python benchmarks/step_cost.py           # about five minutes on 2 cores
    python benchmarks/step_cost.py --tiny    # a few steps, to check that it runs (tests)
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from common import (PATCH, POOL_CONV, RECIPES, RESIDUAL, UNET_FIVE_LEVELS, UNET_FIVE_NARROW, add_precision_argument, pick_fast_path,
                    seconds_per_step,
                    write_json)
from helpers import config

# (model, variant, the recipe's fields changed, the image size trained on); each model's
# first row is the notebook's model, the baseline of its ratios
VARIANTS = [
    ("strong_cnn", "the notebook's strong CNN", {}, 28),
    ("strong_cnn", "pooling before each stage's convolutions", dict(model_options=POOL_CONV), 28),
    ("strong_cnn", "2x2 convolutions of stride 2 to downsample", dict(model_options=PATCH), 28),
    ("strong_cnn", "shortcuts around each stage's pair of convolutions", dict(model_options=RESIDUAL), 28),
    ("strong_cnn", "at 20x20 pixels (progressive resizing's first epochs)", {}, 20),
    ("unet", "the notebook's U-Net (widths 16 to 128)", {}, 128),
    ("unet", "a fifth level (widths 16 to 256)", dict(model_options=UNET_FIVE_LEVELS), 128),
    ("unet", "five narrower levels (widths 12 to 192)", dict(model_options=UNET_FIVE_NARROW), 128),
    ("unet", "192-pixel crops, 7 to a batch", dict(batch_size=7), 192),
]


def step_seconds(recipe, fast, size: int, steps: int) -> float:
    """Seconds per training step of ``recipe``'s model on random ``size`` x ``size``
    batches, after building it (not timed)."""
    model, optimizer, loss_fn = recipe.build(fast)
    X, y = recipe.random_batch(fast, shape=(recipe.image_shape[0], size, size))
    return seconds_per_step(model, X, y, loss_fn, optimizer, fast, steps)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant and round")
    parser.add_argument("--tiny", action="store_true", help="1 round of 1 step (tests)")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "step_cost.json"))
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error(f"--rounds ({args.rounds}) and --steps ({args.steps}) must be at least 1")
    rounds, steps = (1, 1) if args.tiny else (args.rounds, args.steps)
    base_fast = pick_fast_path(parser, args.precision)
    variants = [(model, name, dataclasses.replace(RECIPES[model], **changed), size)
                for model, name, changed, size in VARIANTS]
    fasts = [RECIPES[model].fast_path(base_fast) for model, *_ in variants]
    for (_, _, recipe, size), fast in zip(variants, fasts):  # warm-up: first calls pick their kernels
        step_seconds(recipe, fast, size, 2)
    times = [[] for _ in variants]
    for _ in range(rounds):
        for seconds, (_, _, recipe, size), fast in zip(times, variants, fasts):
            seconds.append(step_seconds(recipe, fast, size, steps))
    rows = []
    for (model, name, recipe, size), seconds in zip(variants, times):
        base = next(i for i, v in enumerate(variants) if v[0] == model)  # the model's notebook row
        base_recipe, base_size = variants[base][2], variants[base][3]
        ratios = np.array(seconds) / np.array(times[base])
        # a step's arithmetic: per image, times the images in a batch
        work = (recipe.step_flops((recipe.image_shape[0], size, size)) * recipe.batch_size
                / (base_recipe.step_flops((base_recipe.image_shape[0], base_size, base_size)) * base_recipe.batch_size))
        rows.append(dict(model=model, variant=name, batch_size=recipe.batch_size, image_size=size,
                         ms_per_step=round(1000 * float(np.median(seconds)), 2),
                         round_ms=[round(1000 * s, 2) for s in seconds],
                         time_ratio=round(float(np.median(seconds) / np.median(times[base])), 3),
                         time_ratio_range=[round(float(ratios.min()), 3), round(float(ratios.max()), 3)],
                         work_ratio=round(work, 3)))
    result = dict(device=str(base_fast.device), device_name=base_fast.device_name, precision=base_fast.precision,
                  threads=torch.get_num_threads(), torch=torch.__version__, rounds=rounds, steps=steps,
                  tiny=args.tiny, rows=rows)
    print(f"training steps, {base_fast.device_name}, {base_fast.precision}, {rounds} rounds of {steps} steps")
    for r in rows:
        print(f"  {r['model']:<10} {r['variant']:<55} batch {r['batch_size']:>3} {r['ms_per_step']:8.1f} ms  "
              f"time {r['time_ratio']:.2f}x ({r['time_ratio_range'][0]:.2f} to {r['time_ratio_range'][1]:.2f})  "
              f"work {r['work_ratio']:.2f}x")
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
