"""One short check of the GPU path: what the device is, what precision the notebooks
pick there, how fast each notebook model trains in each precision the device runs, and
one full 10-epoch training of the report's CNN on Fashion-MNIST with its test accuracy.

Meant for a borrowed GPU, where time is short: about a minute on a modern GPU, once
the data and the packages are in place. The GPU machine may have no network, so the
Fashion-MNIST files are read from a folder of the four original ``*.gz`` files
(``--fashion-dir``; Debian's folder by default) and decompressed into ``--fashion-root``.

Prints a table and writes ``benchmarks/gpu.json``:

- ``fast_path``: device, its name and compute capability, the precision chosen and why;
- ``throughput``: training samples/s of the four notebook models (random inputs of the
  notebooks' batch shapes; the cost does not depend on the pixel values) in each
  precision the device runs: fp32 everywhere, fp16 (with its GradScaler) on CUDA and
  MPS, bf16 on CUDA capability 8.0+ and on CPUs with bf16 units;
- ``report_cnn_10_epochs``: the classification notebook's recipe (standardised inputs,
  Adam 1e-3 with cosine decay, batches of 64, 10 epochs, data held on the device), its
  training seconds and test accuracy.

    python benchmarks/gpu_check.py                              # on the GPU
    python benchmarks/gpu_check.py --device cpu --tiny          # a few steps, to check that it runs
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from common import RECIPES, Recipe, seconds_per_step, train_and_predict, write_json
from helpers import config, data, training


def supported_precisions(fast: config.FastPath) -> list[str]:
    """The precisions worth timing on this device (see the module docstring)."""
    kind = fast.device.type
    if kind == "cuda":
        return ["fp32", "fp16"] + (["bf16"] if fast.capability >= (8, 0) else [])
    if kind == "mps":
        return ["fp32", "fp16"]
    return ["fp32"] + (["bf16"] if config.cpu_has_bf16() else [])


def batch_shape(recipe: Recipe, tiny: bool) -> tuple:
    """The notebook's training batch shape of one model; with ``tiny``, 2 images, and
    segmentation inputs a quarter of the side (fp16 is very slow on CPUs)."""
    if not tiny:
        return (recipe.batch_size, *recipe.image_shape)
    channels, *sides = recipe.image_shape
    return (2, channels, *(side // 4 for side in sides)) if recipe.segmentation else (2, *recipe.image_shape)


def train_rate(recipe: Recipe, fast: config.FastPath, warmup: int, steps: int, tiny: bool = False) -> float:
    """Training samples/s of one notebook model (its recipe's optimizer) on random batches."""
    shape = batch_shape(recipe, tiny)
    model, optimizer, loss_fn = recipe.build(fast)
    scaler = training.make_scaler(fast)
    X, y = recipe.random_batch(fast, shape[0], shape[1:])
    model.train()
    # cuDNN benchmark mode and oneDNN pick their kernels in the warm-up steps
    return shape[0] / seconds_per_step(model, X, y, loss_fn, optimizer, fast, steps, warmup, scaler)


def train_report_cnn(fast: config.FastPath, fashion_dir: Path, fashion_root: Path, tiny: bool) -> dict:
    """The classification notebook's report-CNN recipe, end to end; seconds and test accuracy."""
    fashion = data.load_fashion_mnist(val_size=5 if tiny else 10_000, generator=torch.Generator().manual_seed(0),
                                      root=fashion_root, debian_dir=fashion_dir, download=False)
    recipe = RECIPES["report_cnn"]
    epochs = 1 if tiny else recipe.epochs
    probs, y, history = train_and_predict(recipe, fast, fashion, data.standardize(fashion.X_train),
                                          epochs=epochs)
    return dict(epochs=epochs, precision=fast.precision, train_seconds=round(history["seconds"], 2),
                skipped_steps=history["skipped_steps"], val_accuracy=history["val_acc"][-1],
                test_accuracy=float((probs.argmax(1) == y).float().mean()), train_images=len(fashion.X_train))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--tiny", action="store_true", help="a few steps and one small epoch (tests)")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated precisions to time (default: those the device runs)")
    parser.add_argument("--fashion-dir", default=str(data.DEBIAN_DIR),
                        help="folder of the four Fashion-MNIST *.gz files (default: %(default)s)")
    parser.add_argument("--fashion-root", default=str(config.DATA_DIR),
                        help="where they are decompressed (default: %(default)s)")
    parser.add_argument("--skip-training", action="store_true", help="time the models only")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "gpu.json"))
    args = parser.parse_args(argv)

    try:
        fast = config.pick_fast_path(args.device)
    except (config.PrecisionError, RuntimeError) as err:
        parser.error(str(err))
    precisions = args.precisions.split(",") if args.precisions else supported_precisions(fast)
    unknown = set(precisions) - set(config.PRECISIONS[1:])
    if unknown:
        parser.error(f"--precisions: unknown {', '.join(sorted(unknown))}; choose from fp32, bf16, fp16")
    print(fast.describe(), flush=True)
    warmup, steps = (1, 2) if args.tiny else (15, 60)
    rows = []
    for recipe in RECIPES.values():
        for precision in precisions:
            path = dataclasses.replace(fast, precision=precision)
            rate = train_rate(recipe, path, warmup, steps, args.tiny)
            rows.append(dict(model=recipe.name, precision=precision, batch_shape=list(batch_shape(recipe, args.tiny)),
                             train_samples_per_s=round(rate, 1)))
            print(f"  {recipe.name:<14} {precision:<5} {rate:12,.1f} training samples/s", flush=True)
    result = dict(fast_path=dict(fast.record(), reason=fast.reason), torch=torch.__version__,
                  cuda=torch.version.cuda, throughput=rows, tiny=args.tiny)
    if not args.skip_training:
        result["report_cnn_10_epochs"] = run = train_report_cnn(fast, Path(args.fashion_dir),
                                                                Path(args.fashion_root), args.tiny)
        print(f"report CNN, {run['epochs']} epochs in {fast.precision}: {run['train_seconds']:.1f} s, "
              f"test accuracy {run['test_accuracy']:.2%} ({run['skipped_steps']} steps skipped by the scaler)")
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
