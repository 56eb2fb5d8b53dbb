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
import time

import torch
from torch.utils.data import DataLoader
from torchvision.datasets import FashionMNIST
from torchvision.transforms import Compose, Normalize, ToTensor

from common import RECIPES, FacadeFiles, Recipe, add_precision_argument, pick_fast_path, write_json
from helpers import config, data, facades, training


PHASES = ("input", "forward", "backward", "optimizer", "evaluation")


def timed_step(model, X, y, loss_fn, optimizer, fast: config.FastPath) -> list[float]:
    """``training.train_step`` (the plain one, without a gradient scaler) cut into its
    phases, with the device synchronised and the clock read between them: seconds of
    forward (with the loss), backward and optimizer. A copy by design, since the real
    step runs its phases back to back; ``tests/test_benchmarks.py`` checks that it
    updates the weights exactly as ``train_step`` does."""
    t0 = time.perf_counter()
    with training.autocast(fast.device, fast.precision):
        scores = model(X)
    loss = loss_fn(scores.float(), y)
    training.synchronize(fast.device)
    t1 = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    training.synchronize(fast.device)
    t2 = time.perf_counter()
    optimizer.step()
    training.synchronize(fast.device)
    return [t1 - t0, t2 - t1, time.perf_counter() - t2]


def profile(recipe: Recipe, loader, eval_loader, fast: config.FastPath, batches, epoch_size):
    """Seconds per phase of the notebook recipe, scaled to one epoch of ``epoch_size`` samples."""
    if fast.grad_scaling:
        raise ValueError("profile_epoch.py splits the plain step; run it with --precision bf16 or fp32")
    model, optimizer, loss_fn = recipe.build(fast)
    spent = dict.fromkeys(PHASES, 0.0)
    it, seen = iter(loader), 0
    model.train()
    for i in range(batches + 2):  # the first 2 batches warm up
        t0 = time.perf_counter()
        X, y = next(it)
        X, y = training.to_device(X, fast), y.to(fast.device)
        training.synchronize(fast.device)
        times = [time.perf_counter() - t0] + timed_step(model, X, y, loss_fn, optimizer, fast)
        if i >= 2:
            seen += len(X)
            for phase, dt in zip(PHASES, times):
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
    fast_label = f"in-memory {fast.precision}{' + channels_last' if fast.channels_last else ''}"
    print(f"{fast.describe()}; {torch.get_num_threads()} threads, torch {torch.__version__}\n")

    cnn, segnet = RECIPES["report_cnn"], RECIPES["report_segnet"]
    fashion = data.load_fashion_mnist(generator=torch.Generator().manual_seed(0))
    root = data.fashion_mnist_raw()
    normalize = data.standardize(fashion.X_train)  # as the notebook; the DataLoader does it per image
    per_image = Compose([ToTensor(), Normalize((normalize.mean,), (normalize.std,))])
    in_memory = data.TensorBatches(fashion.X_train, fashion.y_train, cnn.batch_size, shuffle=True, device=device,
                                   transform=normalize)
    cnn_setups = {
        "DataLoader fp32": (DataLoader(FashionMNIST(root, transform=per_image), batch_size=cnn.batch_size,
                                       shuffle=True, num_workers=2), plain),
        "in-memory fp32": (in_memory, plain),
        fast_label + (" + fused Adam" if cnn.fast_path(fast).fused_optimizer else ""): (in_memory, fast),
    }
    cnn_eval = data.TensorBatches(fashion.X_val, fashion.y_val, cnn.eval_batch, device=device, transform=normalize)

    fac = facades.load_facades()
    in_memory = data.TensorBatches(fac.X_train, fac.y_train, segnet.batch_size, shuffle=True, device=device,
                                   transform=facades.scale_photos)
    seg_setups = {
        "DataLoader fp32": (DataLoader(FacadeFiles(fac.root / "train", limit=len(fac.X_train)),
                                       batch_size=segnet.batch_size, shuffle=True, num_workers=2), plain),
        "in-memory fp32": (in_memory, plain),
        fast_label: (in_memory, fast),
    }
    seg_eval = data.TensorBatches(fac.X_val, fac.y_val, segnet.eval_batch, device=device,
                                  transform=facades.scale_photos)

    for name, recipe, setups, eval_loader, epoch_size, batches in (
            ("report CNN, one epoch of 50,000 images + validation of 10,000", cnn, cnn_setups,
             cnn_eval, len(fashion.X_train), args.batches or 300),
            (f"report segmentation net, one epoch of {len(fac.X_train)} photos + validation of {len(fac.X_val)}",
             segnet, seg_setups,
             seg_eval, len(fac.X_train), args.batches or 25)):
        print(name)
        width = max(map(len, setups)) + 2
        print(f"  {'set-up':<{width}}" + "".join(f"{p:>12}" for p in PHASES) + f"{'total':>10}")
        for label, (loader, path) in setups.items():
            spent = profile(recipe, loader, eval_loader, recipe.fast_path(path), batches, epoch_size)
            total = sum(spent.values())
            rows.append(dict(model=recipe.model, setup=label, seconds={k: round(v, 2) for k, v in spent.items()},
                             total_seconds=round(total, 2), epoch_size=epoch_size))
            print(f"  {label:<{width}}" + "".join(f"{spent[p]:7.1f} s{100 * spent[p] / total:3.0f}%" for p in PHASES)
                  + f"{total:8.1f} s", flush=True)
        print()
    write_json(args.out, dict(rows=rows, **fast.record(), threads=torch.get_num_threads(), torch=torch.__version__))


if __name__ == "__main__":
    main()
