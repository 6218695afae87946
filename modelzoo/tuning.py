"""Hyperparameter search with KerasTuner over the ranges each architecture declares beside its builder
(`registry.search_space`): Hyperband by default, Bayesian optimisation or random search as options.

The objective is the entry's target metric on the validation split (never test), or, when that
split is small (`MIN_VALIDATION`) or `folds` asks, its mean over stratified k-fold
cross-validation of the training split. Trials live in a
run folder, `runs/<name>/tune-<timestamp>/`, whose `tune.json` says what is searched; the same
search started again continues there (KerasTuner reloads finished trials and retries the one that
was running). The end writes `best.json`, which `modelzoo train NAME --hparams best.json` reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from modelzoo import atomic, runs
from modelzoo.data import DatasetInfo, FileData, load_dataset
from modelzoo.errors import InvalidValueError, unknown_name
from modelzoo.fields import parse_value
from modelzoo.recipes import Recipe
from modelzoo.registry import Choice, Entry, Float, Int, Range, model_name
from modelzoo.zoo import build, get_entry, record_of

ALGORITHMS = ("hyperband", "bayesian", "random")
TUNE_FILE = "tune.json"
BEST_FILE = "best.json"
SEARCHABLE_RECIPE_FIELDS = (
    "learning_rate",
    "batch_size",
    "weight_decay",
    "warmup_epochs",
    "optimizer",
    "schedule",
)
"""Recipe fields a search may vary (the loss, metrics and epochs are the entry's and the search's own)."""
FRACTIONS = ("dropout",)
"""Hyperparameters that must lie in [0, 1)."""
MIN_VALIDATION = 100
"""Below this many validation examples a trial's score is mostly noise (an accuracy's standard
error reaches 5 points there, more than good settings usually win by), so each trial is scored by
k-fold cross-validation over the training split instead."""
DEFAULT_FOLDS = 5


def parse_range(entry: Entry, key: str, text: str) -> Range:
    """`LOW..HIGH` (integers: an Int range; `/STEP` for a step), `LOW..HIGH[:log]` (a Float
    range) or `A,B,C` (a choice), each value read with the type `key` has in `entry`."""
    tp = entry.override_type(key)
    low, dots, high = text.partition("..")
    if not dots:
        return Choice(tuple(parse_value(key, v.strip(), tp) for v in text.split(",")))
    high, _, scale = high.partition(":")
    high, _, step = high.partition("/")
    if scale not in ("", "log"):
        raise InvalidValueError(f"--search {key}={text}: the scale after ':' can only be 'log'.")
    if tp is int:
        return Int(parse_value(key, low, int), parse_value(key, high, int), int(step or 1))
    return Float(parse_value(key, low, float), parse_value(key, high, float), log=scale == "log")


def search_space_for(entry: Entry, changes: Mapping[str, Range | str] | None = None) -> dict[str, Range]:
    """The entry's declared ranges with `changes` (a range, or its text as `--search` takes it)
    applied, each checked: a known key, ordered ends, values the entry accepts."""
    space = entry.search_space
    searchable = {*entry.hparam_types, *SEARCHABLE_RECIPE_FIELDS}
    for key, value in (changes or {}).items():
        if key not in searchable:
            raise unknown_name(
                "hyperparameter or recipe field", key, searchable, f"to search for {entry.name}"
            )
        space[key] = parse_range(entry, key, value) if isinstance(value, str) else value
    if not space:
        raise InvalidValueError(
            f"{entry.name} declares no search space; give ranges with --search KEY=LOW..HIGH or KEY=A,B,C."
        )
    for key, rng in space.items():
        check_range(entry, key, rng)
    return space


def check_range(entry: Entry, key: str, rng: Range) -> None:
    """Refuse a range the entry cannot take: reversed or empty ends, a log scale through zero, or
    an end the recipe or hyperparameter refuses (a batch size of 0, a dropout of 1)."""
    text = f"{key}={rng}"
    if isinstance(rng, (Int, Float)) and not rng.low < rng.high:
        raise InvalidValueError(f"search range {text}: LOW must be below HIGH.")
    if isinstance(rng, Float) and rng.log and rng.low <= 0:
        raise InvalidValueError(f"search range {text}: a log scale needs LOW > 0.")
    if isinstance(rng, Int) and rng.step < 1:
        raise InvalidValueError(f"search range {text}: the step must be at least 1.")
    for end in rng.ends():
        if key in FRACTIONS and not 0 <= end < 1:
            raise InvalidValueError(f"search range {text} is out of range: {key} must be in [0, 1).")
        try:
            entry.resolve({key: end})
        except InvalidValueError as err:
            raise InvalidValueError(f"search range {text} is out of range: {err}") from None


def objective_of(entry: Entry, recipe: Recipe) -> tuple[str, str]:
    """(validation metric, "max" or "min"): the entry's target metric, else the recipe's first."""
    if entry.target is not None:
        return f"val_{entry.target.metric}", "max" if entry.target.higher_is_better else "min"
    metric = recipe.metrics[0]
    return f"val_{metric}", "max" if metric == "accuracy" else "min"


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """A finished search: its folder, each trial (id, status, score, values) and the best one."""

    name: str
    folder: Path
    objective: str
    trials: tuple[dict[str, Any], ...]
    best: dict[str, Any]
    command: str
    folds: int = 1
    """1: trials scored on the validation split; k: the mean over k folds of the training split."""

    def table(self) -> str:
        """The trials, best first, one line each."""
        keys = sorted({k for t in self.trials for k in t["values"]})
        lines = [f"{'trial':<6} {'status':<10} {self.objective:>12}  " + "  ".join(keys)]
        if self.folds > 1:
            lines.insert(0, f"{self.objective}: the mean over {self.folds} folds of the training split")
        ranked = sorted(self.trials, key=lambda t: t["rank"])
        for t in ranked:
            score = "-" if t["score"] is None else f"{t['score']:.4f}"
            values = "  ".join(f"{shown_value(t['values'].get(k, '-')):>{len(k)}}" for k in keys)
            lines.append(f"{t['trial_id']:<6} {t['status']:<10} {score:>12}  {values}")
        return "\n".join(lines)


def tune(
    name: str,
    *,
    trials: int = 10,
    max_epochs: int | None = None,
    algorithm: str = "hyperband",
    search: Mapping[str, Range | str] | None = None,
    data: FileData | None = None,
    data_dir: str | None = None,
    runs_dir: str | Path = "runs",
    data_arguments: str = "",
    folds: int | None = None,
) -> TuneResult:
    """Search `name`'s hyperparameters with KerasTuner for at most `trials` trials of at most
    `max_epochs` epochs each (default: the recipe's epochs), on `data` (an architecture on the
    user's files) or the entry's dataset. Resumes the newest unfinished search of the same
    settings under `runs_dir/<model>/`. `data_arguments` is repeated in the printed train command.
    `folds`: 1 scores trials on the validation split, k > 1 by stratified k-fold cross-validation
    of the training split; by default k-fold (5) when the validation split is under
    `MIN_VALIDATION` examples, said in a warning."""
    entry = get_entry(name)
    if trials < 1:
        raise InvalidValueError(f"--trials must be at least 1, got {trials}.")
    if algorithm not in ALGORITHMS:
        raise unknown_name("search algorithm", algorithm, ALGORITHMS)
    space = search_space_for(entry, search)
    info, data = entry.info_for(data)
    epochs = max_epochs or entry.recipe.epochs
    if epochs < 1:
        raise InvalidValueError(f"--max-epochs must be at least 1, got {epochs}.")
    objective, direction = objective_of(entry, entry.recipe)
    pool = cross_validation_pool(entry, info, data, data_dir, folds)
    if data is None and pool is None:
        # As `train` does: the entry's dataset is found before the tune folder is made, so offline
        # without it `tune` stops in one line and leaves nothing behind.
        load_dataset(info.name, "train", batch_size=1, data_dir=data_dir)
    config = {
        "entry": name,
        "data": str(data.path) if data is not None else info.name,
        "search_space": {k: str(v) for k, v in space.items()},
        "trials": trials,
        "max_epochs": epochs,
        "algorithm": algorithm,
        "objective": objective,
        **({"folds": pool.folds} if pool else {}),
    }
    base = Path(runs_dir) / model_name(name, info)
    folder = runs.newest(base, "tune-*", lambda d: is_unfinished_search(d, config))
    resumed = folder is not None
    made = [p for p in (Path(runs_dir), base) if not p.exists()]
    if folder is None:
        folder = runs.new_run_dir(Path(runs_dir), model_name(name, info), prefix="tune-")
        atomic.write_text(folder / TUNE_FILE, json.dumps(config, indent=2) + "\n")
    runs.RESUMABLE.append(lambda: bool(finished_trials(folder)))
    try:
        with runs.lock(folder, "tune folder"), atomic_tuner_files():
            finished = len(finished_trials(folder))
            print(
                f"Tune folder: {folder} ({f'resuming, {finished} trials finished' if resumed else 'new'})",
                flush=True,
            )
            return run_search(
                name,
                folder,
                space,
                epochs,
                algorithm,
                trials,
                (objective, direction),
                data,
                data_dir,
                data_arguments,
                pool,
            )
    except BaseException:
        # A new search that failed or was stopped before its first trial finished holds nothing to
        # resume: it leaves nothing behind, as an error caught before the folder was made does.
        if not resumed and not finished_trials(folder):
            shutil.rmtree(folder, ignore_errors=True)
            for parent in reversed(made):
                with contextlib.suppress(OSError):  # not empty: something else was written there
                    parent.rmdir()
            print(f"Tune folder {folder} removed: no trial finished, nothing to resume.", flush=True)
        raise


@dataclasses.dataclass(frozen=True)
class Pool:
    """The training split in memory, with the folds that score each trial."""

    features: Any
    labels: np.ndarray
    folds: int
    indices: tuple[tuple[np.ndarray, np.ndarray], ...]

    def split(self, fold: int, batch_size: int, seed: int) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        """(train, validation) of fold `fold`: the train part shuffled with `seed`."""
        train, held = self.indices[fold]

        def take(rows: np.ndarray) -> tf.data.Dataset:
            features = tf.nest.map_structure(lambda a: a[rows], self.features)
            return tf.data.Dataset.from_tensor_slices((features, self.labels[rows]))

        shuffled = take(train).shuffle(len(train), seed=seed)
        return shuffled.batch(batch_size), take(held).batch(batch_size)


def cross_validation_pool(
    entry: Entry, info: DatasetInfo, data: FileData | None, data_dir: str | None, folds: int | None
) -> Pool | None:
    """The folds to score trials by, or None to score them on the validation split. Refused in
    one line, before anything is written, when a class has fewer training examples than folds."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from modelzoo.training import split_of
    from modelzoo.zoo import BuildRecord

    validation = info.splits["validation"]
    if folds is not None and folds < 1:
        raise InvalidValueError(f"--folds must be 1 (the validation split) or more, got {folds}.")
    if folds == 1 or (folds is None and validation >= MIN_VALIDATION):
        if validation < MIN_VALIDATION:
            warning = f"trials are scored on {validation} validation examples, fewer than {MIN_VALIDATION}"
            print(f"Warning: {warning}: their ranking is mostly noise.", file=sys.stderr, flush=True)
        return None
    folds = folds or DEFAULT_FOLDS
    record = BuildRecord(entry.name, entry.defaults, entry.recipe, info, data=data)
    features, labels = in_memory(split_of(record, "train", 256, data_dir, seed=entry.recipe.seed))
    seed = entry.recipe.seed
    if info.is_regression:
        splitter = KFold(folds, shuffle=True, random_state=seed).split(labels)
    else:
        counts = np.bincount(labels.astype(int), minlength=info.num_classes)
        fewest = int(counts.argmin())
        if counts[fewest] < folds:
            raise InvalidValueError(
                f"{folds}-fold cross-validation needs {folds} training examples of each class; "
                f"{info.class_names[fewest]!r} has {counts[fewest]}: "
                f"pass --folds {max(int(counts[fewest]), 2)}, "
                "or --folds 1 to score on the validation split."
            )
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed).split(
            np.zeros(len(labels)), labels
        )
    if folds is not None and validation < MIN_VALIDATION:
        print(
            f"Warning: the validation split has {validation} examples (< {MIN_VALIDATION}), too few to rank "
            f"trials by: each trial is scored by the mean of {folds}-fold stratified cross-validation over "
            f"the {len(labels)} training examples instead (--folds 1 to use the validation split).",
            file=sys.stderr,
            flush=True,
        )
    return Pool(features, labels, folds, tuple(splitter))


def in_memory(dataset: tf.data.Dataset) -> tuple[Any, np.ndarray]:
    """A finite dataset of (features, label) batches as arrays (features: one array or a dict)."""
    batches = list(dataset.as_numpy_iterator())
    features = tf.nest.map_structure(lambda *parts: np.concatenate(parts), *[b[0] for b in batches])
    return features, np.concatenate([b[1] for b in batches])


def run_search(
    name: str,
    folder: Path,
    space: dict[str, Range],
    epochs: int,
    algorithm: str,
    trials: int,
    goal: tuple[str, str],
    data: FileData | None,
    data_dir: str | None,
    data_arguments: str,
    pool: Pool | None = None,
) -> TuneResult:
    """KerasTuner's search in `folder` (locked by the caller), then `best.json`; `goal` is the
    objective and its direction; with a `pool`, each trial's score is its mean over the folds."""
    import keras_tuner

    entry = get_entry(name)
    objective, direction = goal

    interactive = sys.stdout.isatty()

    class ZooHyperModel(keras_tuner.HyperModel):
        """The entry built with a trial's values; fitted on pipelines of the trial's batch size."""

        def build(self, hp):
            values = {key: rng.declare(hp, key) for key, rng in space.items()}
            return build(name, data=data, data_dir=data_dir, epochs=epochs, **values)

        def fit(self, hp, model, *args, **kwargs):
            from modelzoo.training import plan_schedule, split_of

            record = record_of(model)
            batch = record.recipe.batch_size
            if not interactive:  # KerasTuner's own display rewrites lines with terminal codes
                print(f"Trial: {shown(hp.values)}", flush=True)
            shown_fit = {"verbose": 1 if interactive else 2, "shuffle": False}  # the splits come shuffled
            if pool is None:
                train = split_of(record, "train", batch, data_dir, seed=record.recipe.seed, model=model)
                val = split_of(record, "validation", batch, data_dir, model=model)
                plan_schedule(model, record, train)
                history = model.fit(train, validation_data=val, **kwargs | shown_fit)
                score = best_of(history.history.get(objective, [float("nan")]))
                result: Any = history
            else:  # fold 0 trains the tuner's model (a Hyperband trial may continue it); the rest anew
                scores = []
                for fold in range(pool.folds):
                    fold_model = model if fold == 0 else self.build(hp)
                    fold_kwargs = kwargs if fold == 0 else {**kwargs, "callbacks": [], "initial_epoch": 0}
                    train, val = pool.split(fold, batch, record.recipe.seed + fold)
                    plan_schedule(fold_model, record_of(fold_model), train)
                    history = fold_model.fit(train, validation_data=val, **fold_kwargs | shown_fit)
                    scores.append(best_of(history.history.get(objective, [float("nan")])))
                score = float(np.mean(scores))
                result = {objective: score}
            if not interactive:
                print(f"Trial done: {objective} {score:.4f}", flush=True)
            return result

    def best_of(values: list[float]) -> float:
        return max(values) if direction == "max" else min(values)

    common = dict(
        hypermodel=ZooHyperModel(),
        objective=keras_tuner.Objective(objective, direction),
        directory=str(folder),
        project_name="trials",
        overwrite=False,
        seed=entry.recipe.seed + 1,  # KerasTuner draws a random seed when given 0
    )
    if algorithm == "hyperband":
        tuner = keras_tuner.Hyperband(max_epochs=epochs, factor=3, **common)
        tuner.oracle.max_trials = trials  # Hyperband's brackets, cut at the trial budget
    elif algorithm == "bayesian":
        tuner = keras_tuner.BayesianOptimization(max_trials=trials, **common)
    else:
        tuner = keras_tuner.RandomSearch(max_trials=trials, **common)
    oracle = tuner.oracle
    # KerasTuner writes oracle.json before it takes a finished trial off its running ones, so a search
    # killed between the two reloads that trial as unfinished and runs it again: its own trial.json
    # says COMPLETED, and that is what `finished_trials` (and the resume message) counted.
    oracle._retry_queue = [t for t in oracle._retry_queue if oracle.trials[t].status != "COMPLETED"]
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")  # each trial is a new model: TensorFlow warns of "retracing" every time
    try:
        with warnings.catch_warnings():  # a Hyperband trial continued from its parent: a new optimizer
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            tuner.search(epochs=epochs, verbose=1 if interactive else 0)
    finally:
        logger.setLevel(level)

    best_trial = tuner.oracle.get_best_trials(1)[0]
    settings = {k: v for k, v in best_trial.hyperparameters.values.items() if not k.startswith("tuner/")}
    ranking = {t.trial_id: i for i, t in enumerate(tuner.oracle.get_best_trials(len(tuner.oracle.trials)))}
    rows = tuple(
        {
            "trial_id": t.trial_id,
            "status": t.status,
            "score": t.score,
            "rank": ranking.get(t.trial_id, len(ranking)),
            "values": {k: v for k, v in t.hyperparameters.values.items() if not k.startswith("tuner/")},
        }
        for t in tuner.oracle.trials.values()
    )
    sets = " ".join(
        f"--set {k}={v:.6g}" if isinstance(v, float) else f"--set {k}={v}" for k, v in settings.items()
    )
    command = f"modelzoo train {name}{' ' + data_arguments if data_arguments else ''} {sets}"
    best = {
        "entry": name,
        "objective": objective,
        "direction": direction,
        "score": best_trial.score,
        "trial_id": best_trial.trial_id,
        "trials": len(rows),
        "settings": settings,
        "command": command,
    }
    if pool is not None:
        best["folds"] = pool.folds
    atomic.write_text(folder / BEST_FILE, json.dumps(best, indent=2) + "\n")
    return TuneResult(name, folder, objective, rows, best, command, pool.folds if pool else 1)


def shown_value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def shown(values: Mapping[str, Any]) -> str:
    """A trial's values as `key=value` (KerasTuner's bookkeeping keys left out)."""
    return ", ".join(f"{k}={shown_value(v)}" for k, v in values.items() if not k.startswith("tuner/"))


def finished_trials(folder: Path) -> list[Path]:
    """The trial folders KerasTuner has marked COMPLETED."""
    done = []
    for path in sorted((folder / "trials").glob("trial_*/trial.json")):
        if runs.read_json(path, folder).get("status") == "COMPLETED":
            done.append(path.parent)
    return done


def is_unfinished_search(folder: Path, config: dict[str, Any]) -> bool:
    """A search folder with the same settings and no `best.json` yet."""
    held = folder / TUNE_FILE
    return held.is_file() and not (folder / BEST_FILE).exists() and runs.read_json(held) == config


@contextlib.contextmanager
def atomic_tuner_files() -> Iterator[None]:
    """KerasTuner writes its oracle, tuner and trial states in place (`utils.save_json`), so a
    search killed mid-write left a truncated JSON file that the next run failed to parse. While
    a search runs here, each is written to a temporary file and renamed over the old one."""
    from keras_tuner.src import utils

    def save_json(path: str, obj: Any) -> str:
        text = json.dumps(obj)
        atomic.write_text(Path(path), text)
        return text

    original = utils.save_json
    utils.save_json = save_json
    try:
        yield
    finally:
        utils.save_json = original


def read_best(path: str | Path, name: str) -> dict[str, Any]:
    """The settings of a `best.json` for `name`, as `--hparams` takes them."""
    path = Path(path)
    try:
        best = json.loads(path.read_text())
        settings, entry = best["settings"], best["entry"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InvalidValueError(
            f"--hparams {path}: not a best.json written by modelzoo tune ({err})."
        ) from None
    if entry != name:
        raise InvalidValueError(f"--hparams {path} holds settings tuned for {entry}, not {name}.")
    return dict(settings)
