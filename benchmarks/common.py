"""What the benchmark scripts share (and the product does not need).

Run a script as ``python benchmarks/<name>.py``: its own folder is then on the import
path, so ``import common`` finds this module.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from helpers import config, facades


class FacadeFiles(Dataset):
    """Facade photos decoded from disk one at a time: the standard per-sample pipeline."""

    def __init__(self, folder: Path, limit: int | None = None):
        self.photos = facades.list_photos(Path(folder))[:limit]

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, i):
        photo, label = facades.read_pair(self.photos[i], self.photos[i].with_suffix(".png"))
        return facades.scale_photos(torch.from_numpy(photo).permute(2, 0, 1)), torch.from_numpy(label.astype(np.int64))


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """``--precision``: the fast path's precision, as ``DLCV_PRECISION`` takes it."""
    parser.add_argument("--precision", default="auto", choices=config.PRECISIONS,
                        help="the fast path's precision (default: auto, as the notebooks pick it)")


def pick_fast_path(parser: argparse.ArgumentParser, precision: str) -> config.FastPath:
    """The notebooks' fast-path decision for this machine; a precision the device cannot
    run is reported as a usage error, not a traceback."""
    try:
        return config.pick_fast_path(precision=precision)
    except config.PrecisionError as err:
        parser.error(str(err))


# The notebooks' four models as the benchmarks train them: (model class, training batch
# shape, classes, label shape per image). Batch sizes are the notebooks'; the U-Net
# trains on 128x128 crops.
NOTEBOOK_MODELS = {
    "report_cnn": ("ReportCNN", (64, 1, 28, 28), 10, ()),
    "strong_cnn": ("StrongCNN", (128, 1, 28, 28), 10, ()),
    "report_segnet": ("ReportSegNet", (8, 3, 256, 256), 5, (256, 256)),
    "unet": ("UNet", (16, 3, 128, 128), 5, (128, 128)),
}
