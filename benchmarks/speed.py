"""Training and evaluation throughput of the report's two models, per pipeline and precision.

Measured in one run, same model, Adam, batch size and thread count:

- ``dataloader``: the standard pipeline, a ``DataLoader`` with a per-sample transform
  and 2 worker processes (Fashion-MNIST: ``FashionMNIST(transform=ToTensor())``;
  facades: JPEG/PNG decoded per sample), fp32;
- ``in-memory``: the whole set held as tensors, shuffled batches sliced from it
  (``helpers.data.TensorBatches``), in fp32, and in the fast path the notebooks use:
  bf16 autocast (where supported) + ``channels_last``, and for the CNN a fused Adam
  step (where the device has one).

The set-ups of a model take turns in rounds and each figure is the median over the
rounds (``measure``), so a machine whose speed drifts during the run moves all of
them alike; the speed-up is the ratio of the medians, and its range over the rounds
(round i of one set-up against round i of the baseline) shows how much it moves. Two
ablation rows take one lever away from the CNN's fast path (ReLU before max-pooling,
as the report orders them; Adam unfused). Prints a table and the speed-ups, and
writes ``benchmarks/results.json``.

    python benchmarks/speed.py            # full measurement (about 5 minutes on 2 cores)
    python benchmarks/speed.py --tiny     # a few batches, to check that it runs
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.datasets import FashionMNIST
from torchvision.transforms import Compose, Normalize, ToTensor

from common import RECIPES, FacadeFiles, Recipe, add_precision_argument, pick_fast_path, write_json
from helpers import config, data, facades, training


class Setup:
    """One model trained through one pipeline in one precision; trains in chunks so that
    all set-ups of a model can take turns (see ``measure``)."""

    def __init__(self, recipe: Recipe, loader, eval_loader, fast: config.FastPath, model_kw=None):
        self.model, self.optimizer, self.loss_fn = recipe.build(fast, **(model_kw or {}))
        self.scaler = training.make_scaler(fast)
        self.loader, self.eval_loader, self.batches = loader, eval_loader, iter(loader)
        self.eval_size = sum(len(y) for _, y in eval_loader)  # one pass, not one per evaluation
        self.fast = fast

    def _next(self):
        try:
            return next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            return next(self.batches)

    def train(self, n_batches):
        """Train ``n_batches`` batches (input pipeline included); return samples/s."""
        self.model.train()
        seen = 0
        training.synchronize(self.fast.device)
        start = time.perf_counter()
        for _ in range(n_batches):
            X, y = self._next()
            X, y = training.to_device(X, self.fast), y.to(self.fast.device)
            training.train_step(self.model, X, y, self.loss_fn, self.optimizer, self.fast, self.scaler)
            seen += len(X)
        training.synchronize(self.fast.device)
        return seen / (time.perf_counter() - start)

    def evaluate(self):
        """One pass over the evaluation set; return samples/s."""
        training.synchronize(self.fast.device)
        start = time.perf_counter()
        training.evaluate(self.model, self.eval_loader, self.loss_fn, self.fast)
        training.synchronize(self.fast.device)
        return self.eval_size / (time.perf_counter() - start)


def measure(setups, rounds, batches_per_round, eval_rounds):
    """Samples/s of each set-up in each round: ``[(train_rates, eval_rates), ...]``.

    The set-ups take turns: round after round, each trains ``batches_per_round`` batches
    (after a warm-up chunk), then each evaluates. On a shared or throttling machine the
    speed drifts during a run; taking turns exposes every set-up to the same drift, so
    the ratios hold even when the absolute figures move.
    """
    for setup in setups:
        setup.train(3)
        setup.evaluate()
    train = [[] for _ in setups]
    for _ in range(rounds):
        for rates, setup in zip(train, setups):
            rates.append(setup.train(batches_per_round))
    evals = [[] for _ in setups]
    for _ in range(eval_rounds):
        for rates, setup in zip(evals, setups):
            rates.append(setup.evaluate())
    return list(zip(train, evals))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="a few batches only (tests)")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--fashion-root", default=str(config.DATA_DIR))
    parser.add_argument("--debian-dir", default=str(data.DEBIAN_DIR))
    parser.add_argument("--facades-dir", default=None, help="default: $FACADES_DIR, then data/facades")
    parser.add_argument("--models", default="cnn,segnet")
    add_precision_argument(parser)
    args = parser.parse_args(argv)

    fast = pick_fast_path(parser, args.precision)
    device = fast.device
    plain = config.plain_path(device)
    threads = torch.get_num_threads()
    generator = config.seed_everything(0)
    rows = []

    def add(model, pipeline, path, train_rates, eval_rates, ablation=None):
        precision, channels_last, fused_optimizer = path.precision, path.channels_last, path.fused_optimizer
        for phase, rates in (("train", train_rates), ("eval", eval_rates)):
            rows.append(dict(model=model, pipeline=pipeline, precision=precision,
                             channels_last=channels_last, fused_optimizer=fused_optimizer, phase=phase,
                             samples_per_s=round(float(np.median(rates)), 2),
                             round_samples_per_s=[round(r, 1) for r in rates],
                             **({"ablation": ablation} if ablation else {})))
        train_rate, eval_rate = np.median(train_rates), np.median(eval_rates)
        print(f"{model:<13} {pipeline:<11} {precision:<5} channels_last={channels_last!s:<5} "
              f"fused={fused_optimizer!s:<5} train {train_rate:9.1f}/s  eval {eval_rate:9.1f}/s"
              f"{f'  (ablation: {ablation})' if ablation else ''}", flush=True)

    def run_model(recipe, setups, schedule):
        """Measure the set-ups of one notebook recipe, each ``(pipeline, fast path, model
        keywords, loader, eval_loader, ablation)``, and add their rows."""
        # a fused step only where the notebook asks for one (the report CNN)
        setups = [(pipeline, recipe.fast_path(path), kw, loader, ev, ablation)
                  for pipeline, path, kw, loader, ev, ablation in setups]
        rates = measure([Setup(recipe, loader, ev, path, kw) for _, path, kw, loader, ev, _ in setups], *schedule)
        for (pipeline, path, _, _, _, ablation), (train_rates, eval_rates) in zip(setups, rates):
            add(recipe.name, pipeline, path, train_rates, eval_rates, ablation)

    if "cnn" in args.models:
        root = data.fashion_mnist_raw(args.fashion_root, args.debian_dir)
        fashion = data.load_fashion_mnist(root=root, debian_dir=args.debian_dir, generator=generator,
                                          val_size=5 if args.tiny else 10_000)
        recipe = RECIPES["report_cnn"]
        # the notebook standardises its inputs; the standard pipeline does it per image
        normalize = data.standardize(fashion.X_train)
        per_image = Compose([ToTensor(), Normalize((normalize.mean,), (normalize.std,))])
        standard = DataLoader(FashionMNIST(root, train=True, transform=per_image), batch_size=recipe.batch_size,
                              shuffle=True, num_workers=2, persistent_workers=True)
        standard_eval = DataLoader(FashionMNIST(root, train=False, transform=per_image),
                                   batch_size=recipe.eval_batch, num_workers=2)
        memory = data.TensorBatches(fashion.X_train, fashion.y_train, recipe.batch_size, shuffle=True,
                                    generator=generator, device=device, transform=normalize)
        memory_eval = data.TensorBatches(fashion.X_test, fashion.y_test, recipe.eval_batch, device=device,
                                         transform=normalize)
        if args.tiny:
            standard_eval = [b for _, b in zip(range(1), standard_eval)]
            memory_eval = [b for _, b in zip(range(1), memory_eval)]
        setups = [("dataloader", plain, None, standard, standard_eval, None),
                  ("in-memory", plain, None, memory, memory_eval, None),
                  ("in-memory", fast, None, memory, memory_eval, None),
                  # ablations: the fast path less one lever
                  ("in-memory", fast, dict(pool_first=False), memory, memory_eval, "ReLU before pool"),
                  ("in-memory", dataclasses.replace(fast, fused_optimizer=False), None, memory, memory_eval,
                   "unfused Adam")]
        if not fast.fused_optimizer:  # nothing to take away
            setups.pop()
        run_model(recipe, setups, (2, 2, 1) if args.tiny else (8, 100, 3))

    if "segnet" in args.models:
        root = facades.find_facades_dir(args.facades_dir)
        limit = 16 if args.tiny else None
        fac = facades.load_facades(root, limit=limit)
        train_dir = root / "train"
        recipe = RECIPES["report_segnet"]
        standard = DataLoader(FacadeFiles(train_dir, limit=len(fac.X_train)), batch_size=recipe.batch_size,
                              shuffle=True, num_workers=2, persistent_workers=True)
        standard_eval = DataLoader(FacadeFiles(root / "test_dev", limit), batch_size=recipe.eval_batch,
                                   num_workers=2)
        memory = data.TensorBatches(fac.X_train, fac.y_train, recipe.batch_size, shuffle=True, generator=generator,
                                    device=device, transform=facades.scale_photos)
        memory_eval = data.TensorBatches(fac.X_test, fac.y_test, recipe.eval_batch, device=device,
                                         transform=facades.scale_photos)
        # the notebook's recipe asks for no fused Adam (its optimizer step is a negligible share)
        setups = [("dataloader", plain, None, standard, standard_eval, None),
                  ("in-memory", plain, None, memory, memory_eval, None),
                  ("in-memory", fast, None, memory, memory_eval, None)]
        run_model(recipe, setups, (2, 1, 1) if args.tiny else (5, 8, 2))

    print("\nspeed-up against the standard fp32 DataLoader of the same model:")
    for row in rows:
        base = next(r for r in rows if r["model"] == row["model"] and r["phase"] == row["phase"]
                    and r["pipeline"] == "dataloader")
        row["speedup_vs_dataloader_fp32"] = round(row["samples_per_s"] / base["samples_per_s"], 2)
        # round i of every set-up of a model ran back to back: compare them round by round
        per_round = [a / b for a, b in zip(row["round_samples_per_s"], base["round_samples_per_s"])]
        row["speedup_range_over_rounds"] = [round(min(per_round), 2), round(max(per_round), 2)]
        if row["pipeline"] != "dataloader":
            print(f"  {row['model']:<13} {row['phase']:<5} {row['pipeline']} {row['precision']}"
                  f"{' + channels_last' if row['channels_last'] else ''}"
                  f"{' + fused Adam' if row['fused_optimizer'] else ''}"
                  f"{' (ablation: ' + row['ablation'] + ')' if 'ablation' in row else ''}: "
                  f"{row['speedup_vs_dataloader_fp32']:.2f}x (rounds: {row['speedup_range_over_rounds'][0]:.2f}x"
                  f" to {row['speedup_range_over_rounds'][1]:.2f}x)")
    result = dict(rows=rows, **fast.record(), cpu=config.cpu_name(), cores=torch.multiprocessing.cpu_count(),
                  threads=threads, torch=torch.__version__, tiny=args.tiny)
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
