"""Shared fixtures: tiny data sets written by the tests themselves."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from helpers import facades


def write_idx(path, array: np.ndarray, compress: bool = False) -> None:
    """Write ``array`` (uint8) as an IDX file, optionally gzip-compressed."""
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


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


def write_facade(folder, name, size=(32, 32), label_max=4, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    photo = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    label = rng.integers(0, label_max + 1, size, dtype=np.uint8)
    Image.fromarray(photo).save(folder / f"{name}.jpg")
    img = Image.fromarray(label, mode="L").convert("P")
    img.putpalette(facades.PALETTE.ravel().tolist())
    img.save(folder / f"{name}.png")
    return photo, label


@pytest.fixture
def tiny_facades(tmp_path):
    """A facade folder with train/ (6), val/ (3) and test_dev/ (2) 32x32 images."""
    root = tmp_path / "facades"
    for split, n in (("train", 6), ("val", 3), ("test_dev", 2)):
        for i in range(n):
            write_facade(root / split, f"img_{i:04d}", seed=hash((split, i)) % 1000)
    return root
