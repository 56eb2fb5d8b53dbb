"""Training and evaluation throughput of the report's two models, per pipeline and precision.

Measured in one run, same model, optimizer (Adam), batch size and thread count:

- ``dataloader``: the standard pipeline, a ``DataLoader`` with a per-sample transform
  and 2 worker processes (Fashion-MNIST: ``FashionMNIST(transform=ToTensor())``;
  facades: JPEG/PNG decoded per sample), fp32;
- ``in-memory``: the whole set held as tensors, shuffled batches sliced from it
  (``helpers.data.TensorBatches``), in fp32, and in the fast path the notebooks use:
  bf16 autocast (where supported) + ``channels_last``.

Prints a table and the speed-ups, and writes ``benchmarks/results.json``.

    python benchmarks/speed.py            # full measurement (about 5 minutes on 2 cores)
    python benchmarks/speed.py --tiny     # a few batches, to check that it runs
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import FashionMNIST
from torchvision.transforms import ToTensor

from helpers import config, data, facades, training
from helpers.models import ReportCNN, ReportSegNet


class FacadeFiles(Dataset):
    """Facade photos decoded from disk one at a time: the standard per-sample pipeline."""

    def __init__(self, folder: Path, limit: int | None = None):
        self.photos = sorted(Path(folder).glob("*.jpg"))[:limit]

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, i):
        photo, label = facades.read_pair(self.photos[i], self.photos[i].with_suffix(".png"))
        X = torch.from_numpy(photo).permute(2, 0, 1).float().div_(128).sub_(1)
        return X, torch.from_numpy(label.astype(np.int64))


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(model_fn, loader, device, precision, channels_last, max_batches, eval_loader):
    """Samples/s of training (``max_batches`` batches after 3 warm-up batches) and of
    evaluation (one pass over ``eval_loader``)."""
    torch.manual_seed(0)
    model = training.prepare_model(model_fn(), device, channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    warmup, seen, start = 3, 0, None
    batches = iter(loader)
    for i in range(warmup + max_batches):
        try:
            X, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            X, y = next(batches)
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        X, y = training.to_device(X, device, channels_last), y.to(device)
        with training.autocast(device, precision):
            scores = model(X)
        loss = loss_fn(scores.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= warmup:
            seen += len(X)
    _sync(device)
    train_rate = seen / (time.perf_counter() - start)
    training.evaluate(model, eval_loader, loss_fn, device, precision, channels_last)  # warm-up
    _sync(device)
    start = time.perf_counter()
    training.evaluate(model, eval_loader, loss_fn, device, precision, channels_last)
    _sync(device)
    eval_rate = sum(len(X) for X, _ in eval_loader) / (time.perf_counter() - start)
    return train_rate, eval_rate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few batches only (tests)")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--fashion-root", default=str(config.DATA_DIR))
    parser.add_argument("--debian-dir", default=str(data.DEBIAN_DIR))
    parser.add_argument("--facades-dir", default=None, help="default: $FACADES_DIR, then data/facades")
    parser.add_argument("--models", default="cnn,segnet")
    args = parser.parse_args(argv)

    device = config.try_device()
    fast = config.pick_precision(device, "auto")
    fast_cl = training.use_channels_last(device)
    threads = torch.get_num_threads()
    generator = config.seed_everything(0)
    rows = []

    def add(model, pipeline, precision, channels_last, train_rate, eval_rate):
        for phase, rate in (("train", train_rate), ("eval", eval_rate)):
            rows.append(dict(model=model, pipeline=pipeline, precision=precision,
                             channels_last=channels_last, phase=phase, samples_per_s=round(rate, 2)))
        print(f"{model:<13} {pipeline:<11} {precision:<5} channels_last={channels_last!s:<5} "
              f"train {train_rate:9.1f}/s  eval {eval_rate:9.1f}/s", flush=True)

    if "cnn" in args.models:
        root = data.fashion_mnist_raw(args.fashion_root, args.debian_dir)
        fashion = data.load_fashion_mnist(root=root, debian_dir=args.debian_dir, generator=generator,
                                          val_size=5 if args.tiny else 10_000)
        n_batches = 5 if args.tiny else 800
        standard = DataLoader(FashionMNIST(root, train=True, transform=ToTensor()), batch_size=64,
                              shuffle=True, num_workers=2, persistent_workers=True)
        standard_eval = DataLoader(FashionMNIST(root, train=False, transform=ToTensor()),
                                   batch_size=1000, num_workers=2)
        memory = data.TensorBatches(fashion.X_train, fashion.y_train, 64, shuffle=True,
                                    generator=generator, device=device)
        memory_eval = data.TensorBatches(fashion.X_test, fashion.y_test, 1000, device=device)
        if args.tiny:
            standard_eval = [b for _, b in zip(range(1), standard_eval)]
            memory_eval = [b for _, b in zip(range(1), memory_eval)]
        add("report_cnn", "dataloader", "fp32", False,
            *measure(ReportCNN, standard, device, "fp32", False, n_batches, standard_eval))
        add("report_cnn", "in-memory", "fp32", False,
            *measure(ReportCNN, memory, device, "fp32", False, n_batches, memory_eval))
        add("report_cnn", "in-memory", fast, fast_cl,
            *measure(ReportCNN, memory, device, fast, fast_cl, n_batches, memory_eval))

    if "segnet" in args.models:
        root = facades.find_facades_dir(args.facades_dir)
        limit = 16 if args.tiny else None
        fac = facades.load_facades(root, limit=limit)
        n_batches = 2 if args.tiny else 40
        train_dir = root / "train"
        standard = DataLoader(FacadeFiles(train_dir, limit=len(fac.X_train)), batch_size=8,
                              shuffle=True, num_workers=2, persistent_workers=True)
        standard_eval = DataLoader(FacadeFiles(root / "test_dev", limit), batch_size=16, num_workers=2)
        memory = data.TensorBatches(fac.X_train, fac.y_train, 8, shuffle=True, generator=generator,
                                    device=device, transform=facades.scale_photos)
        memory_eval = data.TensorBatches(fac.X_test, fac.y_test, 16, device=device,
                                         transform=facades.scale_photos)
        add("report_segnet", "dataloader", "fp32", False,
            *measure(ReportSegNet, standard, device, "fp32", False, n_batches, standard_eval))
        add("report_segnet", "in-memory", "fp32", False,
            *measure(ReportSegNet, memory, device, "fp32", False, n_batches, memory_eval))
        add("report_segnet", "in-memory", fast, fast_cl,
            *measure(ReportSegNet, memory, device, fast, fast_cl, n_batches, memory_eval))

    print("\nspeed-up against the standard fp32 DataLoader of the same model:")
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["phase"] == row["phase"]
                    and r["pipeline"] == "dataloader")
        row["speedup_vs_dataloader_fp32"] = round(row["samples_per_s"] / base["samples_per_s"], 2)
        if row["pipeline"] != "dataloader":
            print(f"  {row['model']:<13} {row['phase']:<5} {row['pipeline']} {row['precision']}"
                  f"{' + channels_last' if row['channels_last'] else ''}: "
                  f"{row['speedup_vs_dataloader_fp32']:.2f}x")
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    result = dict(rows=rows, device=str(device), device_name=torch.cuda.get_device_name() if device.type == "cuda" else cpu,
                  cpu=cpu, cores=torch.multiprocessing.cpu_count(), threads=threads,
                  torch=torch.__version__, tiny=args.tiny)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out}")
    return result


if __name__ == "__main__":
    main()
