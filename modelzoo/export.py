"""Export to the versioned SavedModel layout TensorFlow Serving watches: `<root>/<name>/<version>/`.

TF Serving polls the model's base path and loads any new integer folder it sees, so a version is
written under a temporary (non-integer) name and renamed into place only when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from modelzoo import atomic
from modelzoo.errors import InvalidValueError
from modelzoo.registry import record_of

DEFAULT_EXPORT_DIR = "saved_models"


def versions_in(base: Path) -> list[int]:
    """Integer version folders under a model's base path, ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def export(
    model: keras.Model,
    name: str | None = None,
    export_dir: str | os.PathLike = DEFAULT_EXPORT_DIR,
    *,
    version: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `model` as SavedModel version `version` (default: the next integer) of `name`
    (default: its entry name) and return the version folder."""
    record = record_of(model)
    name = name or (record.entry if record else model.name)
    base = Path(export_dir) / name
    if version is None:
        version = (versions_in(base) or [0])[-1] + 1
    if version < 1:
        raise InvalidValueError(f"version must be a positive integer, got {version}.")
    target = base / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; pick another version or pass overwrite=True to replace it."
        )
    with atomic.partial_path(target) as tmp:
        model.export(str(tmp), format="tf_saved_model", verbose=False)
    return target
