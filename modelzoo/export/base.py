"""What every export target shares: the layout `<root>/<name>/<version>/` that TF Serving (and
anyone who ships versions) watches, the rules for names and versions, and the target type.

A version is written under a temporary name and renamed into place only when complete
(`atomic.partial_path`), so a watcher never sees half of one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from modelzoo.errors import InvalidValueError, ModelZooError
from modelzoo.zoo import BuildRecord, record_of

Examples = dict[str, np.ndarray]
"""Inputs by input name, as a client sends them: pixels, texts, or a table's columns."""


@dataclass(frozen=True)
class Written:
    """What a target wrote into a version folder, for the model card."""

    card: dict[str, Any]
    """The target's own card fields: the interface it answers with, its check against Keras."""
    readme: list[str]
    """Its lines of the card's README: what it was checked against, how to call it."""
    card_dir: str = "."
    """Where the card goes inside the version folder (`assets.extra` for a SavedModel, where TF
    Serving expects extra files)."""


@dataclass(frozen=True)
class ExportTarget:
    """One export format. `write` fills the (temporary) version folder and checks it against the
    Keras model; `check` holds it against the versions before it; `publish` refreshes files at
    the root after the version is in place."""

    name: str
    default_root: str
    write: Callable[[keras.Model, BuildRecord | None, Path, str, Examples | None], Written | None]
    check: Callable[[Path, Path, int], None]
    refuse: Callable[[BuildRecord | None], None] = field(default=lambda record: None)
    """Raises, before anything is written, for a model this target cannot carry."""
    publish: Callable[[Path], None] | None = None


def versions_in(base: Path) -> list[int]:
    """Integer version folders under a model's base path, ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


MODEL_NAME = re.compile(r"[A-Za-z0-9_.-]+")
"""A served model's name: one path component, as TF Serving's model names and base paths take it."""


class ExportExistsError(ModelZooError, FileExistsError):
    """The version folder exists and was not to be replaced."""


def check_model_name(name: str) -> None:
    """Refuse names that are not one plain path component (`../evil` would write beside the root)."""
    if not MODEL_NAME.fullmatch(name) or name in (".", ".."):
        raise InvalidValueError(
            f"Model name {name!r} is not one path component of letters, digits, '_', '.' and '-', "
            "as TF Serving's model names are: pick one such as 'cnn_photos'."
        )


def check_export_dir(export_dir: Path) -> None:
    """Refuse, before any training, an export root that is a file or cannot be written."""
    existing = next(p for p in (export_dir, *export_dir.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise InvalidValueError(
            f"--export-dir {export_dir}: {existing} is a file, not a folder; pass a folder to export into."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidValueError(
            f"--export-dir {export_dir}: {existing} cannot be written by this user; pass one you can write."
        )


def version_folder(export_dir: str | os.PathLike, name: str, version: int | None, overwrite: bool) -> Path:
    """`<export_dir>/<name>/<version>` (default: the next integer), checked: a valid name, a
    positive version, not an existing one unless `overwrite`."""
    check_model_name(name)
    base = Path(export_dir) / name
    if version is None:
        version = (versions_in(base) or [0])[-1] + 1
    if version < 1:
        raise InvalidValueError(f"version must be a positive integer, got {version}.")
    target = base / str(version)
    if target.exists() and not overwrite:
        raise ExportExistsError(
            f"{target} already exists; pick another version, or replace it (overwrite=True, --overwrite)."
        )
    return target


def served_name(model: keras.Model, name: str | None) -> str:
    """The name `model` is served under: its own (an entry's, or `<architecture>_<data>` for a
    model of a user's data). Another model's name is refused: TF Serving would serve this model
    as that one's newest version."""
    record = record_of(model)
    own = record.name if record else model.name
    if name is not None and name != own:
        raise InvalidValueError(
            f"This model is {own!r}, not {name!r}: exported under {name!r}, it would be served as a new "
            f"version of another model. Export it as {own!r}."
        )
    return own


def class_names_of(version_dir: Path, card_dir: str) -> list[str] | None:
    card = version_dir / card_dir / "model_card.json"
    return json.loads(card.read_text()).get("class_names") if card.is_file() else None


def check_same_interface(
    written: Path, base: Path, version: int, interface_of: Callable[[Path], dict[str, str]], card_dir: str
) -> None:
    """A new version must answer the clients of the versions before it: the same signatures
    (inputs, outputs, dtypes, shapes: `interface_of` reads them from a version folder) and class
    names as the newest other version."""
    others = [v for v in versions_in(base) if v != version]
    if not others:
        return
    previous = base / str(others[-1])
    before, now = interface_of(previous), interface_of(written)
    for key in sorted(before.keys() | now.keys()):
        if before.get(key) != now.get(key):
            raise InvalidValueError(
                f"{base.name} version {version} would not answer the clients of version {others[-1]}: "
                f"signature {key!r} is {now.get(key, 'missing')} here, {before.get(key, 'missing')} there. "
                "Export it under its own name, or remove the older versions first."
            )
    names_before, names_now = class_names_of(previous, card_dir), class_names_of(written, card_dir)
    if names_before is not None and names_now is not None and names_before != names_now:
        raise InvalidValueError(
            f"{base.name} version {version} names its classes {names_now}, version {others[-1]} "
            f"{names_before}: clients would read one class as another. Export it under its own name."
        )
