"""What a training step of the strong CNN's variants costs, timed in turns in one process.

The recipe runs of ``recipes.py`` come from different runs on a machine whose speed
drifts, so their seconds cannot show what a cheaper variant saves. Here each variant
trains a few steps on random batches (the cost of a step does not depend on the pixel
values), round after round in turns, so that drift moves them all alike; the figure is
the median over the rounds, and the ratio to the notebook's model is given with its range
over the rounds (round i against round i). Beside it, the arithmetic of a step
(``Recipe.step_flops``) against the notebook model's: where time follows arithmetic, the
two ratios agree.

    python benchmarks/step_cost.py           # about two minutes on 2 cores
    python benchmarks/step_cost.py --tiny    # a few steps, to check that it runs (tests)
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from common import POOL_CONV, RECIPES, add_precision_argument, pick_fast_path, write_json
from helpers import config, training

STRONG = RECIPES["strong_cnn"]
# (name, the recipe's fields changed, the image size trained on)
VARIANTS = [
    ("the notebook's strong CNN", {}, 28),
    ("pooling before each stage's convolutions", dict(model_options=POOL_CONV), 28),
    ("at 20x20 pixels (progressive resizing's first epochs)", {}, 20),
]


def step_seconds(recipe, fast, size: int, steps: int) -> float:
    """Seconds per training step of ``recipe``'s model on random ``size`` x ``size``
    batches, after building it (not timed)."""
    model, optimizer, loss_fn = recipe.build(fast)
    X, y = recipe.random_batch(fast, shape=(recipe.image_shape[0], size, size))
    training.synchronize(fast.device)
    start = time.perf_counter()
    for _ in range(steps):
        training.train_step(model, X, y, loss_fn, optimizer, fast)
    training.synchronize(fast.device)
    return (time.perf_counter() - start) / steps


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
    fast = STRONG.fast_path(pick_fast_path(parser, args.precision))
    recipes = [(name, dataclasses.replace(STRONG, **changed), size) for name, changed, size in VARIANTS]
    for _, recipe, size in recipes:  # warm-up: first calls pick their kernels
        step_seconds(recipe, fast, size, 2)
    times = [[] for _ in recipes]
    for _ in range(rounds):
        for seconds, (_, recipe, size) in zip(times, recipes):
            seconds.append(step_seconds(recipe, fast, size, steps))
    base_flops = STRONG.step_flops()
    rows = []
    for (name, recipe, size), seconds in zip(recipes, times):
        ratios = np.array(seconds) / np.array(times[0])
        rows.append(dict(variant=name, image_size=size, ms_per_step=round(1000 * float(np.median(seconds)), 2),
                         round_ms=[round(1000 * s, 2) for s in seconds],
                         time_ratio=round(float(np.median(seconds) / np.median(times[0])), 3),
                         time_ratio_range=[round(float(ratios.min()), 3), round(float(ratios.max()), 3)],
                         work_ratio=round(recipe.step_flops((recipe.image_shape[0], size, size)) / base_flops, 3)))
    result = dict(device=str(fast.device), device_name=fast.device_name, precision=fast.precision,
                  threads=torch.get_num_threads(), torch=torch.__version__, batch_size=STRONG.batch_size,
                  rounds=rounds, steps=steps, tiny=args.tiny, rows=rows)
    print(f"strong CNN training step, batch {STRONG.batch_size}, {fast.device_name}, {fast.precision}, "
          f"{rounds} rounds of {steps} steps")
    for r in rows:
        print(f"  {r['variant']:<55} {r['ms_per_step']:8.1f} ms  time {r['time_ratio']:.2f}x "
              f"({r['time_ratio_range'][0]:.2f} to {r['time_ratio_range'][1]:.2f})  work {r['work_ratio']:.2f}x")
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
