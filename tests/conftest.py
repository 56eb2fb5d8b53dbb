"""Shared fixtures: tiny data sets written by the tests themselves."""
from __future__ import annotations

import numpy as np
import pytest

from tiny_data import write_facade, write_idx


@pytest.fixture
def debian_fashion(tmp_path):
    """A Debian-style folder of the four gzipped IDX files: 30 train / 12 test images,
    labels cycling 0..9, each image filled with its own index (to trace the split)."""
    folder = tmp_path / "debian"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 12)):
        images = np.stack([np.full((28, 28), i, dtype=np.uint8) for i in range(n)])
        images[:, 0, 0] = rng.integers(0, 255, n)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images, compress=True)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10, compress=True)
    return folder


@pytest.fixture
def tiny_facades(tmp_path):
    """A facade folder with train/ (6), val/ (3) and test_dev/ (2) 32x32 images."""
    root = tmp_path / "facades"
    for split, n in (("train", 6), ("val", 3), ("test_dev", 2)):
        for i in range(n):
            write_facade(root / split, f"img_{i:04d}", seed=hash((split, i)) % 1000)
    return root
