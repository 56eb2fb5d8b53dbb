"""Tidy the stream outputs of executed notebooks the way Jupyter displays them.

A progress bar redraws itself by writing ``\\r`` and the new state; Jupyter shows only
the last state of each line, but a headless ``nbconvert --execute`` stores every
redraw (thousands for a long training run). This keeps what a reader would see:
consecutive stream outputs of the same name are merged, on each line only the text
after the last ``\\r`` is kept, and streams left blank are dropped.

    python -m tools.notebook_outputs notebooks/*.ipynb
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers.files import atomic_write_text


def collapse_carriage_returns(text: str) -> str:
    """Render ``\\r`` as a terminal does: each line keeps what was written after its last ``\\r``."""
    lines = []
    for line in text.split("\n"):
        parts = line.split("\r")
        # a trailing "\r" (cursor back, nothing written yet) leaves the previous state visible
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        lines.append(parts[-1])
    return "\n".join(lines)


def tidy_outputs(outputs: list) -> list:
    tidy = []
    for out in outputs:
        if out.get("output_type") == "stream":
            text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
            if tidy and tidy[-1].get("output_type") == "stream" and tidy[-1]["name"] == out["name"]:
                tidy[-1]["text"] += text
                continue
            out = dict(out, text=text)
        tidy.append(out)
    for out in tidy:
        if out.get("output_type") == "stream":
            out["text"] = collapse_carriage_returns(out["text"])
    # a stream left blank (a progress bar's closing newline) shows as an empty box
    return [out for out in tidy if out.get("output_type") != "stream" or out["text"].strip()]


def tidy_notebook(path: Path | str) -> bool:
    """Tidy one notebook file in place; True if it changed."""
    path = Path(path)
    raw = path.read_text()
    nb = json.loads(raw)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = tidy_outputs(cell.get("outputs", []))
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if new != raw:
        atomic_write_text(path, new)
    return new != raw


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {'tidied' if tidy_notebook(name) else 'unchanged'}")
