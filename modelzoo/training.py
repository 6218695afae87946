"""`fit` and `evaluate` with an entry's recipe, and the run folder a training run leaves behind.

A run folder (`runs/<entry>/<timestamp>/`) holds the best `.keras` checkpoint, `config.json` (what
was trained, with which recipe and versions), `history.json`, `curves.png` and, after evaluation,
`metrics.json`. Each file is written atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from modelzoo import atomic, distribute, evaluation, runs
from modelzoo.data import FileData, data_source, load_dataset
from modelzoo.errors import DataFormatError, InvalidValueError
from modelzoo.evaluation import Report
from modelzoo.recipes import Recipe
from modelzoo.registry import Target
from modelzoo.runs import HISTORY_FILE, is_unfinished
from modelzoo.zoo import BuildRecord, build, get_entry, list_models, load_checkpoint, record_of

Data = tf.data.Dataset | tuple[np.ndarray, np.ndarray]


def fit(
    model_or_name: keras.Model | str,
    train: Data | None = None,
    val: Data | None = None,
    *,
    run_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    strategy: tf.distribute.Strategy | str | None = None,
    data: FileData | None = None,
    verbose: str | int = "auto",
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    **overrides: Any,
) -> keras.callbacks.History:
    """Train with the entry's recipe: its batch size, epochs and callbacks; returns the History.
    `extra_callbacks` (Keras callback objects: a logger, a timer) run after the recipe's own.

    `train`/`val` are batched `tf.data` datasets or `(x, y)` arrays (batched with the recipe's
    batch size). Left out, they are the train and validation splits of the user's data the model
    was built on (`build(name, data=...)`, or `data` here with a name), else of the entry's own
    dataset; a run folder then also gets the data report and split assignment. A name is built
    first (`overrides` may then hold hyperparameters too), in `strategy`'s scope when given; a
    built model trains under the strategy it was built in. For a built model, `overrides` are
    recipe fields, and the model is recompiled when they change how it compiles. A plain Keras
    model keeps its own compile; the default `Recipe` and `overrides` set how it is fitted.

    With `run_dir`, the best checkpoint, history, curves, TensorBoard logs and a backup of the
    last finished epoch are written there; fitting again into a folder whose run was cut short
    resumes after that epoch. Under multi-worker training only the chief writes `run_dir`.
    """
    if isinstance(model_or_name, str):
        model = build(model_or_name, data=data, data_dir=data_dir, strategy=strategy, **overrides)
        record = record_of(model)
    else:
        model = model_or_name
        if strategy is not None and strategy is not model.distribute_strategy:
            raise InvalidValueError(
                f"Model {model.name!r} was built outside this strategy's scope: pass the entry's name "
                "to fit(..., strategy=...), or build it with build(name, strategy=...)."
            )
        record = record_of(model)
        if data is not None and (record is None or record.data is None or record.info != data.info):
            raise InvalidValueError(
                f"Model {model.name!r} was not built for this data: build it with "
                "modelzoo.build(name, data=data), so its inputs and classes are the data's."
            )
        if record is not None and overrides:
            record = _apply_recipe_overrides(model, record, train, overrides)
    recipe = record.recipe if record else Recipe().replace(**overrides)
    strategy = model.distribute_strategy
    batch_size = recipe.global_batch_size(strategy.num_replicas_in_sync)
    if record is not None:
        for given in (train, val):
            check_labels(model, record, given)
    if train is None:
        if record is None:
            raise InvalidValueError(
                f"Model {model.name!r} is not a modelzoo entry, so it has no default dataset; "
                "pass train=(x, y) or a batched tf.data.Dataset."
            )
        train = split_of(record, "train", batch_size, data_dir, seed=recipe.seed, model=model)
        if val is None:
            val = split_of(record, "validation", batch_size, data_dir, model=model)
    if record is not None:
        plan_schedule(model, record, train)
    write_dir = distribute.worker_dir(Path(run_dir), strategy) if run_dir is not None else None
    writers = [RunLog(write_dir)] if write_dir is not None else []
    callbacks = recipe.make_callbacks(write_dir, has_validation=val is not None, writers=writers)
    config = run_config(model, record)
    if write_dir is not None:  # refused before the lock is taken, which would touch the folder
        runs.check_run_dir(write_dir, config)
    with runs.lock(write_dir) if write_dir is not None else contextlib.nullcontext():
        if write_dir is not None:
            runs.check_run_dir(write_dir, config)  # again: another writer may have held the lock since
            source = data_source(record.info, data_dir) if record else "given by the caller"
            runs.write_config(write_dir, config, source, data_dir)
            if record is not None and record.data is not None:
                record.data.write(write_dir)
        return _fit(model, record, recipe, train, val, write_dir, [*callbacks, *extra_callbacks], verbose)


def _fit(
    model: keras.Model,
    record: BuildRecord | None,
    recipe: Recipe,
    train: Data,
    val: Data | None,
    write_dir: Path | None,
    callbacks: list[keras.callbacks.Callback],
    verbose: str | int,
) -> keras.callbacks.History:
    """`model.fit` with the recipe's settings, seeded; `write_dir` is locked by the caller."""
    batch_size = recipe.global_batch_size(model.distribute_strategy.num_replicas_in_sync)
    keras.utils.set_random_seed(recipe.seed)
    if recipe.deterministic:
        tf.config.experimental.enable_op_determinism()
    kwargs: dict[str, Any] = {
        "epochs": recipe.epochs,
        "callbacks": callbacks,
        "verbose": verbose,
        "shuffle": False,
    }
    if isinstance(train, tuple):
        x, y = train
        kwargs |= {"x": x, "y": y, "batch_size": batch_size, "shuffle": True}
        distribute.prepare_for_multi_worker(model, lambda: (x[:batch_size], y[:batch_size]))
    else:
        kwargs["x"] = distribute.shard_by_data(train)
        distribute.prepare_for_multi_worker(model, lambda: next(iter(train)))
    if val is not None:
        kwargs["validation_data"] = distribute.shard_by_data(val) if isinstance(val, tf.data.Dataset) else val
    try:
        if record is not None and record.copied and recipe.freeze_epochs:
            resumed = write_dir is not None and is_unfinished(write_dir)
            return fit_head_first(model, record, kwargs, _steps_per_epoch(train, record), write_dir, resumed)
        return model.fit(**kwargs)
    except ValueError as err:
        raise DataFormatError(f"The data does not fit {model.name}: {str(err).strip()}") from None


@dataclass(frozen=True)
class RunResult:
    """What `train_evaluate_export` left: test metrics, the evaluation report and the files it
    wrote (the chief's; None on other workers), and the export's version folder."""

    run_dir: Path
    metrics: dict[str, float]
    report: Report | None = None
    written: tuple[Path, ...] = ()
    export: Path | None = None


def train_evaluate_export(
    model: keras.Model,
    train: Data | None = None,
    val: Data | None = None,
    run_dir: str | os.PathLike = "runs",
    data_dir: str | os.PathLike | None = None,
    export_dir: str | os.PathLike | None = None,
    verbose: str | int = "auto",
) -> RunResult:
    """The whole job `modelzoo train` does: fit into `run_dir` (locked for the whole job), test
    metrics (`metrics.json`), the evaluation report and its figures, and with `export_dir` the
    SavedModel. Under multi-worker training every worker fits and evaluates; the chief alone
    writes the report and the export."""
    from modelzoo.export import export

    run_dir = Path(run_dir)
    record = record_of(model)
    strategy = model.distribute_strategy
    with runs.lock(distribute.worker_dir(run_dir, strategy)):
        fit(model, train, val, run_dir=run_dir, data_dir=data_dir, verbose=verbose)
        metrics = evaluate(model, split="test", data_dir=data_dir)  # every worker takes part
        if not distribute.is_chief(strategy):
            return RunResult(run_dir, metrics)
        atomic.write_text(run_dir / "metrics.json", json.dumps({"test": metrics}, indent=2) + "\n")
        # Across workers, each batch's predictions would be gathered from all of them: the chief
        # predicts alone, with the best checkpoint (the weights the model holds) outside the strategy.
        alone = load_checkpoint(run_dir) if distribute.spans_workers(strategy) else model
        test = split_of(record, "test", record.recipe.batch_size, data_dir, model=alone)
        raw = raw_examples(record, "test")
        report = evaluation.report(alone, record.info, test, "test", metrics, name=record.name, raw=raw)
        written = tuple(report.write(run_dir))
        path = None
        if export_dir is not None:
            path = export(
                model, None, export_dir, metrics=metrics, evaluation=report.summary(), data_dir=data_dir
            )
        return RunResult(run_dir, metrics, report, written, path)


def fit_head_first(
    model: keras.Model,
    record: BuildRecord,
    kwargs: dict[str, Any],
    steps_per_epoch: int,
    write_dir: Path | None,
    resumed: bool,
) -> keras.callbacks.History:
    """Train the layers `init_from` did not copy (the new head) alone for `freeze_epochs`, then
    every layer (keras.io's transfer-learning recipe); each phase compiles anew, since Keras reads
    `trainable` when it compiles. A resumed run is past the first phase (its backup is of the
    second, the only one backed up), so it goes straight to the second."""
    recipe = record.recipe
    replicas = model.distribute_strategy.num_replicas_in_sync
    frozen = [layer for layer in model.layers if layer.name in record.copied]
    head_epochs = 0 if resumed else min(recipe.freeze_epochs, recipe.epochs)
    history = None
    if head_epochs:
        for layer in frozen:
            layer.trainable = False
        recipe.compile(model, steps_per_epoch, replicas)
        callbacks = [c for c in kwargs["callbacks"] if not isinstance(c, keras.callbacks.BackupAndRestore)]
        history = model.fit(**{**kwargs, "epochs": head_epochs, "callbacks": callbacks})
        if write_dir is not None:  # no backup commits the head's epochs: they are final as they end
            runs.settle_staged(write_dir, head_epochs)
    for layer in frozen:
        layer.trainable = True
    recipe.compile(model, steps_per_epoch, replicas)
    if head_epochs < recipe.epochs:
        first = history.history if history is not None else {}
        history = model.fit(**kwargs, initial_epoch=head_epochs)
        history.history = {k: first.get(k, []) + v for k, v in history.history.items()}
        history.epoch = list(range(len(next(iter(history.history.values()), []))))
    return history


def check_labels(model: keras.Model, record: BuildRecord, data: Data | None) -> None:
    """Refuse labels the model's head cannot learn: class indices outside 0..classes-1 (or
    outside {0, 1} for one sigmoid unit), fractions for classes, text for numbers, and arrays of at
    least ten examples per class that leave classes out (another dataset's classes would be
    served under this one's names). A tf.data dataset is checked on its first batch. Keras would
    train on them without a word (labels 0/1/2 on a sigmoid head end at 50% accuracy)."""
    if data is None:
        return
    if isinstance(data, tf.data.Dataset):
        if data in CHECKED:
            return
        batch = next(iter(data), None)
        if not isinstance(batch, tuple) or len(batch) < 2:
            return
        labels = np.asarray(batch[1])
    else:
        labels = np.asarray(data[1])
    classes = record.info.class_names
    if labels.dtype.kind not in "biuf":
        raise DataFormatError(
            f"Labels for {model.name} must be numbers, got {labels.dtype} ({labels.reshape(-1)[:3]}); "
            "for named classes use modelzoo.load_files, which maps them to indices."
        )
    if not classes or labels.size == 0:
        return
    flat = labels.reshape(-1)
    if np.any(np.mod(flat, 1) != 0):
        raise DataFormatError(
            f"Labels for {model.name} must be class indices, got fractions such as {flat[0]}."
        )
    seen = np.unique(flat.astype(np.int64))
    named = f"{', '.join(classes[:4])}{', ...' if len(classes) > 4 else ''}"
    own_classes = "build the model for your data, modelzoo.build(name, data=modelzoo.load_files(PATH))"
    if seen.min() < 0 or seen.max() >= len(classes):
        raise DataFormatError(
            f"Labels for {model.name} must be class indices 0..{len(classes) - 1} ({named}), got "
            f"{', '.join(map(str, seen[:6]))}: for other classes, {own_classes}."
        )
    if not isinstance(data, tf.data.Dataset) and len(seen) < len(classes) and flat.size >= 10 * len(classes):
        raise DataFormatError(
            f"Labels for {model.name} use {len(seen)} of its {len(classes)} classes ({named}) in {flat.size} "
            f"examples: it would learn and serve names of classes your data does not have. For your "
            f"classes, {own_classes}."
        )


def split_of(
    record: BuildRecord,
    split: str,
    batch_size: int,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    model: keras.Model | None = None,
) -> tf.data.Dataset:
    """A split of the data `record`'s model was built for: the user's files, else the entry's
    dataset. Texts are batched by their length in `model`'s own tokens when it is a text model, in
    windows of the recipe's `length_window` batches."""
    lengths_of = getattr(model, "token_lengths", None)
    window = record.recipe.length_window
    if record.data is not None:
        dataset = record.data.dataset(split, batch_size, seed, lengths_of=lengths_of, length_window=window)
    elif record.info.source == "files":
        raise InvalidValueError(
            f"{record.name} was trained on files ({record.info.description}); load them again with "
            "modelzoo.load_files and pass data=..., or give the split as (x, y)."
        )
    else:
        dataset = load_dataset(
            record.info.name,
            split,
            batch_size=batch_size,
            data_dir=data_dir,
            seed=seed,
            lengths_of=lengths_of,
            length_window=window,
        )
    CHECKED.add(dataset)
    return dataset


CHECKED: weakref.WeakSet = weakref.WeakSet()
"""Pipelines `split_of` made: their labels were checked when the data was read."""


def _apply_recipe_overrides(
    model: keras.Model, record: BuildRecord, train: Data | None, overrides: dict[str, Any]
) -> BuildRecord:
    """Attach the changed recipe to an entry's model, recompiling only when a field that
    compile uses changed (recompiling resets the optimizer's state)."""
    recipe = record.recipe.replace(**overrides)
    model.modelzoo = dataclasses.replace(record, recipe=recipe)
    if recipe.compile_settings() != record.recipe.compile_settings():
        replicas = model.distribute_strategy.num_replicas_in_sync
        with model.distribute_strategy.scope():
            recipe.compile(model, _steps_per_epoch(train, model.modelzoo, replicas), replicas)
    return model.modelzoo


def plan_schedule(model: keras.Model, record: BuildRecord, train: Data) -> None:
    """Plan the learning-rate schedule again for the steps an epoch of `train` really has. `build`
    plans it from the catalogue's train size, which local files need not match (a lone aclImdb
    train folder gives 18,000 reviews to train on where TFDS gives 22,500), and a cosine planned
    for more steps than are run stops short of its end. Only before the first step, and only while
    the model holds the schedule `build` planned: a model its caller compiled keeps its own."""
    recipe = record.recipe
    replicas = model.distribute_strategy.num_replicas_in_sync
    planned = recipe.steps_per_epoch(record.info.splits["train"], replicas)
    steps = _steps_per_epoch(train, record, replicas)
    if recipe.schedule == "constant" or steps == planned or int(model.optimizer.iterations) != 0:
        return
    built = keras.optimizers.schedules.serialize(recipe.make_schedule(planned, replicas))
    if model.optimizer.get_config()["learning_rate"] == built:
        with model.distribute_strategy.scope():
            recipe.compile(model, steps, replicas)


def _steps_per_epoch(train: Data | None, record: BuildRecord | None, replicas: int = 1) -> int:
    """Steps per epoch for a recompile: from the data when it says, else the entry's split."""
    recipe = record.recipe if record else Recipe()
    if isinstance(train, tuple):
        return recipe.steps_per_epoch(len(train[0]), replicas)
    if isinstance(train, tf.data.Dataset) and int(train.cardinality()) > 0:
        return int(train.cardinality())
    if record is not None:
        return recipe.steps_per_epoch(record.info.splits["train"], replicas)
    return 1


def evaluate(
    model: keras.Model,
    name: str | None = None,
    *,
    split: str = "test",
    data_dir: str | os.PathLike | None = None,
    report: bool = False,
) -> dict[str, float] | Report:
    """Metrics of `model` on a split of the data it was built for (a user's files, or its
    entry's dataset); a plain Keras model names the entry whose dataset to use (`name`). With
    `report`, the whole evaluation (`modelzoo.evaluation.Report`): per-class scores, confusion
    matrix, the most confident mistakes."""
    record = record_of(model)
    if record is None:
        if name is None:
            raise InvalidValueError(
                f"Model {model.name!r} is not a modelzoo entry; pass name=... to pick its dataset."
            )
        entry = get_entry(name)
        record = BuildRecord(entry.name, entry.defaults, entry.recipe, entry.info)
    elif name is not None and name not in (record.entry, record.name):
        raise InvalidValueError(f"This model was built as {record.name!r}, not {name!r}.")
    data = split_of(record, split, record.recipe.batch_size, data_dir, model=model)
    metrics = {k: float(v) for k, v in model.evaluate(data, return_dict=True, verbose=0).items()}
    if not report:
        return metrics
    return evaluation.report(
        model, record.info, data, split, metrics, name=record.name, raw=raw_examples(record, split)
    )


def raw_examples(record: BuildRecord, split: str) -> Callable[[int], Any] | None:
    """A table row of the user's files by its place in `split`, as the files hold it."""
    if record.data is None or not record.info.columns:
        return None
    return record.data.splits[split].raw_example


def run_config(model: keras.Model, record: BuildRecord | None) -> dict[str, Any]:
    """What a run trains: the entry, its hyperparameters and recipe, as `config.json` holds them."""
    config = {
        "entry": record.entry if record else model.name,
        "hyperparameters": dict(record.hyperparameters) if record else {},
        "recipe": (record.recipe if record else Recipe()).to_dict(),
    }
    if record is not None and record.info.source == "files":
        config["model"] = record.name
        config["dataset"] = record.info.to_dict()
    if record is not None and record.init:
        config["init_from"] = record.init
    return json.loads(json.dumps(config, default=list))


@dataclass(frozen=True)
class Reproduction:
    """One training of an entry with its recipe, held against the entry's target."""

    entry: str
    metric: str
    value: float
    target: Target
    epochs: int
    seconds: float
    parameters: int
    model: keras.Model | None = field(default=None, compare=False, repr=False)
    """The trained model (its best epoch's weights), for publishing."""

    @property
    def met(self) -> bool:
        return self.target.met_by(self.value)


def quick_entries() -> list[str]:
    """Entries whose data ships with scikit-learn: trained in seconds, with no download."""
    return [name for name in list_models() if get_entry(name).info.source == "sklearn"]


def reproduce(name: str, *, data_dir: str | os.PathLike | None = None, **overrides: Any) -> Reproduction:
    """Train entry `name` from scratch with its recipe and the target's settings (changed by
    `overrides`, hyperparameters or recipe fields) and measure its target metric on the target's
    split: a recipe is a promise, and this checks it."""
    target = get_entry(name).target
    if target is None:
        raise InvalidValueError(f"{name} has no target to reproduce.")
    start = time.perf_counter()
    model = build(name, data_dir=data_dir, **{**target.settings, **overrides})
    history = fit(model, data_dir=data_dir, verbose=0)
    value = evaluate(model, split=target.split, data_dir=data_dir)[target.metric]
    return Reproduction(
        entry=name,
        metric=target.metric,
        value=value,
        target=target,
        epochs=len(history.epoch),
        seconds=time.perf_counter() - start,
        parameters=model.count_params(),
        model=model,
    )


class RunLog(keras.callbacks.Callback):
    """Writes `history.json` and `curves.png` after every epoch, so a run cut short still
    leaves its curves behind. A resumed run continues the history of the epochs it kept."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.history: dict[str, list[float]] | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """On the first epoch of this fit (`epoch` > 0 when resumed), take the history of the
        epochs before it, dropping any logged after the backup it resumed from."""
        if self.history is not None:
            return
        self.history = runs.committed_history(self.run_dir, epoch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.history.setdefault("epoch", []).append(epoch + 1)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        atomic.write_text(self.run_dir / HISTORY_FILE, json.dumps(self.history, indent=1) + "\n")
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
