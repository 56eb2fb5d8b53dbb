"""Metrics files and the README results table generated from them.

Each notebook writes ``figures/<part>/metrics.json``; ``python -m helpers.results``
rewrites the table between the ``RESULTS`` markers in README.md from those files.
(The benchmarks' tables are made by ``benchmarks/tables.py``.)
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from . import config
from .files import atomic_write_text

START, END = "<!-- RESULTS:START -->", "<!-- RESULTS:END -->"


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


def device_label(record: dict) -> str:
    """The device by name where a record has it (``device_name``), else its type."""
    return record.get("device_name") or record["device"]


def results_table(root: Path | None = None) -> str:
    """Markdown table of every model in the committed metrics files (their ``models`` lists).

    A part's later models give their training time also as a multiple of the part's
    first model (the report's), measured in the same run.
    """
    rows = ["| part | model | parameters | epochs | training time | device, precision | test result |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |"]
    for part, label in (("classification", "classification (Fashion-MNIST test)"),
                        ("segmentation", "segmentation (facades test_dev)")):
        models = (read_metrics(part, root) or {}).get("models", [])
        for m in models:
            if part == "classification":
                result = (f"accuracy {_pct(m['test_accuracy'])} (hardest: {m['hardest_class']} "
                          f"{_pct(m['hardest_class_accuracy'])})")
            else:
                result = (f"mean AP {_num(m['mean_ap'])}, mean IoU {_num(m['mean_iou'])}, "
                          f"pixel accuracy {_pct(m['pixel_accuracy'])}")
                if "ap_per_class" in m and "pillar" in m["ap_per_class"]:
                    result += f", pillar AP {_num(m['ap_per_class']['pillar'])}"
            if m.get("flip_tta"):
                result += ", with flip TTA"
            if m.get("final_fit"):  # trained on training + validation images once its recipe was chosen
                result += f", final fit on {m['train_images']:,} training + validation images"
            time = f"{m['train_seconds']:.0f} s"
            if m is not models[0] and models[0]["train_seconds"] > 0:
                time += f" ({m['train_seconds'] / models[0]['train_seconds']:.2f}x {models[0]['name']})"
            rows.append(f"| {label} | {m['name']} | {m['parameters']:,} | {m['epochs']} | "
                        f"{time} | {device_label(m)}, {m['precision']} | {result} |")
    return "\n".join(rows)


def replace_blocks(path: Path, blocks) -> bool:
    """Rewrite each ``(start, end, text)`` block between its markers in the Markdown file
    ``path`` (atomically); True if the file changed. Missing markers are an error."""
    text = new = path.read_text()
    for start, end, table in blocks:
        if start not in new or end not in new:
            raise ValueError(f"{path} lacks the markers {start} and {end}")
        new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{table}\n{end}",
                     new, flags=re.S)
    if new != text:
        atomic_write_text(path, new)
    return new != text


def update_readme(readme: Path | None = None) -> bool:
    """Rewrite the results table between its markers in README.md; True if it changed."""
    readme = readme or config.REPO_ROOT / "README.md"
    return replace_blocks(readme, [(START, END, results_table(readme.parent))])


if __name__ == "__main__":
    print("README.md updated" if update_readme() else "README.md already up to date")
