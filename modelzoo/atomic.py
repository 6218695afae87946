"""Writes that land whole or not at all: a temporary sibling, then one rename.

A run killed mid-write, or a server polling a folder (TF Serving watches export roots), must
never see a half-written file or directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def partial_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling name to write `path` to (file or folder); rename it into
    place on success, remove it on failure. An existing `path` is replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    target = tmp / path.name
    try:
        yield target
        if path.is_dir() and target.is_dir():
            old = tmp / f"{path.name}.old"
            os.replace(path, old)
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
