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
import json
import time
from pathlib import Path

import torch
from torch import nn

from common import NOTEBOOK_MODELS
from helpers import config, data, models, training
from helpers.files import atomic_write_text


def supported_precisions(fast: config.FastPath) -> list[str]:
    """The precisions worth timing on this device (see the module docstring)."""
    kind = fast.device.type
    if kind == "cuda":
        return ["fp32", "fp16"] + (["bf16"] if fast.capability >= (8, 0) else [])
    if kind == "mps":
        return ["fp32", "fp16"]
    return ["fp32"] + (["bf16"] if config.cpu_has_bf16() else [])


def batch_shapes(name: str, tiny: bool) -> tuple[tuple, tuple]:
    """The notebook's training batch shape and label shape of one model; with ``tiny``,
    2 images and segmentation inputs a quarter of the side (fp16 is very slow on CPUs)."""
    _, batch_shape, _, label_shape = NOTEBOOK_MODELS[name]
    if not tiny:
        return batch_shape, label_shape
    if label_shape:
        label_shape = tuple(side // 4 for side in label_shape)
        return (2, batch_shape[1], *label_shape), label_shape
    return (2, *batch_shape[1:]), label_shape


def train_rate(name: str, fast: config.FastPath, warmup: int, steps: int, tiny: bool = False) -> float:
    """Training samples/s of one notebook model on random batches of its notebook shape."""
    cls_name, _, n_classes, _ = NOTEBOOK_MODELS[name]
    batch_shape, label_shape = batch_shapes(name, tiny)
    torch.manual_seed(0)
    model = training.prepare_model(getattr(models, cls_name)(), fast)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fast.fused_optimizer or None)
    scaler = training.make_scaler(fast)
    loss_fn = nn.CrossEntropyLoss()
    X = training.to_device(torch.randn(batch_shape), fast)
    y = torch.randint(0, n_classes, (batch_shape[0], *label_shape)).to(fast.device)
    model.train()
    for _ in range(warmup):  # cuDNN benchmark mode and oneDNN pick their kernels here
        training.train_step(model, X, y, loss_fn, optimizer, fast, scaler)
    training.synchronize(fast.device)
    start = time.perf_counter()
    for _ in range(steps):
        training.train_step(model, X, y, loss_fn, optimizer, fast, scaler)
    training.synchronize(fast.device)
    return steps * batch_shape[0] / (time.perf_counter() - start)


def train_report_cnn(fast: config.FastPath, fashion_dir: Path, fashion_root: Path, tiny: bool) -> dict:
    """The classification notebook's report-CNN recipe, end to end; seconds and test accuracy."""
    generator = config.seed_everything(0)
    fashion = data.load_fashion_mnist(val_size=5 if tiny else 10_000, generator=generator, root=fashion_root,
                                      debian_dir=fashion_dir, download=False)
    epochs = 1 if tiny else 10
    normalize = data.standardize(fashion.X_train)
    loader = data.TensorBatches(fashion.X_train, fashion.y_train, 64, shuffle=True, generator=generator,
                                device=fast.device, transform=normalize)
    val = data.TensorBatches(fashion.X_val, fashion.y_val, data.EVAL_BATCH, device=fast.device, transform=normalize)
    test = data.TensorBatches(fashion.X_test, fashion.y_test, data.EVAL_BATCH, device=fast.device,
                              transform=normalize)
    model = training.prepare_model(models.ReportCNN(), fast)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fast.fused_optimizer)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    history = training.train(model, loader, val, nn.CrossEntropyLoss(), optimizer, epochs, fast,
                             evals_per_epoch=4, scheduler=scheduler, progress=False)
    probs, y = training.predict(model, test, fast)
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
    for name in NOTEBOOK_MODELS:
        for precision in precisions:
            path = dataclasses.replace(fast, precision=precision)
            rate = train_rate(name, path, warmup, steps, args.tiny)
            rows.append(dict(model=name, precision=precision, batch_shape=list(batch_shapes(name, args.tiny)[0]),
                             train_samples_per_s=round(rate, 1)))
            print(f"  {name:<14} {precision:<5} {rate:12,.1f} training samples/s", flush=True)
    result = dict(fast_path=dict(fast.record(), reason=fast.reason), torch=torch.__version__,
                  cuda=torch.version.cuda, throughput=rows, tiny=args.tiny)
    if not args.skip_training:
        result["report_cnn_10_epochs"] = run = train_report_cnn(fast, Path(args.fashion_dir),
                                                                Path(args.fashion_root), args.tiny)
        print(f"report CNN, {run['epochs']} epochs in {fast.precision}: {run['train_seconds']:.1f} s, "
              f"test accuracy {run['test_accuracy']:.2%} ({run['skipped_steps']} steps skipped by the scaler)")
    out = atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
