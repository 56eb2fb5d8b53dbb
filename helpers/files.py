"""Writing files so that an interruption never leaves a half-written one.

Each writer puts the data in a temporary file beside the target (same folder, so the
same file system) and renames it over the target with ``os.replace``, which is atomic:
a reader sees the old file or the new one, never a truncated mix. If the write fails,
the temporary file is removed and the old file stays as it was.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path | str):
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    For writers that take a file name (``fig.savefig``, ``torch.save``)::

        with atomic_path("figure.png") as tmp:
            fig.savefig(tmp, format="png")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a hidden name of this process's own; created by the writer with the usual permissions
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8) through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_bytes(path: Path | str, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)
