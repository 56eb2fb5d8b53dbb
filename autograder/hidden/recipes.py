"""Short grading recipes: train a student's piece with our reference code around it, on
a subset of the real data, in fp32 on the CPU, seeded. Each takes seconds on 2 cores.

The thresholds are the solution's own results (``calibration.json``, written by
``python autograder/calibrate.py``) less a margin, so a correct submission passes
whatever its small numerical differences, and a broken one does not.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn

from helpers import config, data, facades, training

CALIBRATION = Path(__file__).with_name("calibration.json")
MARGINS = {"q1_val_accuracy": 0.03, "q2_val_accuracy": 0.03, "q5_mean_ap": 0.05}
CPU = config.plain_path("cpu")
_DATA = Path(os.environ.get("DLCV_GRADING_DATA", Path(tempfile.gettempdir()) / "dlcv-grading-data"))


def threshold(name: str) -> float:
    """The solution's measured value of ``name`` less its margin."""
    return json.loads(CALIBRATION.read_text())[name] - MARGINS[name]


def fashion_subset(n_train: int = 5_000, n_val: int = 2_000):
    """The first ``n_train`` training and ``n_val`` validation images of the notebooks'
    seeded split, standardised: ``(X_train, y_train, X_val, y_val)``."""
    fashion = data.load_fashion_mnist(generator=torch.Generator().manual_seed(0), root=_DATA)
    normalize = data.standardize(fashion.X_train)
    return (normalize(fashion.X_train[:n_train]), fashion.y_train[:n_train],
            normalize(fashion.X_val[:n_val]), fashion.y_val[:n_val])


def accuracy_of(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def reference_training(model: nn.Module, X, y, epochs: int, batch_size: int, lr: float = 1e-3) -> nn.Module:
    """A plain training loop of our own (Adam, shuffled batches, seed 0)."""
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def q1_report_cnn(model_cls) -> float:
    """The student's ReportCNN trained by our loop for 2 epochs on 5,000 images:
    validation accuracy on 2,000."""
    torch.manual_seed(0)
    model = model_cls()  # first, so that a stub fails before the data are loaded
    X, y, X_val, y_val = fashion_subset()
    return accuracy_of(reference_training(model, X, y, epochs=2, batch_size=64), X_val, y_val)


def reference_cnn() -> nn.Module:
    """A small CNN of our own, so that exercise 2 is graded without the student's model."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 14 * 14, 10))


def q2_training_loop() -> tuple[float, dict]:
    """Our small CNN trained by the student's ``training.train`` (their epoch and step)
    for 2 epochs on 5,000 images: validation accuracy on 2,000, and the history."""
    X, y, X_val, y_val = fashion_subset()
    torch.manual_seed(0)
    model = reference_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = training.train(model, data.TensorBatches(X, y, 64, shuffle=True, generator=torch.Generator().manual_seed(0)),
                             data.TensorBatches(X_val, y_val, 500), nn.CrossEntropyLoss(), optimizer, 2, CPU,
                             evals_per_epoch=2, progress=False)
    return accuracy_of(model, X_val, y_val), history


def facade_crops(n_train: int = 96, n_val: int = 24, size: int = 128):
    """Centre crops of the first course-split training and validation photos, scaled as
    the notebook does: ``(X_train, y_train, X_val, y_val)``."""
    fac = facades.load_facades(limit=max(n_train, n_val))
    top = (fac.X_train.shape[-1] - size) // 2
    crop = (slice(None), slice(None), slice(top, top + size), slice(top, top + size))
    return (facades.scale_photos(fac.X_train[:n_train][crop]), fac.y_train[:n_train][crop[0:1] + crop[2:]],
            facades.scale_photos(fac.X_val[:n_val][crop]), fac.y_val[:n_val][crop[0:1] + crop[2:]])


def q5_report_segnet(model_cls) -> float:
    """The student's ReportSegNet trained by our loop for 4 epochs on 96 centre crops:
    mean AP (scikit-learn, every pixel) on 24 validation crops."""
    torch.manual_seed(0)
    model = model_cls(num_classes=5)  # first, so that a stub fails before the data are loaded
    X, y, X_val, y_val = facade_crops()
    model = reference_training(model, X, y, epochs=4, batch_size=8)
    model.eval()
    with torch.no_grad():
        probs = model(X_val).softmax(1).numpy()
    labels = y_val.numpy()
    ap = [average_precision_score(labels.ravel() == c, probs[:, c].ravel()) for c in range(5) if (labels == c).any()]
    return float(np.mean(ap))
