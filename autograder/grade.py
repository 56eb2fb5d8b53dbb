"""Grade a folder of submissions: one CSV row per submission, one column per exercise.

    python autograder/grade.py SUBMISSIONS [--out grades.csv]     # or: make grade SUBMISSIONS=...

Each folder in SUBMISSIONS is one student's copy of the release (their ``helpers/`` and
``notebooks/``). For each, the student's ``helpers/`` is put beside the public checks
(``checks/``) and the hidden tests (``hidden/``) in a temporary folder, and pytest runs
them all there, in a fresh process, with a time limit. An exercise's points are its
share of passing checks and hidden tests, out of 10. The written questions are graded
by hand: their answers are collected into ``<out folder>/answers/<submission>.md``.

Run it from the solution repository's environment (``make grade`` does): it needs the
packages of ``requirements.txt``, Fashion-MNIST (Debian's package or a download), and the
facade set (``FACADES_DIR`` or ``data/facades``) for the hidden training recipes.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers.checks import EXERCISES, run_checks
from helpers.files import atomic_write_text

HERE = Path(__file__).resolve().parent
# dist/autograder/ carries copies of the public checks and of the helpers that hold no exercise;
# in the solution repository they sit beside this folder
CHECKS = HERE / "checks" if (HERE / "checks").is_dir() else HERE.parent / "checks"
GIVEN = HERE / "given" if (HERE / "given").is_dir() else HERE.parent / "helpers"
POINTS = 10
WRITTEN_TAG = "answer:"


def grade_one(submission: Path, workdir: Path, timeout: int) -> tuple[dict[str, float], str]:
    """Points per exercise for one submission, and a note (empty when all went well)."""
    helpers = submission / "helpers"
    if not helpers.is_dir():
        return dict.fromkeys(EXERCISES, 0.0), "no helpers/ folder"
    shutil.copytree(helpers, workdir / "helpers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module in given_modules():  # the code students were given is graded as given
        shutil.copy2(module, workdir / "helpers" / module.name)
    for source, name in ((CHECKS, "checks"), (HERE / "hidden", "hidden")):
        shutil.copytree(source, workdir / name, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        results = run_checks([workdir / "checks", workdir / "hidden"], root=workdir, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict.fromkeys(EXERCISES, 0.0), f"stopped after {timeout} s"
    except RuntimeError as err:
        return dict.fromkeys(EXERCISES, 0.0), str(err)
    points = {}
    for name in EXERCISES:
        result = results.get(name)
        total = len(result.passed) + len(result.failed) if result else 0
        points[name] = round(POINTS * len(result.passed) / total, 2) if total else 0.0
    return points, ""


def given_modules() -> list[Path]:
    """The helper modules without an exercise (config, data, facades ...): a submission's
    copies are replaced by these before grading, so that edits there change no score."""
    return [p for p in sorted(GIVEN.glob("*.py")) if "BEGIN SOLUTION" not in p.read_text()]


def written_answers(submission: Path) -> str:
    """The submission's answers to the written questions, as Markdown: each tagged answer
    cell and the Markdown cells a student added right after it."""
    parts = []
    for notebook in sorted((submission / "notebooks").glob("*.ipynb")):
        try:
            cells = json.loads(notebook.read_text())["cells"]
        except (OSError, ValueError, KeyError) as err:
            parts.append(f"## {notebook.name}\n\n(unreadable: {err})\n")
            continue
        for i, cell in enumerate(cells):
            tags = [t for t in cell.get("metadata", {}).get("tags", []) if t.startswith(WRITTEN_TAG)]
            if tags:
                text = ["".join(cell["source"])]
                for after in cells[i + 1:]:
                    if after["cell_type"] != "markdown" or "".join(after["source"]).lstrip().startswith("#"):
                        break
                    text.append("".join(after["source"]))
                parts.append(f"## {tags[0].removeprefix(WRITTEN_TAG)} ({notebook.name})\n\n" + "\n\n".join(text) + "\n")
    return "\n".join(parts) or "(no answer cells found)\n"


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("submissions", help="a folder holding one folder per submission")
    parser.add_argument("--out", default="grades.csv", help="the CSV to write (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per submission")
    args = parser.parse_args(argv)
    folder = Path(args.submissions)
    submissions = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not submissions:
        parser.error(f"SUBMISSIONS={folder}: no submission folders there (one folder per student, each "
                     "holding helpers/ and notebooks/)")
    out = Path(args.out)
    answers = out.parent / "answers"
    answers.mkdir(parents=True, exist_ok=True)
    rows = []
    for submission in submissions:
        with tempfile.TemporaryDirectory(prefix="dlcv-grade-") as tmp:
            points, note = grade_one(submission, Path(tmp), args.timeout)
        (answers / f"{submission.name}.md").write_text(f"# {submission.name}\n\n{written_answers(submission)}")
        row = {"submission": submission.name, **points, "total": round(sum(points.values()), 2),
               "written (by hand)": f"answers/{submission.name}.md", "note": note}
        rows.append(row)
        print(f"{submission.name:<20} " + " ".join(f"{k} {v:5.2f}" for k, v in points.items())
              + f"  total {row['total']:6.2f} / {POINTS * len(EXERCISES)}" + (f"  ({note})" if note else ""),
              flush=True)
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out, table.getvalue())
    print(f"wrote {out} and {answers}/")
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
