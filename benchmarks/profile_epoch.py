"""Where does an epoch's time go? Input, forward, backward, optimizer, evaluation.

Times each phase of training batches with ``time.perf_counter`` (synchronising CUDA
between phases), for the report's two models, in three set-ups: the standard
per-sample ``DataLoader`` in fp32, the in-memory pipeline in fp32, and the fast path
(in-memory, bf16 autocast where supported, ``channels_last``). Prints seconds per
phase scaled to one full epoch, and the share of each phase.

    python benchmarks/profile_epoch.py            # about 2 minutes on 2 cores
    python benchmarks/profile_epoch.py --batches 5
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision.datasets import FashionMNIST
from torchvision.transforms import ToTensor

from common import FacadeFiles, add_precision_argument, pick_fast_path
from helpers import config, data, facades, training
from helpers.models import ReportCNN, ReportSegNet


PHASES = ("input", "forward", "backward", "optimizer", "evaluation")


def profile(model_fn, loader, eval_loader, fast: config.FastPath, batches, epoch_size):
    """Seconds per phase, scaled to one epoch of ``epoch_size`` samples.

    The step is ``training.train_step`` cut into its phases, with the device synchronised
    and the clock read between them (a copy by design: the real step runs its phases
    back to back). fp16 with its gradient scaler is not split here.
    """
    if fast.grad_scaling:
        raise ValueError("profile_epoch.py splits the plain step; run it with --precision bf16 or fp32")
    device, precision = fast.device, fast.precision
    torch.manual_seed(0)
    model = training.prepare_model(model_fn(), fast)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fast.fused_optimizer or None)
    loss_fn = nn.CrossEntropyLoss()
    spent = dict.fromkeys(PHASES, 0.0)
    it, seen = iter(loader), 0
    model.train()
    for i in range(batches + 2):  # the first 2 batches warm up
        t0 = time.perf_counter()
        X, y = next(it)
        X, y = training.to_device(X, fast), y.to(device)
        training.synchronize(device)
        t1 = time.perf_counter()
        with training.autocast(device, precision):
            scores = model(X)
        loss = loss_fn(scores.float(), y)
        training.synchronize(device)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        training.synchronize(device)
        t3 = time.perf_counter()
        optimizer.step()
        training.synchronize(device)
        t4 = time.perf_counter()
        if i >= 2:
            seen += len(X)
            for phase, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                spent[phase] += dt
    scale = epoch_size / seen
    spent = {k: v * scale for k, v in spent.items()}
    start = time.perf_counter()
    training.evaluate(model, eval_loader, loss_fn, fast)
    spent["evaluation"] = time.perf_counter() - start
    return spent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=None, help="training batches timed per set-up")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "profile.json"))
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    rows = []
    fast = pick_fast_path(parser, args.precision)
    device, plain = fast.device, config.plain_path(fast.device)
    unfused = dataclasses.replace(fast, fused_optimizer=False)
    fast_label = f"in-memory {fast.precision}{' + channels_last' if fast.channels_last else ''}"
    g = config.seed_everything(0)
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}\n")

    fashion = data.load_fashion_mnist(generator=g)
    root = data.fashion_mnist_raw()
    cnn_setups = {
        "DataLoader fp32": (DataLoader(FashionMNIST(root, transform=ToTensor()), batch_size=64, shuffle=True,
                                       num_workers=2), plain),
        "in-memory fp32": (data.TensorBatches(fashion.X_train, fashion.y_train, 64, shuffle=True,
                                              device=device), plain),
        fast_label + (" + fused Adam" if fast.fused_optimizer else ""):
            (data.TensorBatches(fashion.X_train, fashion.y_train, 64, shuffle=True, device=device), fast),
    }
    cnn_eval = data.TensorBatches(fashion.X_val, fashion.y_val, data.EVAL_BATCH, device=device)

    fac = facades.load_facades()
    seg_setups = {
        "DataLoader fp32": (DataLoader(FacadeFiles(fac.root / "train", limit=800), batch_size=8, shuffle=True,
                                       num_workers=2), plain),
        "in-memory fp32": (data.TensorBatches(fac.X_train, fac.y_train, 8, shuffle=True, device=device,
                                              transform=facades.scale_photos), plain),
        fast_label: (data.TensorBatches(fac.X_train, fac.y_train, 8, shuffle=True, device=device,
                                        transform=facades.scale_photos), unfused),
    }
    seg_eval = data.TensorBatches(fac.X_val, fac.y_val, facades.EVAL_BATCH, device=device,
                                 transform=facades.scale_photos)

    for name, model_fn, setups, eval_loader, epoch_size, batches in (
            ("report CNN, one epoch of 50,000 images + validation of 10,000", ReportCNN, cnn_setups,
             cnn_eval, len(fashion.X_train), args.batches or 300),
            ("report segmentation net, one epoch of 800 photos + validation of 106", ReportSegNet, seg_setups,
             seg_eval, len(fac.X_train), args.batches or 25)):
        print(name)
        width = max(map(len, setups)) + 2
        print(f"  {'set-up':<{width}}" + "".join(f"{p:>12}" for p in PHASES) + f"{'total':>10}")
        for label, (loader, path) in setups.items():
            spent = profile(model_fn, loader, eval_loader, path, batches, epoch_size)
            total = sum(spent.values())
            rows.append(dict(model=model_fn.__name__, setup=label, seconds={k: round(v, 2) for k, v in spent.items()},
                             total_seconds=round(total, 2), epoch_size=epoch_size))
            print(f"  {label:<{width}}" + "".join(f"{spent[p]:7.1f} s{100 * spent[p] / total:3.0f}%" for p in PHASES)
                  + f"{total:8.1f} s", flush=True)
        print()
    Path(args.out).write_text(json.dumps(dict(rows=rows, **fast.record(), threads=torch.get_num_threads(),
                                              torch=torch.__version__), indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
