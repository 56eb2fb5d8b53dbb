"""Which operators take a training step's time? One fast-path step, operator by operator.

``profile_epoch.py`` splits an epoch into input, forward, backward, optimizer and
evaluation; this script looks inside one training step (forward, loss, backward, Adam)
of each report model in the notebooks' fast path (bf16 autocast where supported,
``channels_last``, fused Adam for the CNN where the device has it). It runs the step
under ``torch.profiler`` and adds up each operator's own time ("self" time: not
counting the operators it calls), separately for each set of input shapes, so that,
say, the max-pool of the first block and that of the second are two rows. Each row
shows the shapes of the operator's first two tensor inputs: for a backward operator
the first is the gradient of the layer's output (``convolution_backward`` of the
CNN's second convolution: ``64x64x14x14, 64x32x14x14``), for ``addmm`` the bias.

The input is a random batch of the right shape (the operators' cost does not depend on
the pixel values), so no data set is needed. Times are self CPU time on a CPU and
self device (kernel) time on CUDA; the profiler cannot see MPS kernels, so on MPS the
figures are CPU-side time only. The profiler adds a little overhead to every
operator; the step's wall time without it is printed alongside.

    python benchmarks/profile_ops.py              # about 20 seconds on 2 cores
    python benchmarks/profile_ops.py --steps 3    # quicker, noisier
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from common import Recipe, add_precision_argument, parse_models, pick_fast_path, shapes_text, write_json
from helpers import config, training

STEPS = {"report_cnn": 100, "report_segnet": 8}  # profiled steps per model (default)


def op_profile(recipe: Recipe, steps: int, fast: config.FastPath, top=12):
    """Profile ``steps`` training steps (``training.train_step``) of the notebook recipe;
    return the wall time per step (unprofiled) and the ``top`` operators by self time per
    step, plus the rest."""
    device = fast.device
    model, optimizer, loss_fn = recipe.build(fast)
    scaler = training.make_scaler(fast)
    X, y = recipe.random_batch(fast)

    def step():
        training.train_step(model, X, y, loss_fn, optimizer, fast, scaler)

    for _ in range(max(2, steps // 10)):  # warm-up: oneDNN picks and caches its kernels
        step()
    training.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    training.synchronize(device)
    wall_ms = 1e3 * (time.perf_counter() - start) / steps

    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=True) as prof:
        for _ in range(steps):
            step()
        training.synchronize(device)
    ops = []
    for event in prof.key_averages(group_by_input_shape=True):
        self_us = event.self_device_time_total if cuda else event.self_cpu_time_total
        if self_us > 0 and event.key.startswith("aten::"):
            shapes = [list(s) for s in event.input_shapes or [] if s][:2]  # tensor inputs; scalars are []
            ops.append(dict(op=event.key.removeprefix("aten::"), input_shapes=shapes,
                            calls_per_step=round(event.count / steps, 2), ms_per_step=self_us / 1e3 / steps))
    ops.sort(key=lambda o: -o["ms_per_step"])
    total = sum(o["ms_per_step"] for o in ops)
    if total <= 0:
        raise RuntimeError(f"the profiler recorded no operator time on {device}")
    rest = dict(op="(all other operators)", input_shapes=[], calls_per_step=round(sum(o["calls_per_step"]
                for o in ops[top:]), 2), ms_per_step=sum(o["ms_per_step"] for o in ops[top:]))
    rows = ops[:top] + ([rest] if ops[top:] else [])
    for row in rows:
        row["share"] = round(row["ms_per_step"] / total, 4)
        row["ms_per_step"] = round(row["ms_per_step"], 3)
    return dict(wall_ms_per_step=round(wall_ms, 3), profiled_ms_per_step=round(total, 3), ops=rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="training steps profiled per model")
    parser.add_argument("--models", default=",".join(STEPS), help=f"comma-separated, from {', '.join(STEPS)}")
    parser.add_argument("--top", type=int, default=12, help="operators listed per model (the rest are summed)")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "profile_ops.json"))
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    recipes = parse_models(parser, args.models, tuple(STEPS))
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps={args.steps} must be at least 1")

    fast = pick_fast_path(parser, args.precision)
    print(f"{fast.describe()}; {torch.get_num_threads()} threads, torch {torch.__version__}; "
          "fused Adam for the CNN only, as in the notebooks\n")
    results = {}
    for recipe in recipes:
        name, steps = recipe.name, args.steps or STEPS[recipe.name]
        path = recipe.fast_path(fast)  # the notebooks' recipes: fused Adam for the CNN only
        res = op_profile(recipe, steps, path, args.top)
        batch_shape = (recipe.batch_size, *recipe.image_shape)
        res.update(batch_shape=list(batch_shape), steps=steps, fused_optimizer=path.fused_optimizer)
        results[name] = res
        print(f"{name}, batch {batch_shape}: {res['wall_ms_per_step']:.2f} ms per training step "
              f"({res['profiled_ms_per_step']:.2f} ms of operator time under the profiler)")
        for op in res["ops"]:
            print(f"  {op['ms_per_step']:8.3f} ms {100 * op['share']:5.1f} %  {op['op']:<34} "
                  f"{shapes_text(op['input_shapes'])}")
        print(flush=True)
    out = dict(models=results, **fast.record(), threads=torch.get_num_threads(), torch=torch.__version__)
    write_json(args.out, out)
    return out


if __name__ == "__main__":
    main()
