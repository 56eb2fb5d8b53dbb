"""What keeping freed memory is worth: training steps with and without it, and their page faults.

    python benchmarks/allocator.py              # 5 rounds of 10 steps per model and setting (about 6 minutes)
    python benchmarks/allocator.py --tiny       # 1 round of 1 step (tests)

On the CPU the fast path asks glibc's allocator to keep the memory that tensors free
(``helpers.config.keep_freed_memory``) instead of handing it back to the kernel, so that
each training step reuses the last step's pages rather than faulting in fresh ones. The
setting is process-wide and cannot be undone, so each measurement runs in a fresh
process (``--child``), with ``DLCV_KEEP_MEMORY`` on or off; the rounds alternate which
setting goes first. Each process times every notebook model's training step on random
batches of the recipe's shape (the step's cost does not depend on the pixels) and counts
the minor page faults (``ru_minflt``: a page the process touches for the first time)
per step. Writes ``benchmarks/allocator.json``; ``python benchmarks/tables.py`` renders
its table into the README. Run it alone: the seconds are wall-clock on all cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from common import RECIPES, add_precision_argument, pick_fast_path, seconds_per_step, write_json
from helpers import config

SETTINGS = {"kept": "1", "handed back": "0"}  # DLCV_KEEP_MEMORY for each


def measure(steps: int, precision: str) -> dict:
    """In this process: per model, ms per training step and minor page faults per step."""
    fast = config.pick_fast_path(precision=precision)
    out = dict(keep_memory=fast.keep_memory, device_name=fast.device_name, precision=fast.precision,
               threads=torch.get_num_threads(), models={})
    for name, recipe in RECIPES.items():
        model_fast = recipe.fast_path(fast)
        model, optimizer, loss_fn = recipe.build(model_fast)
        X, y = recipe.random_batch(model_fast)
        # warm-up: the first steps pick kernels and grow the heap (untimed, and their faults not counted)
        seconds_per_step(model, X, y, loss_fn, optimizer, model_fast, 2)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        seconds = seconds_per_step(model, X, y, loss_fn, optimizer, model_fast, steps)
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
        out["models"][name] = dict(ms_per_step=1000 * seconds, faults_per_step=faults, batch_size=recipe.batch_size,
                                   image_shape=list(recipe.image_shape))
        del model, optimizer, X, y
    return out


def run_child(setting: str, steps: int, precision: str) -> dict:
    """One fresh process with ``DLCV_KEEP_MEMORY`` set for ``setting``; its measurement."""
    env = dict(os.environ, DLCV_KEEP_MEMORY=SETTINGS[setting], TQDM_DISABLE="1")
    done = subprocess.run([sys.executable, __file__, "--child", "--steps", str(steps), "--precision", precision],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process ({setting}) failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["keep_memory"] != (setting == "kept"):
        raise RuntimeError(f"DLCV_KEEP_MEMORY={SETTINGS[setting]} gave keep_memory={result['keep_memory']}: "
                           "this platform cannot keep freed memory (Linux with glibc only)")
    return result


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model, setting and round")
    parser.add_argument("--tiny", action="store_true", help="1 round of 1 step (tests)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "allocator.json"))
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error(f"--rounds ({args.rounds}) and --steps ({args.steps}) must be at least 1")
    if args.child:
        print(json.dumps(measure(args.steps, args.precision)))
        return None
    fast = pick_fast_path(parser, args.precision)  # a precision the device cannot run: a usage error, here
    if fast.device.type != "cpu":
        parser.error(f"the allocator setting is for the CPU; this machine's fast path runs on {fast.device.type}")
    rounds, steps = (1, 1) if args.tiny else (args.rounds, args.steps)
    started = time.strftime("%Y-%m-%d %H:%M")
    runs = {setting: [] for setting in SETTINGS}
    for i in range(rounds):
        order = list(SETTINGS) if i % 2 == 0 else list(reversed(SETTINGS))
        for setting in order:
            runs[setting].append(run_child(setting, steps, args.precision))
            print(f"round {i + 1}, freed memory {setting}: "
                  + ", ".join(f"{m} {r['ms_per_step']:.1f} ms" for m, r in runs[setting][-1]["models"].items()),
                  flush=True)
    rows = []
    for name in RECIPES:
        kept = [r["models"][name] for r in runs["kept"]]
        back = [r["models"][name] for r in runs["handed back"]]
        ratios = [k["ms_per_step"] / b["ms_per_step"] for k, b in zip(kept, back)]
        rows.append(dict(model=name, batch_size=kept[0]["batch_size"], image_shape=kept[0]["image_shape"],
                         ms_handed_back=round(float(np.median([b["ms_per_step"] for b in back])), 2),
                         ms_kept=round(float(np.median([k["ms_per_step"] for k in kept])), 2),
                         time_ratio=round(float(np.median(ratios)), 3),
                         time_ratio_range=[round(min(ratios), 3), round(max(ratios), 3)],
                         faults_handed_back=round(float(np.median([b["faults_per_step"] for b in back]))),
                         faults_kept=round(float(np.median([k["faults_per_step"] for k in kept])))))
    first = runs["kept"][0]
    result = dict(device_name=first["device_name"], precision=first["precision"], threads=first["threads"],
                  torch=torch.__version__, rounds=rounds, steps=steps, tiny=args.tiny,
                  started=started, rows=rows)
    print(f"training steps, {result['device_name']}, {result['precision']}, {rounds} rounds of {steps} steps")
    for r in rows:
        print(f"  {r['model']:<14} handed back {r['ms_handed_back']:8.1f} ms ({r['faults_handed_back']:>7,} faults)  "
              f"kept {r['ms_kept']:8.1f} ms ({r['faults_kept']:>7,} faults)  {r['time_ratio']:.2f}x "
              f"({r['time_ratio_range'][0]:.2f} to {r['time_ratio_range'][1]:.2f})")
    write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
