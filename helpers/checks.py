"""The exercises' public checks, run from a notebook: ``check("q1")``.

Each exercise has its checks in ``checks/test_<exercise>_*.py`` (plain pytest files). A
check tests one helper on small inputs of its own, never the notebook's variables, so
an exercise's result does not depend on the others being done. ``check`` runs them in
a fresh Python process (so it always sees your latest ``helpers/``) and prints, for each
check, whether it passes and, if not, what is wrong.

From a shell: ``python -m helpers.checks q1 q2`` (or no argument for all of them).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .config import REPO_ROOT

CHECKS_DIR = REPO_ROOT / "checks"
EXERCISES = {
    "q1": "the report's CNN (helpers/models.py, ReportCNN)",
    "q2": "one training step and one epoch (helpers/training.py, train_step and train_epoch)",
    "q3": "accuracy per class and the hardest class (helpers/metrics.py, per_class_accuracy and hardest_class)",
    "q4": "right and wrong examples of a class (helpers/plots.py, pick_examples)",
    "q5": "the report's segmentation net (helpers/models.py, ReportSegNet)",
    "q6": "average precision per class (helpers/metrics.py, average_precision_per_class)",
    "q7": "IoU per class and mean IoU (helpers/metrics.py, iou_per_class and mean_iou)",
}


@dataclass
class CheckResult:
    """The outcome of one exercise's checks: names that passed, and (name, message) of
    those that failed."""

    exercise: str
    passed: list = field(default_factory=list)
    failed: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and bool(self.passed)

    def __str__(self) -> str:
        total = len(self.passed) + len(self.failed)
        head = f"{self.exercise} · {EXERCISES.get(self.exercise, '')}: "
        if not total:
            return head + "no check ran"
        if self.ok:
            return head + f"all {total} checks pass"
        if all("NotImplementedError" in message for _, message in self.failed) and not self.passed:
            message = self.failed[0][1].split("NotImplementedError: ", 1)[-1]
            return head + f"not done yet ({message})"
        lines = [head + f"{len(self.passed)} of {total} checks pass"]
        lines += [f"  ✓ {name}" for name in self.passed]
        lines += [f"  ✗ {name}: {message}" for name, message in self.failed]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle):  # how IPython shows it as a cell's value
        printer.text(str(self))


def _label(test_name: str) -> str:
    return test_name.removeprefix("test_").replace("_", " ")


def _message(failure: ET.Element) -> str:
    """The first line a student needs: the assertion's own message, or the exception."""
    lines = (failure.text or "").strip().splitlines()
    if failure.tag == "error" and lines:  # an import error: the last line names the error and the file
        errors = [line.removeprefix("E").strip() for line in lines if line.startswith("E ")]
        return " ".join(errors[-2:]) if errors else lines[-1]
    text = failure.get("message") or (lines[-1] if lines else "failed")
    text = text.removeprefix("AssertionError: ")
    first = text.split("\nassert ")[0].strip()
    return first.splitlines()[0] if first else text


def run_checks(files, root: Path = REPO_ROOT, timeout: int = 600) -> dict[str, CheckResult]:
    """Run pytest on ``files`` with ``root`` first on the import path; results per exercise."""
    results: dict[str, CheckResult] = {}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        subprocess.run([sys.executable, "-m", "pytest", *map(str, files), "-q", "-p", "no:cacheprovider",
                        "-o", "junit_family=xunit2", f"--junitxml={report}", "--rootdir", str(root)],
                       cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        if not report.exists():
            raise RuntimeError(f"the checks did not run: pytest wrote no report for {', '.join(map(str, files))}")
        for case in ET.parse(report).getroot().iter("testcase"):
            # a check: classname "checks.test_q1_report_cnn", name "test_output_shape"; a file that
            # could not be imported (a syntax error in helpers/, say): classname "", name "checks.test_q1_..."
            module = (case.get("classname") or case.get("name", "")).rsplit(".", 1)[-1]
            exercise = module.removeprefix("test_").split("_", 1)[0]
            result = results.setdefault(exercise, CheckResult(exercise))
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            name = _label(case.get("name")) if case.get("classname") else "importing the checks"
            if failure is None and case.find("skipped") is None:
                result.passed.append(name)
            elif failure is not None:
                result.failed.append((name, _message(failure)))
    return results


def check(exercise: str) -> CheckResult:
    """Run the public checks of ``exercise`` ("q1" ... "q7") and return their result
    (a notebook shows it; ``print`` it elsewhere)."""
    files = sorted(CHECKS_DIR.glob(f"test_{exercise}_*.py"))
    if exercise not in EXERCISES or not files:
        raise ValueError(f"no checks for {exercise!r}; the exercises are {', '.join(EXERCISES)}")
    return run_checks(files).get(exercise, CheckResult(exercise))


if __name__ == "__main__":
    names = sys.argv[1:] or list(EXERCISES)
    results = [check(name) for name in names]
    print("\n".join(map(str, results)))
    sys.exit(0 if all(r.ok for r in results) else 1)
