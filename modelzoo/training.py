"""`fit` and `evaluate` with an entry's recipe, and the run folder a training run leaves behind.

A run folder (`runs/<entry>/<timestamp>/`) holds the best `.keras` checkpoint, `config.json` (what
was trained, with which recipe and versions), `history.json`, `curves.png` and, after evaluation,
`metrics.json`. Each file is written atomically.
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from modelzoo import atomic
from modelzoo.data import load_dataset
from modelzoo.errors import DataFormatError, InvalidValueError, ModelZooError
from modelzoo.recipes import BEST_CHECKPOINT, Recipe
from modelzoo.registry import BuildRecord, build, get_entry, record_of

Data = tf.data.Dataset | tuple[np.ndarray, np.ndarray]
RECOMPILED_ON_LOAD = r".*(compile\(\)` was not called|Skipping variable loading)"
"""Keras' load-time warnings for a model with a custom `compile`, which `load_checkpoint` handles."""


def fit(
    model_or_name: keras.Model | str,
    train: Data | None = None,
    val: Data | None = None,
    *,
    run_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    verbose: str | int = "auto",
    **overrides: Any,
) -> keras.callbacks.History:
    """Train with the entry's recipe: its batch size, epochs and callbacks; returns the History.

    `train`/`val` are batched `tf.data` datasets or `(x, y)` arrays (batched with the recipe's
    batch size). Left out, they are the entry's own train and validation splits. A name is built
    first (`overrides` may then hold hyperparameters too); for a built model, `overrides` are
    recipe fields, and the model is recompiled when they change how it compiles. A plain Keras
    model keeps its own compile; the default `Recipe` and `overrides` set how it is fitted.
    With `run_dir`, the best checkpoint, history and curves are written there.
    """
    if isinstance(model_or_name, str):
        model = build(model_or_name, data_dir=data_dir, **overrides)
        record = record_of(model)
    else:
        model = model_or_name
        record = record_of(model)
        if record is not None and overrides:
            record = _apply_recipe_overrides(model, record, train, overrides)
    recipe = record.recipe if record else Recipe().replace(**overrides)
    if train is None:
        if record is None:
            raise InvalidValueError(
                f"Model {model.name!r} is not a modelzoo entry, so it has no default dataset; "
                "pass train=(x, y) or a batched tf.data.Dataset."
            )
        dataset = get_entry(record.entry).dataset
        train = load_dataset(
            dataset, "train", batch_size=recipe.batch_size, data_dir=data_dir, seed=recipe.seed
        )
        if val is None:
            val = load_dataset(dataset, "validation", batch_size=recipe.batch_size, data_dir=data_dir)
    callbacks = recipe.make_callbacks(Path(run_dir) if run_dir else None, has_validation=val is not None)
    if run_dir is not None:
        run_path = Path(run_dir)
        write_config(run_path, model, record)
        callbacks.append(RunLog(run_path))
    keras.utils.set_random_seed(recipe.seed)
    kwargs: dict[str, Any] = {
        "epochs": recipe.epochs,
        "callbacks": callbacks,
        "verbose": verbose,
        "shuffle": False,
    }
    if isinstance(train, tuple):
        x, y = train
        kwargs |= {"x": x, "y": y, "batch_size": recipe.batch_size, "shuffle": True}
    else:
        kwargs["x"] = train
    if val is not None:
        kwargs["validation_data"] = val
    try:
        return model.fit(**kwargs)
    except ValueError as err:
        raise DataFormatError(f"The data does not fit {model.name}: {str(err).strip()}") from None


def _apply_recipe_overrides(
    model: keras.Model, record: BuildRecord, train: Data | None, overrides: dict[str, Any]
) -> BuildRecord:
    """Attach the changed recipe to an entry's model, recompiling only when a field that
    compile uses changed (recompiling resets the optimizer's state)."""
    recipe = record.recipe.replace(**overrides)
    model.modelzoo = BuildRecord(record.entry, record.hyperparameters, recipe)
    if recipe.compile_settings() != record.recipe.compile_settings():
        recipe.compile(model, _steps_per_epoch(train, model.modelzoo))
    return model.modelzoo


def _steps_per_epoch(train: Data | None, record: BuildRecord | None) -> int:
    """Steps per epoch for a recompile: from the data when it says, else the entry's split."""
    recipe = record.recipe if record else Recipe()
    if isinstance(train, tuple):
        return recipe.steps_per_epoch(len(train[0]))
    if isinstance(train, tf.data.Dataset) and int(train.cardinality()) > 0:
        return int(train.cardinality())
    if record is not None:
        return recipe.steps_per_epoch(get_entry(record.entry).info.splits["train"])
    return 1


def load_checkpoint(path: str | os.PathLike) -> keras.Model:
    """A `.keras` checkpoint, or the best one of a run folder, loaded in Keras safe mode. A model
    whose class overrides `compile` (keras-hub tasks) is not recompiled by Keras on load, so an
    entry's is compiled again with its recipe (its optimizer starts afresh)."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST_CHECKPOINT
    if not path.is_file():
        raise ModelZooError(
            f"No checkpoint at {path}: pass a .keras file or a run folder holding {BEST_CHECKPOINT}."
        )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=RECOMPILED_ON_LOAD)
            model = keras.saving.load_model(path, safe_mode=True)
    except Exception as err:
        raise ModelZooError(
            f"Cannot load checkpoint {path} (truncated or not a .keras file?): {err}"
        ) from None
    record = record_of(model)
    if record is not None and type(model).compile is not keras.Model.compile:
        record.recipe.compile(model, _steps_per_epoch(None, record))
    return model


def evaluate(
    model: keras.Model,
    name: str | None = None,
    *,
    split: str = "test",
    data_dir: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Metrics of `model` on a split of its entry's dataset (the entry is `name`, else the one
    `model` was built from)."""
    record = record_of(model)
    entry_name = name or (record.entry if record else None)
    if entry_name is None:
        raise InvalidValueError(
            f"Model {model.name!r} is not a modelzoo entry; pass name=... to pick its dataset."
        )
    entry = get_entry(entry_name)
    if record is not None and record.entry != entry.name:
        raise InvalidValueError(f"This model was built as {record.entry!r}, not {entry.name!r}.")
    batch_size = record.recipe.batch_size if record else entry.recipe.batch_size
    data = load_dataset(entry.dataset, split, batch_size=batch_size, data_dir=data_dir)
    return {k: float(v) for k, v in model.evaluate(data, return_dict=True, verbose=0).items()}


def write_config(run_dir: Path, model: keras.Model, record: BuildRecord | None) -> None:
    """`config.json`: the entry, its hyperparameters and recipe, and the software that ran it."""
    config = {
        "entry": record.entry if record else model.name,
        "hyperparameters": dict(record.hyperparameters) if record else {},
        "recipe": (record.recipe if record else Recipe()).to_dict(),
        "versions": versions(),
    }
    atomic.write_text(run_dir / "config.json", json.dumps(config, indent=2, default=list) + "\n")


def versions() -> dict[str, str]:
    """Versions that decide whether a result reproduces."""
    from importlib.metadata import version

    from modelzoo import __version__

    return {
        "modelzoo": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_hub": version("keras-hub"),
        "tensorflow_text": version("tensorflow-text"),
        "python": platform.python_version(),
    }


class RunLog(keras.callbacks.Callback):
    """Writes `history.json` and `curves.png` after every epoch, so a run cut short still
    leaves its curves behind."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.history.setdefault("epoch", []).append(epoch + 1)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        atomic.write_text(self.run_dir / "history.json", json.dumps(self.history, indent=1) + "\n")
        plot_curves(self.history, self.run_dir / "curves.png")


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    """Loss and each metric per epoch, train against validation, one panel each."""
    from matplotlib.figure import Figure

    metrics = [k for k in history if k not in ("epoch", "learning_rate") and not k.startswith("val_")]
    fig = Figure(figsize=(4.5 * len(metrics), 3.6), layout="tight")
    for i, metric in enumerate(metrics, start=1):
        ax = fig.add_subplot(1, len(metrics), i)
        ax.plot(history["epoch"], history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", label="validation")
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    with atomic.partial_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
