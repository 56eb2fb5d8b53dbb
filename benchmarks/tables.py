"""The benchmarks' tables in benchmarks/README.md, generated from their JSON files.

    python benchmarks/tables.py      # after any benchmark script; `make benchmark` runs it
"""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np

import recipes
from common import HELD_OUT_VARIANT, RECIPES, WORK_IMAGES, shapes_text
from helpers.files import atomic_path
from helpers.results import device_label, replace_blocks

HERE = Path(__file__).resolve().parent
BENCH_START, BENCH_END = "<!-- BENCHMARK:START -->", "<!-- BENCHMARK:END -->"
PROFILE_START, PROFILE_END = "<!-- PROFILE:START -->", "<!-- PROFILE:END -->"
PRECISION_START, PRECISION_END = "<!-- PRECISION:START -->", "<!-- PRECISION:END -->"
OPS_START, OPS_END = "<!-- OPS:START -->", "<!-- OPS:END -->"
EVAL_START, EVAL_END = "<!-- EVALBATCH:START -->", "<!-- EVALBATCH:END -->"
GPU_START, GPU_END = "<!-- GPU:START -->", "<!-- GPU:END -->"
RECIPES_START, RECIPES_END = "<!-- RECIPES:START -->", "<!-- RECIPES:END -->"
STEP_START, STEP_END = "<!-- STEPCOST:START -->", "<!-- STEPCOST:END -->"
TTA_START, TTA_END = "<!-- TTA:START -->", "<!-- TTA:END -->"
ALLOC_START, ALLOC_END = "<!-- ALLOCATOR:START -->", "<!-- ALLOCATOR:END -->"


def _signed(d: float, digits: int) -> str:
    """``d`` with its sign, a change that rounds to zero shown as +0 (not -0.000)."""
    return f"{round(d, digits) + 0.0:+.{digits}f}"


# per model: the metric's name, its format, and the format of a change in it
METRIC = {"strong_cnn": ("accuracy", lambda v: f"{100 * v:.2f} %", lambda d: f"{_signed(100 * d, 2)} pt"),
          "unet": ("mean AP", lambda v: f"{v:.3f}", lambda d: _signed(d, 3))}
# the test score each stronger model aims at (benchmarks/README.md, "The stronger models' recipes")
GOAL = {"strong_cnn": 0.945, "unet": 0.78}
GOAL_MEAN = {"strong_cnn": 0.943}  # the three-seed mean the issue asks for, where it differs


def _bench_json(root: Path | None, name: str) -> dict | None:
    """``<root>/<name>`` (default: this folder), or None if absent."""
    path = (root or HERE) / name
    return json.loads(path.read_text()) if path.exists() else None


def _fast_label(precision: str, channels_last: bool) -> str:
    return f"{precision}{' + channels_last' if channels_last else ''}"


def _range(row: dict) -> str:
    spread = row.get("speedup_range_over_rounds")
    return f"{spread[0]:.2f}-{spread[1]:.2f}x" if spread and row["pipeline"] != "dataloader" else ""


def benchmark_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/results.json`` (written by ``benchmarks/speed.py``)."""
    bench = _bench_json(root, "results.json")
    if not bench:
        return "_No benchmark results yet: run `make benchmark`._"
    lines = [f"Measured by `python benchmarks/speed.py` on {bench['device_name']} ({bench['cores']} cores, "
             f"{bench['threads']} threads), torch {bench['torch']}:", "",
             "| model | pipeline | precision | channels_last | fused Adam | train samples/s | eval samples/s "
             "| train speed-up | range over rounds |",
             "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: |"]
    train = [r for r in bench["rows"] if r["phase"] == "train"]
    for row in train:
        ev = next(r for r in bench["rows"] if r["phase"] == "eval" and all(
            r.get(k) == row.get(k) for k in ("model", "pipeline", "precision", "channels_last",
                                             "fused_optimizer", "ablation")))
        pipeline = row["pipeline"] + (f" (ablation: {row['ablation']})" if row.get("ablation") else "")
        lines.append(f"| {row['model']} | {pipeline} | {row['precision']} | {row['channels_last']} | "
                     f"{row.get('fused_optimizer', False)} | "
                     f"{row['samples_per_s']:,.1f} | {ev['samples_per_s']:,.1f} | "
                     f"{row['speedup_vs_dataloader_fp32']:.2f}x | {_range(row)} |")
    return "\n".join(lines)


def profile_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/profile.json`` (``benchmarks/profile_epoch.py``)."""
    prof = _bench_json(root, "profile.json")
    if not prof:
        return "_No profile yet: run `python benchmarks/profile_epoch.py`._"
    phases = list(prof["rows"][0]["seconds"])
    lines = [f"Seconds per epoch (share of the total), measured by `python benchmarks/profile_epoch.py` "
             f"on {device_label(prof)} ({prof['threads']} threads), torch {prof['torch']}:", "",
             "| model | set-up | " + " | ".join(phases) + " | total |",
             "| --- | --- | " + " | ".join("---:" for _ in phases) + " | ---: |"]
    for row in prof["rows"]:
        total = row["total_seconds"]
        cells = " | ".join(f"{row['seconds'][p]:.1f} s ({100 * row['seconds'][p] / total:.0f} %)" for p in phases)
        lines.append(f"| {row['model']} | {row['setup']} | {cells} | {total:.1f} s |")
    return "\n".join(lines)


def ops_table(root: Path | None = None) -> str:
    """Markdown tables of ``benchmarks/profile_ops.json`` (``benchmarks/profile_ops.py``)."""
    prof = _bench_json(root, "profile_ops.json")
    if not prof:
        return "_No operator profile yet: run `python benchmarks/profile_ops.py`._"
    fast = _fast_label(prof["precision"], prof["channels_last"])
    lines = [f"Measured by `python benchmarks/profile_ops.py` on {device_label(prof)} ({prof['threads']} threads), "
             f"torch {prof['torch']}, fast path ({fast}):"]
    for name, res in prof["models"].items():
        batch = shapes_text([res["batch_shape"]])
        lines += ["", f"{name}, batch {batch}{', fused Adam' if res['fused_optimizer'] else ''}: "
                      f"{res['wall_ms_per_step']:.2f} ms per training step without the profiler; under it, "
                      f"{res['profiled_ms_per_step']:.2f} ms of operators' own time per step (top "
                      f"{len(res['ops']) - 1} and the rest):", "",
                  "| operator | first input shapes | calls | ms per step | share of operator time |",
                  "| --- | --- | ---: | ---: | ---: |"]
        for op in res["ops"]:
            shapes = shapes_text(op["input_shapes"])
            name = op["op"] if op["op"].startswith("(") else f"`{op['op']}`"  # `_fused_adam_` is not italics
            lines.append(f"| {name} | {shapes} | {op['calls_per_step']:g} | {op['ms_per_step']:.2f} | "
                         f"{100 * op['share']:.1f} % |")
    return "\n".join(lines)


def eval_batch_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/eval_batch.json`` (``benchmarks/eval_batch.py``): one
    row per model, evaluation samples/s per batch size, the fastest in bold and the
    notebooks' size marked with a dagger."""
    sweep = _bench_json(root, "eval_batch.json")
    if not sweep:
        return "_No evaluation batch sweep yet: run `python benchmarks/eval_batch.py`._"
    models = list(dict.fromkeys(r["model"] for r in sweep["rows"]))
    fast = _fast_label(sweep["precision"], sweep["channels_last"])
    lines = [f"Measured by `python benchmarks/eval_batch.py` on {device_label(sweep)} ({sweep['threads']} threads), "
             f"torch {sweep['torch']}, {fast}; evaluation samples/s (median of {sweep['rounds']} passes), "
             "fastest in bold, † the size the notebooks use:", ""]
    for model in models:
        rows = [r for r in sweep["rows"] if r["model"] == model]
        cells = []
        for r in rows:
            text = f"{r['batch_size']}{'†' if r.get('notebooks') else ''}: {r['samples_per_s']:,.0f}"
            cells.append(f"**{text}**" if r["best"] else text)
        largest = max(rows, key=lambda r: r["batch_size"])
        ours = next((r for r in rows if r.get("notebooks")), None)
        gain = f"{ours['samples_per_s'] / largest['samples_per_s']:.2f}x" if ours else ""
        lines.append(f"| {model} | {rows[0]['images']:,} | " + " · ".join(cells) + f" | {gain} |")
    head = ["| model | images per pass | batch size: samples/s | notebooks' size vs the largest |",
            "| --- | ---: | --- | ---: |"]
    return "\n".join(lines[:2] + head + lines[2:])


def precision_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/precision_check.json`` (``benchmarks/precision_check.py``)."""
    check = _bench_json(root, "precision_check.json")
    if not check:
        return "_No precision check yet: run `python benchmarks/precision_check.py`._"
    fast = _fast_label(check["fast_precision"], check["fast_channels_last"])
    lines = [f"Measured by `python benchmarks/precision_check.py` on {device_label(check)}, seed 0, full runs:", "",
             f"| model | metric | fp32 | fast path ({fast}) | difference | tolerance | fp32 training | "
             "fast training |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, name, metric, label, scale, fmt, tol in (
            ("cnn", "report CNN", "test_accuracy", "test accuracy", 100, "{:.2f} %", "0.5 points"),
            ("segnet", "report segmentation net", "mean_ap", "mean AP (test)", 1, "{:.3f}", "0.01")):
        if f"{key}_fp32" not in check or f"{key}_fast" not in check:
            continue
        a, b = check[f"{key}_fp32"], check[f"{key}_fast"]
        diff = scale * (b[metric] - a[metric])
        lines.append(f"| {name} | {label} | {fmt.format(scale * a[metric])} | "
                     f"{fmt.format(scale * b[metric])} | {diff:+.{2 if scale == 100 else 3}f} | {tol} | "
                     f"{a['train_seconds']:.0f} s | {b['train_seconds']:.0f} s |")
    return "\n".join(lines)


def gpu_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/gpu.json`` (``benchmarks/gpu_check.py``)."""
    check = _bench_json(root, "gpu.json")
    if not check or check.get("tiny"):
        return "_No GPU run yet: run `python benchmarks/gpu_check.py` on a machine with a GPU._"
    fast = check["fast_path"]
    capability = f", capability {fast['capability']}" if fast.get("capability") else ""
    lines = [f"Measured by `python benchmarks/gpu_check.py` on {device_label(fast)}{capability}, torch {check['torch']}"
             f" (CUDA {check.get('cuda')}); the notebooks pick: {fast['reason']}.", "",
             "| model | training batch | " + " | ".join(f"{p} samples/s" for p in
                                                     dict.fromkeys(r["precision"] for r in check["throughput"])) + " |",
             "| --- | --- |" + " ---: |" * len(dict.fromkeys(r["precision"] for r in check["throughput"]))]
    for model in dict.fromkeys(r["model"] for r in check["throughput"]):
        rows = [r for r in check["throughput"] if r["model"] == model]
        lines.append(f"| {model} | {shapes_text([rows[0]['batch_shape']])} | "
                     + " | ".join(f"{r['train_samples_per_s']:,.0f}" for r in rows) + " |")
    run = check.get("report_cnn_10_epochs")
    if run:
        lines += ["", f"The classification notebook's report CNN, {run['epochs']} epochs in {run['precision']} with "
                      f"the data held on the GPU: {run['train_seconds']:.1f} s of training (evaluation included), "
                      f"test accuracy {100 * run['test_accuracy']:.2f} %, {run['skipped_steps']} steps skipped by "
                      "the gradient scaler."]
    return "\n".join(lines)


def _spread(values, fmt) -> str:
    return f"{fmt(np.mean(values))} ({fmt(min(values))} to {fmt(max(values))})"


def _chosen_val(row: dict) -> float:
    """A recipe run's validation score as it was used: with flip TTA where TTA was kept."""
    return row["val_tta"] if row["flip_tta"] else row["val"]


HELD_OUT = HELD_OUT_VARIANT  # where the notebook trains a final fit, what validation reads


def _measured_variant(rows: list[dict]) -> str:
    """The variant whose validation scores are a model's yardstick: its held-out fit where
    it has one (the final recipe is then a final fit, with no validation score)."""
    return HELD_OUT if any(r["variant"] == HELD_OUT for r in rows) else "final recipe"


def _variant_rank(row: dict, final_epochs: int, measured: str, work: float | None = None,
                  final_fit_work: float | None = None) -> int:
    """Table order: the measured recipe, the levers removed, the choices added, then the
    points beyond the budget (more training arithmetic than the measured recipe's, by
    ``work``, the row's work against it, or else more epochs; a final fit, which trains on
    the validation images too, against the notebook's final fit, ``final_fit_work``); a
    merged file holds its rows in the order they were run."""
    variant = row["variant"]
    final_fit = row.get("val") is None and final_fit_work is not None
    limit = final_fit_work if final_fit else 1.0
    beyond = work > limit + 1e-9 if work is not None else row["epochs"] > final_epochs
    return 0 if variant == measured else 1 if variant.startswith("without ") else 3 if beyond else 2


def _run_name(i: int) -> str:
    """The ``i``-th run's letters, counted as spreadsheet columns are: A to Z, then AA, AB, ..."""
    name = ""
    i += 1
    while i:
        i, rest = divmod(i - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _run_letters(result: dict) -> dict[int, str]:
    """Letters for each run in a merged file's history (``recipes.py --merge``): A, B, ..., Z, AA, ..."""
    return {i: _run_name(i) for i in range(len(result.get("history", [])))}


def _run_of(row: dict, letters: dict[int, str]) -> str:
    return letters.get(row.get("run"), "?")


def _run_cpus(result: dict) -> list[str]:
    """The CPU of each run in a merged file's history (the file's where a run did not record one)."""
    return [h.get("device_name") or result["device_name"] for h in result.get("history", [])]


def _devices_text(result: dict) -> str:
    """The machine the rows were measured on: the file's, or, where the runs of a merged
    file ran on different CPUs, each CPU with its runs' letters."""
    names = _run_cpus(result)
    if len(set(names)) < 2:
        return result["device_name"]
    parts = []
    for name in dict.fromkeys(names):
        spans = []  # consecutive runs on this CPU: [first, last] indices
        for i, n in enumerate(names):
            if n == name:
                if spans and spans[-1][1] == i - 1:
                    spans[-1][1] = i
                else:
                    spans.append([i, i])
        text = ", ".join(_run_name(a) if a == b else f"{_run_name(a)}{' to ' if b > a + 1 else ', '}{_run_name(b)}"
                         for a, b in spans)
        parts.append(f"{name}: run{'s' if len(spans) > 1 or spans[0][1] > spans[0][0] else ''} {text}")
    return f"{len(parts)} CPUs (" + "; ".join(parts) + "), each"


def _history_text(result: dict) -> str:
    """Which run each row of a merged file comes from: times measured in different
    sessions are not comparable, as CPUs differ between them."""
    history = result.get("history", [])
    if len(history) < 2:
        return ""
    letters = _run_letters(result)
    parts = [f"{letters[i]}: {', '.join(h['models'])}, {h['started'] or 'an earlier run (start not recorded)'}"
             for i, h in enumerate(history)]
    return (" The rows come from more than one run (column \"run\"; " + "; ".join(parts) + "; a later run's "
            "rows replace an earlier's): compare training seconds across runs even less, as CPUs differ between "
            "sessions.")


def _works(model: str) -> dict[str, float]:
    """The training run's floating-point operations (:meth:`common.Recipe.training_flops`)
    of each variant ``recipes.py`` plans for ``model``, rebuilt from its recipe; a variant
    it no longer plans is absent."""
    jobs = recipes.planned_jobs([RECIPES[model]], [0], True, True, True)
    return {name: changed.training_flops(*WORK_IMAGES.get(model, (1, 0))) for _, name, changed, _ in jobs}


def _former(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """``(rows of the recipe, rows of the recipe before the flip)``: a model's rows split
    by the variant's prefix ``recipes.BEFORE_FLIP``."""
    split = ([], [])
    for r in rows:
        split[r["variant"].startswith(recipes.BEFORE_FLIP)].append(r)
    return split


def _by_variant(group: list[dict]) -> dict[str, list[dict]]:
    """A model's rows by variant, in table order, each variant's runs by seed."""
    out: dict[str, list[dict]] = {}
    for r in group:
        out.setdefault(r["variant"], []).append(r)
    return {v: sorted(runs, key=lambda x: x["seed"]) for v, runs in out.items()}


def _ratio(work: float | None, base: float | None) -> str:
    return "" if work is None or not base else f"{work / base:.2f}x"


def recipes_table(root: Path | None = None) -> str:
    """Markdown tables of ``benchmarks/recipes.json`` (``benchmarks/recipes.py``): the final
    recipes over their seeds, then the ablations."""
    result = _bench_json(root, "recipes.json")
    if not result or result.get("tiny"):
        return "_No recipe runs yet: run `python benchmarks/recipes.py`._"
    rows = result["rows"]
    letters = _run_letters(result)
    merged = len(letters) > 1
    run_head, run_rule = (" run |", " --- |") if merged else ("", "")
    run_cell = (lambda group: f" {', '.join(_run_of(r, letters) for r in group)} |") if merged else (lambda group: "")
    lines = [f"Measured by `python benchmarks/recipes.py` on {_devices_text(result)} with {result['cores']} cores, "
             f"{result['threads']} threads, {result['precision']}; torch {result['torch']}. Mean over the seeds, "
             "range in brackets; training seconds include the validation passes (a final fit has none). Wall-clock seconds drift "
             "with the machine's load, on a shared virtual machine even within one run: only large "
             "differences in them mean something."
             + ("" if result.get("complete", True) else
                " **Incomplete run**: " + ("not run: " + "; ".join(result["missing"]) + "."
                                           if result.get("missing") else
                                           f"{len(rows)} of the planned runs finished; the rest are missing below."))
             + _history_text(result),
             "",
             "| model | seeds | validation | test | training s | test evaluation s | flip TTA kept |" + run_head,
             "| --- | --- | ---: | ---: | ---: | ---: | --- |" + run_rule]
    for model in dict.fromkeys(r["model"] for r in rows):
        metric, fmt, _ = METRIC[model]
        mine = [r for r in rows if r["model"] == model]
        held_out = _measured_variant(mine) == HELD_OUT
        for variant, name in ((HELD_OUT, f"{model}, held-out fit ({metric}; what validation reads)"),
                              ("final recipe", f"{model}, final fit: the notebook's model ({metric})" if held_out
                               else f"{model} ({metric})")):
            seeds = sorted((r for r in mine if r["variant"] == variant), key=lambda r: r["seed"])
            if not seeds:
                continue
            final_fit = all(r["val"] is None for r in seeds)
            lines.append(f"| {name} | {', '.join(str(r['seed']) for r in seeds)} | "
                         + ("none (trained on it)" if final_fit else _spread([_chosen_val(r) for r in seeds], fmt))
                         + f" | {_spread([r['test'] for r in seeds], fmt)} | "
                         f"{_spread([r['train_seconds'] for r in seeds], lambda v: f'{v:.0f}')} | "
                         f"{np.mean([r['test_eval_seconds'] for r in seeds]):.1f} | "
                         + (("applied (its held-out fits kept it)" if all(r["flip_tta"] for r in seeds)
                             else "not used (its held-out fits decide)") if final_fit
                            else f"{sum(r['flip_tta'] for r in seeds)} of {len(seeds)}")
                         + " |" + run_cell(seeds))
    models_shown = list(dict.fromkeys(r["model"] for r in rows))
    works = {m: _works(m) for m in models_shown}
    measured_of = {m: _measured_variant([r for r in rows if r["model"] == m]) for m in models_shown}
    lines += ["", "Ablations: the recipe that validation reads (seed 0: the final recipe, or its held-out fit "
                  "where the notebook trains a final fit) minus one lever it kept (\"without ...\"), or plus a "
                  "choice that validation turned down or a lever for time (\"with ...\"): the levers removed first, "
                  "then the choices added, and last the points with more work than the recipe, beyond the time "
                  "budget (priced, not chosen: 12 epochs and twice the epochs, the augmentation over 16 epochs, "
                  "the U-Net's fifth level; a final fit is ranked by its work against the notebook's final fit's); "
                  "\"with 80 % of the training images\" (the U-Net's 88 %) is a point on the learning curve (what "
                  "more images are worth), and a row \"as the final fit\" or \"with training + validation "
                  "images\" a final fit, which has no validation score because it trained on those images; "
                  "\"with nothing changed\" trains the recipe that validation reads again on another CPU, a reference for that "
                  "CPU's rows, not a choice. "
                  "Validation is what chose. "
                  "Each row's change is given against the seed-0 run it varies and against the mean of the "
                  "three seeds, as seed 0 need not sit in the middle of their range (a row that rescores the "
                  "seed-0 model has no second comparison: it is the same model). A variant run over several "
                  "seeds shows their mean and range, its change against seed 0 that of its own seed 0. "
                  "\"Mirror kept\": validation chose flip TTA for that run, so its validation and test scores "
                  "are the mirror-averaged ones. \"Work\" is the run's "
                  "training arithmetic (floating-point operations of the forward and backward passes, counted by "
                  "`torch.utils.flop_counter` from the architecture, the image size and the number of images seen) "
                  "against the seed-0 run's: unlike seconds, it does not drift with the machine."
                  + "".join(f" The {m} {variant} trains with {works[m][variant] / 1e12:,.0f} TFLOP."
                            for m, variant in measured_of.items() if m in WORK_IMAGES), "",
              "| model | recipe | validation | validation change vs seed 0 | vs the seeds' mean | test | training s | work |"
              + run_head,
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + run_rule]
    former_rows = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        current, former_rows[model] = _former([r for r in rows if r["model"] == model])
        lines += _ablation_lines(model, current, measured_of[model], works[model], "final recipe", run_cell,
                                 cpu_of=lambda row: _cpu_of(result, row))
    for model, former in former_rows.items():
        if not former:
            continue
        base = [r for r in rows if r["model"] == model and r["variant"] == recipes.BEFORE_FLIP_BASE]
        strip = len(recipes.BEFORE_FLIP)
        view = base + [dict(r, variant=r["variant"][strip:]) for r in former]
        former_works = {v[strip:] if v.startswith(recipes.BEFORE_FLIP) else v: w for v, w in works[model].items()}
        lines += ["", f"The {model}'s recipe before the flip: the rows measured on it (the same recipe without flip "
                      f"augmentation, whose held-out fits are the ablation \"{recipes.BEFORE_FLIP_BASE}\" above and "
                      "turned the mirror down, so that its final fits went without it), kept as a record of that recipe "
                      "(`recipes.py --before-flip` plans these rows again; a row of the same name in the table above, "
                      "where there is one, is the choice measured again on the recipe). Each row's change is given "
                      "against "
                      "those held-out fits (seed 0, and the mean of their seeds); work against theirs, the same as "
                      "the recipe's.", "",
                  "| model | recipe before the flip | validation | validation change vs seed 0 | vs the seeds' mean "
                  "| test | training s | work |" + run_head,
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |" + run_rule]
        lines += _ablation_lines(model, view, recipes.BEFORE_FLIP_BASE, former_works, "final fit", run_cell,
                                 base_name="held-out fit", cpu_of=lambda row: _cpu_of(result, row))
    lines += ["", "![test accuracy and mean AP against training seconds](recipes.png)"]
    return "\n".join(lines)


def _cpu_of(result: dict, row: dict) -> str | None:
    """The CPU of the run a row of a merged file comes from (None for a row without a run)."""
    cpus, run = _run_cpus(result), row.get("run")
    return cpus[run] if isinstance(run, int) and run < len(cpus) else None


def _ablation_lines(model: str, group: list[dict], measured: str, works: dict[str, float], final_fit: str,
                    run_cell, base_name: str | None = None, cpu_of=lambda row: None) -> list[str]:
    """The ablation table's rows of one model: each variant of ``group`` against the seed-0
    run and the seeds' mean of ``measured`` (shown first, as ``base_name`` if given), its
    work against that variant's; ``final_fit`` names the notebook's final fit, whose work
    a final-fit variant is ranked against. A change against a seed 0 that ran on another
    CPU (``cpu_of``) says so: the same seed does not give the same numbers there."""
    _, fmt, change_fmt = METRIC[model]
    lines = []
    base = next((r for r in group if r["variant"] == measured and r["seed"] == 0), None)
    seed_vals = [_chosen_val(r) for r in group if r["variant"] == measured]
    seeds_mean = np.mean(seed_vals) if seed_vals else None
    final_epochs = max((r["epochs"] for r in group if r["variant"] == measured), default=0)
    base_work = works.get(measured)
    ratio = {v: works[v] / base_work for v in works if base_work}
    final_fit_work = ratio.get(final_fit) if measured != final_fit else None
    group = sorted(group, key=lambda r: 0.5 if r["variant"] == final_fit else  # the final fit after its yardstick
                   _variant_rank(r, final_epochs, measured, ratio.get(r["variant"]), final_fit_work))
    for variant, runs in _by_variant(group).items():
        if variant == "final recipe" or (variant == measured and not base_name):  # seeds in the table above
            runs = [base] if variant == measured and base is not None else []  # (with base_name: all shown here)
        if not runs:
            continue
        r = runs[0]
        vals = [_chosen_val(x) for x in runs]
        val = None if None in vals else float(np.mean(vals))
        seed0 = next((x for x in runs if x["seed"] == 0), None)
        change = ("" if base is None or r is base or seed0 is None or _chosen_val(seed0) is None
                  else change_fmt(_chosen_val(seed0) - _chosen_val(base)))
        if change:
            several = len(runs) > 1  # a variant run over several seeds gives its seed 0's change
            notes = (["seed 0's"] if several else []) + (
                ["run on another CPU" if several else "seed 0 ran on another CPU"] if cpu_of(seed0) != cpu_of(base) else [])
            change += f" ({', '.join(notes)})" if notes else ""
        vs_mean = ("" if val is None or seeds_mean is None or r.get("derived_from")  # the same model: seed 0 it is
                   or (variant == measured and len(runs) > 1)  # the seeds' mean itself
                   else change_fmt(val - seeds_mean))
        name = ((base_name if variant == measured and base_name else variant)
                + (" (the seed-0 model, scored without it)" if r.get("derived_from") else ""))
        if len(runs) > 1:  # a variant run over several seeds: mean (range), its seeds named
            name += f", seeds {', '.join(str(x['seed']) for x in runs)}"
            kept = sum(x["flip_tta"] for x in runs)
            shown = (_spread(vals, fmt) + (f" (mirror kept {kept} of {len(runs)})" if kept else "")
                     if val is not None else _trained_on_it(r))
            test, seconds = _spread([x["test"] for x in runs], fmt), f"{np.mean([x['train_seconds'] for x in runs]):.0f}"
        else:
            shown = _trained_on_it(r) if val is None else fmt(val) + (" (mirror kept)" if r["flip_tta"] else "")
            test, seconds = fmt(r["test"]), f"{r['train_seconds']:.0f}"
        lines.append(f"| {model} | {name} | {shown} | {change} | {vs_mean} | {test} | {seconds} | "
                     f"{_ratio(works.get(variant), base_work)} |" + run_cell(runs))
    return lines


def _trained_on_it(row: dict) -> str:
    """The validation cell of a final fit, which trained on the validation images; its test
    score is the mirror-averaged one where its held-out fits kept the mirror."""
    return "none (trained on it; mirror applied)" if row["flip_tta"] else "none (trained on it)"


def _unstack(ax, labels, step: float = 4.0, tries: int = 60) -> None:
    """Move point labels that print over one another: from the top down, each label that
    overlaps one already placed is tried ``step`` points lower, then higher, then two
    steps lower, and so on (it stays beside its point's x; a leader line joins it to its
    point). Only the texts' own boxes count: an annotation's extent also spans its leader
    line, which would push the labels apart for nothing."""
    from matplotlib.text import Text
    renderer = ax.figure.canvas.get_renderer()

    def box(label):
        return Text.get_window_extent(label, renderer).padded(1)

    placed = []
    for label in sorted(labels, key=lambda t: -box(t).y0):
        dx, dy = label.xyann
        for i in range(tries):
            shift = step * ((i + 1) // 2) * (-1 if i % 2 else 1)  # 0, -1, +1, -2, +2 ... steps
            label.xyann = (dx, dy + shift)
            if not any(box(label).overlaps(other) for other in placed):
                break
        placed.append(box(label))


def _range_bar(values, centre):
    """Error-bar lengths [[below], [above]] from `centre` to the ends of `values`. The mean of equal values can
    land a rounding error outside them (the mean of three 0.1s is 0.1 + 1e-17), so the lengths are clipped at 0."""
    return [[max(0.0, centre - min(values))], [max(0.0, max(values) - centre)]]


def _plot_floor(values, reach: float = 3.0) -> float:
    """The lowest value a panel shows: ``reach`` interquartile ranges below the lower
    quartile, so that one far-off point (a lever removed that costs two points) does not
    squash the others into a sliver; the minimum itself where nothing lies that far."""
    q1, q3 = np.percentile(values, [25, 75])
    return float(max(min(values), q1 - reach * (q3 - q1))) if q3 > q1 else float(min(values))


def recipes_plot(root: Path | None = None) -> Path | None:
    """``recipes.png``: each recipe run's test metric against its training seconds."""
    result = _bench_json(root, "recipes.json")
    if not result or result.get("tiny"):
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    models = list(dict.fromkeys(r["model"] for r in result["rows"]))
    letters = _run_letters(result)
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 7.5), squeeze=False)
    all_labels = []  # (axes, its point labels): unstacked once the layout is final
    for ax, model in zip(axes[0], models):
        metric = METRIC[model][0]
        # the recipe's rows (the record of the recipe before the flip is in its table only)
        group, labels = _former([r for r in result["rows"] if r["model"] == model])[0], []
        several_runs = len({r.get("run") for r in group}) > 1
        kinds, labelled = {}, set()  # legend: one entry per kind of point drawn
        floor = _plot_floor([r["test"] for r in group])
        for r in group:
            seed = r["variant"] in ("final recipe", HELD_OUT)
            kind = (("held-out fit's seeds" if r["variant"] == HELD_OUT else "final recipe's seeds") if seed
                    else "variants (+ with, - without)")
            style = dict(marker="o" if seed else "s", zorder=3 if seed else 2,  # seeds drawn on top
                         color="C2" if r["variant"] == HELD_OUT else "C0" if seed else "C1")
            below = r["test"] < floor  # drawn on the axis's bottom edge, pointing down, its value in its label
            if below:
                style["marker"] = "v"
            kinds[kind] = ax.scatter(r["train_seconds"], max(r["test"], floor), **style)
            if seed or r["variant"] in labelled:
                continue  # the seeds are in the legend and the table; labels for them crowd the variants'
            labelled.add(r["variant"])  # a variant run over several seeds is labelled once
            label = re.sub(r" \(.*\)", "", r["variant"]).replace("without ", "- ").replace("with ", "+ ")
            runs = [x for x in group if x["variant"] == r["variant"]]
            at = (r["train_seconds"], max(r["test"], floor))
            if below:
                label += f" ({METRIC[model][1](r['test'])}, below the axis)"
            if len(runs) > 1:  # labelled at the seeds' mean, with bars over their range
                label += f" ({len(runs)} seeds)"
                xs, ys = [x["train_seconds"] for x in runs], [x["test"] for x in runs]
                at = (float(np.mean(xs)), float(np.mean(ys)))
                ax.errorbar(*at, xerr=_range_bar(xs, at[0]), yerr=_range_bar(ys, at[1]),
                            fmt="+", color="C1", lw=0.8, alpha=0.7, zorder=1)
            if several_runs:
                label += f" [{', '.join(dict.fromkeys(_run_of(x, letters) for x in runs))}]"
            labels.append(ax.annotate(label, at, fontsize=7,
                                      textcoords="offset points", xytext=(4, 2),
                                      arrowprops=dict(arrowstyle="-", color="0.6", lw=0.5)))
        if model in GOAL:
            kinds["goal (test)"] = ax.axhline(GOAL[model], color="0.4", ls="--", lw=1)
        if model in GOAL_MEAN:
            kinds["goal, three-seed mean (test)"] = ax.axhline(GOAL_MEAN[model], color="0.4", ls=":", lw=1)
        ax.margins(x=0.1)
        low, high = ax.get_ylim()
        ax.set_ylim(bottom=max(low, floor - 0.03 * (high - floor)))
        ax.set_xlim(right=ax.get_xlim()[1] + 0.25 * (ax.get_xlim()[1] - ax.get_xlim()[0]))  # room for labels
        all_labels.append((ax, labels))
        order = ["final recipe's seeds", "held-out fit's seeds", "variants (+ with, - without)", "goal (test)",
                 "goal, three-seed mean (test)"]
        ax.legend([kinds[k] for k in order if k in kinds], [k for k in order if k in kinds], fontsize=8,
                  loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)  # below: the panel is full of labels
        ax.set_xlabel("training seconds")
        ax.set_ylabel(f"test {metric}")
        ax.set_title(model)
    title = ("Recipes tried: test metric against training time"
             + (f" (letters in brackets name the run, {letters[0]} to {letters[len(letters) - 1]}; the machine's "
                "speed drifts, so seconds from different runs are not comparable: compare the table's work column)"
                if len(letters) > 1 else ""))
    fig.suptitle(textwrap.fill(title, 95 * len(models) // 2))  # no wider than the figure
    fig.tight_layout()
    for ax, labels in all_labels:
        _unstack(ax, labels)
    path = (root or HERE) / "recipes.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path


def _real_run(root: Path | None, name: str) -> dict | None:
    """A benchmark's result file, or None when there is none or it holds a ``--tiny`` test run."""
    res = _bench_json(root, name)
    return None if not res or res.get("tiny") else res


def _measured_by(script: str, res: dict) -> str:
    """The opening of a step-timing table's caption: the script, the CPU, threads, precision, torch."""
    return (f"Measured by `python benchmarks/{script}` on {res['device_name']} ({res['threads']} threads, "
            f"{res['precision']}), torch {res['torch']}")


def step_cost_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/step_cost.json`` (``benchmarks/step_cost.py``): the
    stronger models' variants, time and arithmetic per step against the notebook's model."""
    res = _real_run(root, "step_cost.json")
    if res is None:
        return "_No step timings yet: run `python benchmarks/step_cost.py`._"
    lines = [f"{_measured_by('step_cost.py', res)}: training steps at each recipe's batch size, "
             f"{res['rounds']} rounds of {res['steps']} steps taken in turns; median, and the ratio's range over "
             "the rounds. Each model's ratios are against its notebook's model.", "",
             "| model | variant | batch x image size | ms per step | time vs the notebook's | work vs the notebook's |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in res["rows"]:
        low, high = r["time_ratio_range"]
        model, batch = r.get("model", "strong_cnn"), r.get("batch_size", res.get("batch_size"))
        lines.append(f"| {model} | {r['variant']} | {batch} x {r['image_size']}x{r['image_size']} | "
                     f"{r['ms_per_step']:.0f} | {r['time_ratio']:.2f}x ({low:.2f} to {high:.2f}) | "
                     f"{r['work_ratio']:.2f}x |")
    return "\n".join(lines)


def tta_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/tta.json`` (``benchmarks/tta.py``): sets of test-time
    views of one trained model per stronger model, against the notebook's (the mirror)."""
    res = _real_run(root, "tta.json")
    if res is None:
        return "_No test-time augmentation runs yet: run `python benchmarks/tta.py`._"
    lines = [f"Measured by `python benchmarks/tta.py` on {res['device_name']} ({res['cores']} cores, {res['threads']} threads, "
             f"{res['precision']}), torch {res['torch']}, started {res['started']}: one model per row group "
             "(seed 0), scored with each set of views; the change is against the notebook's views, on "
             "validation (where a choice is read; the yardstick is the seeds' spread in the tables above). "
             "Accuracy for the strong CNN, mean AP for the U-Net; the seconds are one pass over the test images.", "",
             "| model (trained as) | views | n | validation | change | test | test pass (s) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for model in dict.fromkeys(r["model"] for r in res["rows"]):
        group = [r for r in res["rows"] if r["model"] == model]
        base = next((r for r in group if "the notebook's" in r["views"]), group[0])
        _, fmt, change_fmt = METRIC[model]
        for r in group:
            lines.append(f"| {model} ({r['trained']}, {r['train_seconds']:.0f} s) | {r['views']} | {r['n_views']} | "
                         f"{fmt(r['val'])} | {change_fmt(r['val'] - base['val'])} | {fmt(r['test'])} | "
                         f"{r['test_eval_seconds']:.1f} |")
    return "\n".join(lines)


def allocator_table(root: Path | None = None) -> str:
    """Markdown table of ``benchmarks/allocator.json`` (``benchmarks/allocator.py``): each
    notebook model's training step with freed memory kept and handed back, and its page faults."""
    res = _real_run(root, "allocator.json")
    if res is None:
        return "_No allocator timings yet: run `python benchmarks/allocator.py`._"
    lines = [f"{_measured_by('allocator.py', res)}, started {res['started']}: training steps on random batches "
             f"of each recipe's shape, {res['rounds']} rounds of {res['steps']} steps, each round one fresh process "
             "per setting (alternating which goes first); medians, the ratio the median of the rounds' ratios and its range. Page "
             "faults: minor faults per step (a page touched for the first time).", "",
             "| model | batch x input | handed back: ms per step | page faults | kept: ms per step | page faults "
             "| time kept / handed back |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in res["rows"]:
        low, high = r["time_ratio_range"]
        lines.append(f"| {r['model']} | {r['batch_size']} x {'x'.join(map(str, r['image_shape']))} | "
                     f"{r['ms_handed_back']:.1f} | {r['faults_handed_back']:,} | {r['ms_kept']:.1f} | "
                     f"{r['faults_kept']:,} | {r['time_ratio']:.2f}x ({low:.2f} to {high:.2f}) |")
    return "\n".join(lines)


def blocks(root: Path | None = None):
    return ((BENCH_START, BENCH_END, benchmark_table(root)), (PROFILE_START, PROFILE_END, profile_table(root)),
            (PRECISION_START, PRECISION_END, precision_table(root)), (OPS_START, OPS_END, ops_table(root)),
            (EVAL_START, EVAL_END, eval_batch_table(root)), (GPU_START, GPU_END, gpu_table(root)),
            (RECIPES_START, RECIPES_END, recipes_table(root)), (STEP_START, STEP_END, step_cost_table(root)),
            (TTA_START, TTA_END, tta_table(root)), (ALLOC_START, ALLOC_END, allocator_table(root)))


def update_readme(readme: Path | None = None) -> bool:
    """Rewrite the generated tables of ``benchmarks/README.md``; True if it changed."""
    readme = readme or HERE / "README.md"
    recipes_plot(readme.parent)
    return replace_blocks(readme, blocks(readme.parent))


if __name__ == "__main__":
    print("benchmarks/README.md updated" if update_readme() else "benchmarks/README.md already up to date")
