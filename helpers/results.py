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

START, END = "<!-- RESULTS:START -->", "<!-- RESULTS:END -->"


def write_metrics(part: str, metrics: dict) -> Path:
    """Write ``metrics`` as ``figures/<part>/metrics.json`` (smoke runs: a temp folder)."""
    path = config.figure_dir(part) / "metrics.json"
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(metrics, indent=2, sort_keys=False) + "\n")
    partial.replace(path)
    return path


def read_metrics(part: str, root: Path | None = None) -> dict | None:
    path = (root or config.REPO_ROOT) / "figures" / part / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def _pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _num(x, digits=3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


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
                        f"{m['epochs']} | {m['train_seconds']:.0f} s | {m['device']}, {m['precision']} "
                        f"| {result} |")
    seg = read_metrics("segmentation", root)
    if seg:
        for m in seg.get("comparison") or [dict(seg, name="report net")]:
            result = (f"mean AP {_num(m['mean_ap'])}, mean IoU {_num(m['mean_iou'])}, "
                      f"pixel accuracy {_pct(m.get('pixel_accuracy'))}")
            rows.append(f"| segmentation (facades test_dev) | {m['name']} | {m['parameters']:,} | "
                        f"{m['epochs']} | {m['train_seconds']:.0f} s | {m['device']}, {m['precision']} "
                        f"| {result} |")
    return "\n".join(rows)


def update_readme(readme: Path | None = None) -> bool:
    """Rewrite the table between the markers in README.md; True if it changed."""
    readme = readme or config.REPO_ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{readme} lacks the markers {START} and {END}")
    new = re.sub(re.escape(START) + ".*?" + re.escape(END),
                 lambda _: f"{START}\n{results_table(readme.parent)}\n{END}", text, flags=re.S)
    if new != text:
        readme.write_text(new)
    return new != text


if __name__ == "__main__":
    print("README.md updated" if update_readme() else "README.md already up to date")
