"""Build the student release and the autograder from this repository (the solution).

    python -m tools.assignment [--repo-url URL] [--out dist]     # or: make assignment

writes ``dist/student/`` (a repository to hand out) and ``dist/autograder/`` (what
grading needs). Nothing in ``dist/`` is edited by hand or committed.

What is stripped, and how:

- In ``helpers/*.py``, every region between ``# BEGIN SOLUTION qN`` and ``# END SOLUTION``
  becomes one line, at the marker's indentation, that raises ``NotImplementedError``
  naming the exercise and the function to write.
- In the notebooks, a Markdown region between ``<!-- BEGIN SOLUTION qN -->`` and
  ``<!-- END SOLUTION -->`` (a written answer) becomes an answer prompt, and the cell is
  tagged ``answer:qN`` so that the grader can collect it; code regions are stripped as
  in the helpers; every output is cleared; ``REPO_URL`` in the Colab cell is set to
  ``--repo-url`` (the students' repository, never this one).
- The release keeps ``helpers/``, ``notebooks/``, the public ``checks/``, and its own
  README, Makefile, requirements and package files; no benchmarks, tests, tools or
  autograder. ``dist/autograder/`` gets ``grade.py``, the public checks, the hidden tests
  and their calibration.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from helpers.checks import EXERCISES
from tools.colab import REPO_URL_LINE

REPO_ROOT = Path(__file__).resolve().parent.parent
PY_REGION = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<exercise>q\d+)[ \t]*\n(?P<body>.*?)^[ \t]*# END SOLUTION[ \t]*\n",
                       re.M | re.S)
MD_REGION = re.compile(r"<!-- BEGIN SOLUTION (?P<exercise>q\d+[a-z]?) -->\n?(?P<body>.*?)<!-- END SOLUTION -->\n?", re.S)
ANSWER_PROMPT = "**Your answer:** _double-click this cell and replace this line with your answer._\n"
RELEASE_FILES = ("requirements.txt", "pyproject.toml", ".gitignore")
# References to what only the solution repository has (its benchmarks, tests, make targets
# and README table), reworded for the release; a test checks that none is left
RELEASE_REWRITES = (
    (re.compile(r"\[benchmarks/README\.md\]\(\.\./benchmarks/README\.md\)"),
     "the benchmarks of the course's solution repository"),
    (re.compile(r"``?benchmarks/README\.md``?"), "the benchmark notes of the course's solution repository"),
    (re.compile(r"``?benchmarks/\w+\.py``?|benchmarks/\w+\.py"), "the solution repository's benchmarks"),
    (re.compile(r"``?benchmarks/\w+\.json``?"), "the solution repository's benchmark results"),
    (re.compile(r"``?tests/test_\w+\.py``?"), "the solution repository's tests"),
    (re.compile(r"shared by ``make run`` and ``make test``"), "of the solution repository's make targets"),
    (re.compile(r"make test`"), "make lab`"),
    (re.compile(r"; the README's results table is generated from that file\."), "."),
)
FORBIDDEN_IN_RELEASE = re.compile(r"benchmarks/|tests/|make (?:run|test|colab)\b|README's results table")


def _function_at(text: str, pos: int) -> str:
    """The name of the function (or class) whose body holds position ``pos``: the last
    ``def name(`` or ``class name(``/``class name:`` line before it (docstring lines that
    merely start with the word "class" do not count)."""
    defs = list(re.finditer(r"^[ \t]*(?:def|class)[ \t]+(\w+)[ \t]*[(:]", text[:pos], re.M))
    return defs[-1].group(1) if defs else "this part"


def strip_python(text: str, path: str = "", keep=()) -> str:
    """Replace each solution region of a Python source with a NotImplementedError stub;
    the regions of the exercises in ``keep`` stay solved (their markers go)."""
    def stub(match: re.Match) -> str:
        exercise = match.group("exercise")
        if exercise not in EXERCISES:
            raise ValueError(f"{path}: solution region for unknown exercise {exercise}")
        if exercise in keep:
            return match.group("body")
        number = exercise[1:]
        where = _function_at(text, match.start())
        return (f'{match.group("indent")}raise NotImplementedError("Exercise {number}: write {where} in {path} '
                f'(its docstring says what it must do)")\n')
    new = PY_REGION.sub(stub, text)
    if "BEGIN SOLUTION" in new or "END SOLUTION" in new:
        raise ValueError(f"{path}: an unmatched solution marker")
    return new


def reword_for_release(text: str) -> str:
    """Apply :data:`RELEASE_REWRITES`."""
    for pattern, replacement in RELEASE_REWRITES:
        text = pattern.sub(replacement, text)
    return text


def strip_notebook(nb: dict, name: str, repo_url: str) -> dict:
    """A student's copy of a notebook: solutions out, outputs cleared, REPO_URL set."""
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            exercises = [m.group("exercise") for m in MD_REGION.finditer(source)]
            if exercises:
                source = MD_REGION.sub(ANSWER_PROMPT, source)
                cell.setdefault("metadata", {})["tags"] = [f"answer:{e}" for e in exercises]
        else:
            source = strip_python(source, f"notebooks/{name}")
            source = REPO_URL_LINE.sub(f'REPO_URL = "{repo_url}"', source, count=1)
            cell["outputs"], cell["execution_count"] = [], None
            cell.get("metadata", {}).pop("execution", None)
        if "BEGIN SOLUTION" in source:
            raise ValueError(f"notebooks/{name}: an unmatched solution marker")
        cell["source"] = reword_for_release(source).splitlines(keepends=True)
    return nb


def solution_regions(root: Path = REPO_ROOT) -> list[tuple[str, str, str]]:
    """Every solution region of the solution: ``(file, exercise, body)``."""
    regions = []
    for path in sorted((root / "helpers").glob("*.py")):
        regions += [(path.name, m.group("exercise"), m.group("body")) for m in PY_REGION.finditer(path.read_text())]
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            pattern = MD_REGION if cell["cell_type"] == "markdown" else PY_REGION
            regions += [(path.name, m.group("exercise"), m.group("body")) for m in pattern.finditer(source)]
    return regions


def kept_text(root: Path = REPO_ROOT) -> str:
    """Everything the release ships from the solution, with the solution regions cut
    out: the lines a leak check must not count as leaked."""
    parts = [PY_REGION.sub("", p.read_text()) for p in sorted((root / "helpers").glob("*.py"))]
    parts += [p.read_text() for p in sorted((root / "checks").glob("*.py"))]
    parts += [p.read_text() for p in sorted((root / "assignment").iterdir())]
    parts += [p.read_text() for p in (root / name for name in RELEASE_FILES)]
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            pattern = MD_REGION if cell["cell_type"] == "markdown" else PY_REGION
            parts.append(pattern.sub("", "".join(cell["source"])))
    return "\n".join(parts)


def build(out: Path, repo_url: str, keep=()) -> tuple[Path, Path]:
    """Write ``out/student`` and ``out/autograder`` afresh; return both folders. ``keep``
    leaves those exercises solved in the helpers (to make test submissions)."""
    student, autograder = out / "student", out / "autograder"
    for folder in (student, autograder):
        if folder.exists():
            shutil.rmtree(folder)
    (student / "helpers").mkdir(parents=True)
    for path in sorted((REPO_ROOT / "helpers").glob("*.py")):
        rel = f"helpers/{path.name}"
        (student / rel).write_text(reword_for_release(strip_python(path.read_text(), rel, keep)))
    (student / "notebooks").mkdir()
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        nb = strip_notebook(json.loads(path.read_text()), path.name, repo_url)
        (student / "notebooks" / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    shutil.copytree(REPO_ROOT / "checks", student / "checks", ignore=shutil.ignore_patterns("__pycache__"))
    for name in RELEASE_FILES:
        shutil.copy2(REPO_ROOT / name, student / name)
    readme = (REPO_ROOT / "assignment" / "README.md").read_text().replace("{REPO_URL}", repo_url)
    (student / "README.md").write_text(readme)
    shutil.copy2(REPO_ROOT / "assignment" / "Makefile", student / "Makefile")

    shutil.copytree(REPO_ROOT / "autograder", autograder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "checks", autograder / "checks", ignore=shutil.ignore_patterns("__pycache__"))
    (autograder / "given").mkdir()
    for path in sorted((REPO_ROOT / "helpers").glob("*.py")):
        if not PY_REGION.search(path.read_text()):  # no exercise here: graded as given
            shutil.copy2(path, autograder / "given" / path.name)
    return student, autograder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo-url", default="https://github.com/YOUR-ACCOUNT/dlcv-assignment",
                        help="the students' repository, for the Colab cell (default: a placeholder)")
    parser.add_argument("--out", default=str(REPO_ROOT / "dist"))
    args = parser.parse_args(argv)
    if "dlcv-notebooks" in args.repo_url and "YOUR-ACCOUNT" not in args.repo_url:
        print(f"warning: --repo-url {args.repo_url} looks like the solution's repository; students must not "
              "get its address")
    student, autograder = build(Path(args.out), args.repo_url)
    print(f"wrote {student} ({len(solution_regions())} solution regions stripped) and {autograder}")


if __name__ == "__main__":
    main()
