"""Writers of tiny data files in the real formats, for the tests (and their fixtures)."""
from __future__ import annotations

import gzip
import struct

import numpy as np
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
