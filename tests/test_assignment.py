"""The assignment: the release builds from the solution, leaks none of it, its checks
fail on the stubs with their intended messages, and grading scores what is solved."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import config
from autograder import grade
from helpers.checks import EXERCISES, run_checks
from tools import assignment

REPO = config.REPO_ROOT
URL = "https://github.com/course-2026/dlcv-assignment"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    student, autograder = assignment.build(tmp_path_factory.mktemp("dist"), URL)
    return student


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _release_text(release) -> str:
    return "\n".join(p.read_text(errors="replace") for p in release.rglob("*") if p.is_file())


def test_release_layout(release):
    names = {p.name for p in release.iterdir()}
    assert names == {"README.md", "Makefile", "requirements.txt", "pyproject.toml", ".gitignore", "helpers",
                     "notebooks", "checks"}
    assert sorted(p.name for p in (release / "helpers").glob("*.py")) == sorted(
        p.name for p in (REPO / "helpers").glob("*.py"))
    for path in (release / "notebooks").glob("*.ipynb"):
        nb = json.loads(path.read_text())
        assert all(c.get("outputs", []) == [] for c in nb["cells"]), f"{path.name} keeps outputs"
        colab = "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
        assert f'REPO_URL = "{URL}"' in colab
    text = _release_text(release)
    assert "YOUR-ACCOUNT/dlcv-notebooks" not in text and URL in (release / "README.md").read_text()


def test_release_names_nothing_it_does_not_ship(release):
    """No link to the solution's benchmarks or tests, no make target the release lacks."""
    for path in release.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", "") and path.name != "pyproject.toml":
            found = assignment.FORBIDDEN_IN_RELEASE.findall(path.read_text())
            assert not found, f"{path.relative_to(release)}: {found}"


def test_every_region_becomes_a_stub_naming_its_exercise(release):
    regions = assignment.solution_regions()
    code = [r for r in regions if r[0].endswith(".py")]
    assert {e for _, e, _ in code} == set(EXERCISES)  # every code exercise has a region
    stubs = re.findall(r'raise NotImplementedError\("Exercise (\d+): write (\w+) in (helpers/\w+\.py)',
                       _release_text(release))
    assert len(stubs) == len(code)
    assert {(n, f) for n, f, _ in stubs} == {  # each stub names the function that encloses it
        ("1", "__init__"), ("1", "forward"), ("2", "train_step"), ("2", "train_epoch"), ("3", "per_class_accuracy"),
        ("3", "hardest_class"), ("4", "pick_examples"), ("5", "__init__"), ("6", "average_precision_per_class"),
        ("7", "iou_per_class"), ("7", "mean_iou")}
    run = subprocess.run([sys.executable, "-c", "from helpers.models import ReportCNN; ReportCNN()"], cwd=release,
                         env=dict(os.environ, PYTHONPATH=str(release)), capture_output=True, text=True)
    assert "NotImplementedError: Exercise 1: write __init__ in helpers/models.py" in run.stderr


def test_no_solution_leaks_into_the_release(release):
    text = _release_text(release)
    flat = _normalise(text)
    regions = assignment.solution_regions()
    assert len(regions) >= 14  # 11 code regions and 3 written answers
    kept = _normalise(assignment.kept_text())  # what ships from the solution, regions removed
    for name, exercise, body in regions:
        assert _normalise(body) not in flat, f"{name} {exercise}: the whole region is in the release"
        for line in body.splitlines():
            line = _normalise(line.split("#")[0]) if name.endswith(".py") else _normalise(line)
            if len(line) < 12 or line in kept:  # generic: the release keeps it elsewhere
                continue
            assert line not in flat, f"{name} {exercise}: {line!r} is in the release"


def test_public_checks_fail_on_the_stubs_with_their_message(release):
    results = run_checks([release / "checks"], root=release)
    assert set(results) == set(EXERCISES)
    for exercise, result in results.items():
        number = exercise[1:]
        assert not result.passed and result.failed, exercise
        assert all(f"Exercise {number}" in message for _, message in result.failed), (exercise, result.failed)
        assert f"{exercise} · " in str(result) and f"not done yet (Exercise {number}: write" in str(result)


def _submission(root, name, keep):
    student, _ = assignment.build(root / f"build-{name}", URL, keep=keep)
    shutil.copytree(student, root / "submissions" / name)


def test_grading_scores_what_is_solved(tmp_path, capsys):
    _submission(tmp_path, "a-none", keep=())
    _submission(tmp_path, "b-one", keep=("q3",))
    _submission(tmp_path, "c-all", keep=tuple(EXERCISES))
    (tmp_path / "submissions" / "d-empty").mkdir()
    out = tmp_path / "grades" / "grades.csv"
    grade.main([str(tmp_path / "submissions"), "--out", str(out)])
    rows = {r["submission"]: r for r in csv.DictReader(out.open())}
    assert list(rows) == ["a-none", "b-one", "c-all", "d-empty"]
    assert [float(rows["a-none"][e]) for e in EXERCISES] == [0.0] * 7
    assert [float(rows["b-one"][e]) for e in EXERCISES] == [0, 0, 10, 0, 0, 0, 0]
    # the solution passes every public check and hidden test
    assert [float(rows["c-all"][e]) for e in EXERCISES] == [10.0] * 7 and float(rows["c-all"]["total"]) == 70
    assert rows["d-empty"]["note"] == "no helpers/ folder"
    answers = (tmp_path / "grades" / "answers" / "c-all.md").read_text()
    assert "## q8a (01_classification.ipynb)" in answers and "**Your answer:**" in answers
    print(capsys.readouterr().out)


def _run(notebook, cwd, env_root, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(env_root))
    monkeypatch.setenv("DLCV_SMOKE", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("DLCV_OUTPUT_DIR", str(tmp_path / "out"))
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


@pytest.mark.parametrize("notebook, exercise", [("01_classification.ipynb", "1"), ("02_segmentation.ipynb", "5")])
def test_release_notebook_runs_up_to_its_first_exercise(release, notebook, exercise, monkeypatch, tmp_path):
    with pytest.raises(CellExecutionError) as err:
        _run(release / "notebooks" / notebook, release / "notebooks", release, monkeypatch, tmp_path)
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(err.value))  # the traceback's colours
    assert f"NotImplementedError: Exercise {exercise}: write __init__ in helpers/models.py" in message


def test_release_notebooks_run_to_the_end_with_the_solutions_put_back(tmp_path, monkeypatch):
    solved, _ = assignment.build(tmp_path / "dist", URL, keep=tuple(EXERCISES))
    for notebook in ("01_classification.ipynb", "02_segmentation.ipynb"):
        nb = _run(solved / "notebooks" / notebook, solved / "notebooks", solved, monkeypatch, tmp_path)
        checks = [o["data"]["text/plain"] for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")
                  for o in c.outputs if o.get("output_type") == "execute_result"]
        assert checks and all("checks pass" in text for text in checks), checks
