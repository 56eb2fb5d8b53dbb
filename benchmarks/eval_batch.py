"""How large should an evaluation batch be? Evaluation samples/s against batch size.

Training batch sizes are part of a recipe (they change what the model learns);
evaluation batch sizes are not: the model's outputs are the same (up to floating-point
rounding), so the only question is speed. Bigger is not always faster. On a CPU, a
batch whose feature maps fit in the processor's caches is evaluated without a round
trip to main memory between layers; past that size every layer streams its input and
output through memory, and the samples/s drop. This script evaluates each of the notebooks' four models
(``training.evaluate``, in the fast path: bf16 autocast where supported,
``channels_last``) over the size of its validation set at several batch sizes. The
batch sizes take turns over a few rounds and each figure is the median, so a drift in
the machine's speed moves them all alike.

Inputs are random tensors of the right shape (the cost does not depend on pixel
values), so no data set is needed.

The notebooks' choices (``data.EVAL_BATCH`` for Fashion-MNIST, ``facades.EVAL_BATCH``
for the facades) are marked in the output.

    python benchmarks/eval_batch.py            # about 2 minutes on 2 cores
    python benchmarks/eval_batch.py --rounds 1 --models report_cnn
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from common import RECIPES, Recipe, add_precision_argument, parse_models, pick_fast_path, write_json
from helpers import config, data, training

# images per pass (a validation set's size) and the batch sizes tried, by kind of model
SWEEP = {"classification": (10_000, (64, 128, 256, 512, 1000)), "segmentation": (108, (1, 2, 4, 8, 16))}


def sweep(recipe: Recipe, n_images: int, batch_sizes, rounds, fast: config.FastPath) -> dict[int, list[float]]:
    """Evaluation samples/s of one notebook model at each batch size, per round."""
    device = fast.device
    model, _, loss_fn = recipe.build(fast)
    X, y = recipe.random_batch(config.plain_path("cpu"), n_images, recipe.eval_shape)
    loaders = {bs: data.TensorBatches(X, y, bs, device=device) for bs in batch_sizes}

    def one_pass(bs):
        training.synchronize(device)
        start = time.perf_counter()
        training.evaluate(model, loaders[bs], loss_fn, fast)
        training.synchronize(device)
        return n_images / (time.perf_counter() - start)

    for bs in batch_sizes:  # warm-up: oneDNN picks and caches kernels for each shape
        one_pass(bs)
    rates = {bs: [] for bs in batch_sizes}
    for _ in range(rounds):
        for bs in batch_sizes:
            rates[bs].append(one_pass(bs))
    return rates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes per batch size (median reported)")
    parser.add_argument("--models", default=",".join(RECIPES), help=f"comma-separated, from {', '.join(RECIPES)}")
    parser.add_argument("--images", type=int, default=None, help="images per pass (default: a validation set's size)")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "eval_batch.json"))
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    recipes = parse_models(parser, args.models)
    if args.rounds < 1:
        parser.error(f"--rounds={args.rounds} must be at least 1")
    if args.images is not None and args.images < 1:
        parser.error(f"--images={args.images} must be at least 1")

    fast = pick_fast_path(parser, args.precision)
    print(f"{fast.describe()}; {torch.get_num_threads()} threads, torch {torch.__version__}\n")
    rows = []
    for recipe in recipes:
        name, notebooks = recipe.name, recipe.eval_batch
        n_images, batch_sizes = SWEEP["segmentation" if recipe.segmentation else "classification"]
        n_images = args.images or n_images
        rates = sweep(recipe, n_images, batch_sizes, args.rounds, fast)
        # the fastest by the rate as reported (rounded), so that the table's largest rate is the one marked
        best = max(batch_sizes, key=lambda bs: round(float(np.median(rates[bs])), 2))
        print(f"{name} ({n_images:,} images of {'x'.join(map(str, recipe.eval_shape))} per pass): "
              "samples/s by batch size")
        for bs in batch_sizes:
            rate = float(np.median(rates[bs]))
            rows.append(dict(model=name, batch_size=bs, samples_per_s=round(rate, 2),
                             round_samples_per_s=[round(r, 2) for r in rates[bs]], images=n_images,
                             best=bs == best, notebooks=bs == notebooks))
            print(f"  {bs:>5}: {rate:10.1f}/s{'  <- fastest' if bs == best else ''}"
                  f"{'  (the notebooks use this size)' if bs == notebooks else ''}")
        print(flush=True)
    out = dict(rows=rows, **fast.record(), threads=torch.get_num_threads(), torch=torch.__version__,
               rounds=args.rounds)
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
