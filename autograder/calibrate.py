"""Measure the grading recipes on the solution and write ``hidden/calibration.json``.

The hidden tests pass a submission whose result is within a margin of these values
(``hidden/recipes.py``). Run it after changing a recipe or the solution:

    python autograder/calibrate.py      # about a minute on 2 cores; needs FACADES_DIR or data/facades
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "hidden"))

import recipes  # noqa: E402

from helpers.models import ReportCNN, ReportSegNet  # noqa: E402

if __name__ == "__main__":
    measured = {"q1_val_accuracy": recipes.q1_report_cnn(ReportCNN),
                "q2_val_accuracy": recipes.q2_training_loop()[0],
                "q5_mean_ap": recipes.q5_report_segnet(ReportSegNet)}
    for name, value in measured.items():
        print(f"{name}: {value:.4f} (pass from {value - recipes.MARGINS[name]:.4f})")
    recipes.CALIBRATION.write_text(json.dumps({k: round(v, 4) for k, v in measured.items()}, indent=2) + "\n")
    print(f"wrote {recipes.CALIBRATION}")
