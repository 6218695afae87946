"""Export a model for serving: one `export(model, format=...)` over one module per target.

- `savedmodel` (default): the versioned SavedModel layout TensorFlow Serving watches, with named
  signatures, warm-up requests and `models.config` (`savedmodel.py`);
- `litert`: a `.tflite` for the LiteRT interpreter, checked by running it (`litert.py`).

Every target writes `<root>/<name>/<version>/` under the model's own name (`base.py`), checks its
artifact against the Keras model on test examples, and writes the same model card (`card.py`).
A new target is one module with an `ExportTarget`, added to `FORMATS` (docs/extending.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras

from modelzoo import atomic
from modelzoo.errors import unknown_name
from modelzoo.export import litert, savedmodel
from modelzoo.export.base import (
    ExportExistsError,
    ExportTarget,
    check_export_dir,
    check_model_name,
    served_name,
    version_folder,
)
from modelzoo.export.card import sample_examples, write_model_card
from modelzoo.export.savedmodel import graph_ops, serving_outputs
from modelzoo.zoo import record_of

FORMATS: dict[str, ExportTarget] = {target.name: target for target in (savedmodel.TARGET, litert.TARGET)}
DEFAULT_EXPORT_DIR = savedmodel.TARGET.default_root

__all__ = [
    "DEFAULT_EXPORT_DIR",
    "FORMATS",
    "ExportExistsError",
    "check_export_dir",
    "check_model_name",
    "export",
    "export_target",
    "graph_ops",
    "serving_outputs",
    "version_folder",
]


def export_target(format: str) -> ExportTarget:
    if format not in FORMATS:
        raise unknown_name("export format", format, FORMATS)
    return FORMATS[format]


def export(
    model: keras.Model,
    name: str | None = None,
    export_dir: str | os.PathLike | None = None,
    *,
    format: str = "savedmodel",
    version: int | None = None,
    overwrite: bool = False,
    metrics: dict[str, float] | None = None,
    evaluation: dict[str, Any] | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Path:
    """Write `model` as version `version` (default: the next integer) of its own name under
    `export_dir` (default: the target's root, `saved_models` or `litert_models`) and return the
    version folder. `name` may only repeat the model's own name (`served_name`), and a new version
    must keep the signatures and classes of the versions before it.

    An entry's model is checked against Keras on real test examples (when its dataset is at hand:
    `data_dir`, or the user's data it was built on) and gets a model card quoting `metrics` and
    `evaluation` (`Report.summary()`). Any other Keras model is exported as Keras exports it."""
    target = export_target(format)
    export_dir = Path(export_dir if export_dir is not None else target.default_root)
    record = record_of(model)
    name = served_name(model, name)
    target.refuse(record)
    check_export_dir(export_dir)
    folder = version_folder(export_dir, name, version, overwrite)
    version = int(folder.name)
    with atomic.partial_path(folder) as tmp:
        examples = sample_examples(record, data_dir) if record is not None else None
        written = target.write(model, record, tmp, name, examples)
        if written is not None:
            write_model_card(
                tmp, name, version, target.name, record, written, metrics or {}, evaluation, data_dir
            )
        target.check(tmp, folder.parent, version)
    if target.publish is not None:
        target.publish(export_dir)
    return folder
