"""Metrics files and the README results table generated from them.

Each notebook writes ``figures/<part>/metrics.json``; ``python -m helpers.results``
rewrites the table between the ``RESULTS`` markers in README.md from those files.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from . import config
from .files import atomic_write_text

START, END = "<!-- RESULTS:START -->", "<!-- RESULTS:END -->"
BENCH_START, BENCH_END = "<!-- BENCHMARK:START -->", "<!-- BENCHMARK:END -->"
PROFILE_START, PROFILE_END = "<!-- PROFILE:START -->", "<!-- PROFILE:END -->"
PRECISION_START, PRECISION_END = "<!-- PRECISION:START -->", "<!-- PRECISION:END -->"
OPS_START, OPS_END = "<!-- OPS:START -->", "<!-- OPS:END -->"
EVAL_START, EVAL_END = "<!-- EVALBATCH:START -->", "<!-- EVALBATCH:END -->"


def write_metrics(part: str, metrics: dict) -> Path:
    """Write ``metrics`` as ``figures/<part>/metrics.json`` (smoke runs: a temp folder)."""
    return atomic_write_text(config.figure_dir(part) / "metrics.json", json.dumps(metrics, indent=2) + "\n")


def read_metrics(part: str, root: Path | None = None) -> dict | None:
    path = (root or config.REPO_ROOT) / "figures" / part / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def _pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _num(x, digits=3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _device(m: dict) -> str:
    """The device by name where the metrics record it (``device_name``), else its type."""
    return m.get("device_name") or m["device"]


def results_table(root: Path | None = None) -> str:
    """Markdown table of every model in the committed metrics files."""
    rows = ["| part | model | parameters | epochs | training time | device, precision | test result |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |"]
    cls = read_metrics("classification", root)
    if cls:
        for m in cls.get("comparison") or [dict(cls, name="report CNN")]:
            hardest = min(m["per_class_accuracy"].items(), key=lambda kv: kv[1]) \
                if m.get("per_class_accuracy") else None
            result = f"accuracy {_pct(m['test_accuracy'])}"
            if hardest:
                result += f" (hardest: {hardest[0]} {_pct(hardest[1])})"
            rows.append(f"| classification (Fashion-MNIST test) | {m['name']} | {m['parameters']:,} | "
                        f"{m['epochs']} | {m['train_seconds']:.0f} s | {_device(m)}, {m['precision']} "
                        f"| {result} |")
    seg = read_metrics("segmentation", root)
    if seg:
        for m in seg.get("comparison") or [dict(seg, name="report net")]:
            result = (f"mean AP {_num(m['mean_ap'])}, mean IoU {_num(m['mean_iou'])}, "
                      f"pixel accuracy {_pct(m.get('pixel_accuracy'))}")
            rows.append(f"| segmentation (facades test_dev) | {m['name']} | {m['parameters']:,} | "
                        f"{m['epochs']} | {m['train_seconds']:.0f} s | {_device(m)}, {m['precision']} "
                        f"| {result} |")
    return "\n".join(rows)


def _bench_json(root: Path | None, name: str) -> dict | None:
    """``benchmarks/<name>`` under ``root`` (default: the repository), or None if absent."""
    path = (root or config.REPO_ROOT) / "benchmarks" / name
    return json.loads(path.read_text()) if path.exists() else None


def _fast_label(precision: str, channels_last: bool) -> str:
    return f"{precision}{' + channels_last' if channels_last else ''}"


def shapes_text(shapes) -> str:
    """``[[64, 32, 14, 14], [128]] -> "64x32x14x14, 128"``."""
    return ", ".join("x".join(map(str, s)) for s in shapes)


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
             f"on {_device(prof)} ({prof['threads']} threads), torch {prof['torch']}:", "",
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
    lines = [f"Measured by `python benchmarks/profile_ops.py` on {_device(prof)} ({prof['threads']} threads), "
             f"torch {prof['torch']}, fast path ({fast}):"]
    for name, res in prof["models"].items():
        batch = shapes_text([res["batch_shape"]])
        lines += ["", f"{name}, batch {batch}{', fused Adam' if res['fused_optimizer'] else ''}: "
                      f"{res['wall_ms_per_step']:.2f} ms per training step; operators' own time under the "
                      f"profiler, per step (top {len(res['ops']) - 1} and the rest):", "",
                  "| operator | first input shapes | calls | ms per step | share |",
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
    lines = [f"Measured by `python benchmarks/eval_batch.py` on {_device(sweep)} ({sweep['threads']} threads), "
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
    lines = [f"Measured by `python benchmarks/precision_check.py` on {_device(check)}, seed 0, full runs:", "",
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


def _blocks(root: Path):
    return ((START, END, results_table(root)), (BENCH_START, BENCH_END, benchmark_table(root)),
            (PROFILE_START, PROFILE_END, profile_table(root)),
            (PRECISION_START, PRECISION_END, precision_table(root)),
            (OPS_START, OPS_END, ops_table(root)),
            (EVAL_START, EVAL_END, eval_batch_table(root)))


def update_readme(readme: Path | None = None) -> bool:
    """Rewrite the generated tables between their markers in README.md; True if it changed."""
    readme = readme or config.REPO_ROOT / "README.md"
    text = new = readme.read_text()
    for start, end, table in _blocks(readme.parent):
        if start not in new or end not in new:
            raise ValueError(f"{readme} lacks the markers {start} and {end}")
        new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{table}\n{end}",
                     new, flags=re.S)
    if new != text:
        atomic_write_text(readme, new)
    return new != text


if __name__ == "__main__":
    print("README.md updated" if update_readme() else "README.md already up to date")
