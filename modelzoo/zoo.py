"""The zoo's face: every family loaded, and models built, reloaded, listed and described.

`build(name, data=..., **overrides)` checks the overrides against the builder's signature and the
`Recipe` fields, builds for the data's description (a user's files, `modelzoo.load_files`) or the
entry's own dataset, and compiles. Importing this module imports the built-in families
(`modelzoo.models`) and those installed packages declare under the `modelzoo.families` entry-point
group, so their `@register` lines have run before any name is looked up.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import importlib
import inspect
import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

import modelzoo.models  # noqa: F401  (registers the built-in families)
from modelzoo import distribute, registry, runs
from modelzoo import weights as published
from modelzoo.data import DatasetInfo, FileData, load_dataset
from modelzoo.data.files import load_files_again
from modelzoo.errors import DataFormatError, InvalidValueError, ModelZooError, unknown_name
from modelzoo.measured import measurements
from modelzoo.recipes import Recipe
from modelzoo.registry import (
    ADAPT_PARAM,
    AUGMENT_PARAM,
    Entry,
    IOSpec,
    ModelSpec,
    client_inputs,
    get_entry,
    list_architectures,
    model_name,
)

__all__ = [
    "BuildRecord",
    "build",
    "copy_weights",
    "describe",
    "get_entry",
    "list_architectures",
    "list_models",
    "load_checkpoint",
    "record_of",
]

RECOMPILED_ON_LOAD = r".*(compile\(\)` was not called|Skipping variable loading)"
"""Keras' load-time warnings for a model with a custom `compile`, which `load_checkpoint` handles."""


FAMILY_PLUGINS = "modelzoo.families"
"""Entry-point group of families that live in other packages: `[project.entry-points."modelzoo.families"]
myfamily = "mypackage.myfamily"` in their pyproject.toml; importing the module registers its entries."""


def load_plugin_families() -> None:
    for point in metadata.entry_points(group=FAMILY_PLUGINS):
        importlib.import_module(point.value)


load_plugin_families()


def instantiate(
    entry: Entry,
    hparams: Mapping[str, Any],
    *,
    data: FileData | None = None,
    adapt_data: tf.data.Dataset | None = None,
    data_dir: str | None = None,
    adapt: bool = True,
    augment: tuple[str, ...] = (),
) -> keras.Model:
    """Call `entry`'s builder for `data`'s description (else the entry's dataset). With `adapt`,
    preprocessing layers are adapted on `adapt_data`, by default the features of the training
    split, loaded only if a layer asks. An image builder gets the transforms `augment` names."""
    info, data = entry.info_for(data)
    kwargs = dict(hparams)
    if AUGMENT_PARAM in inspect.signature(entry.builder).parameters:
        kwargs[AUGMENT_PARAM] = augment
    if ADAPT_PARAM in inspect.signature(entry.builder).parameters:
        kwargs[ADAPT_PARAM] = adapt_source(entry, data, adapt_data, data_dir) if adapt else None
    try:
        return entry.builder(info, model_name(entry.name, info), **kwargs)
    except ModelZooError:  # the data read for adapting was wrong: its own message says how
        raise
    except ValueError as err:
        raise InvalidValueError(f"Cannot build {entry.name} with {dict(hparams)}: {err}") from None


def adapt_source(
    entry: Entry, data: FileData | None, given: tf.data.Dataset | None, data_dir: str | None
) -> Callable[..., tf.data.Dataset]:
    """What a builder adapts on (`AdaptData`): the training features, loaded when called;
    `labelled=True` gives `(features, label)` batches. `given` is features or `(features, label)`
    batches; features alone cannot answer for labels."""

    def train_batches(labelled: bool = False) -> tf.data.Dataset:
        if given is None:
            batches = (
                data.dataset("train", 256)
                if data is not None
                else load_dataset(entry.dataset, "train", batch_size=256, data_dir=data_dir)
            )
        elif isinstance(given.element_spec, tuple):
            batches = given
        elif labelled:
            raise InvalidValueError(
                f"{entry.name} with these settings learns from the training labels as it is built "
                "(naive_bayes=True): pass adapt_data= as (text, label) batches, or naive_bayes=False."
            )
        else:
            return given
        return batches if labelled else batches.map(lambda features, label: features)

    return train_batches


def build(
    name: str,
    *,
    data: FileData | None = None,
    data_dir: str | None = None,
    adapt_data: tf.data.Dataset | None = None,
    strategy: tf.distribute.Strategy | str | None = None,
    init_from: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    **overrides: Any,
) -> keras.Model:
    """A compiled functional `keras.Model` of architecture or entry `name`.

    With `data` (`modelzoo.load_files(...)`), the model takes the data's inputs and classes: an
    architecture (`cnn`) with its default hyperparameters and recipe, or an entry (`cnn_mnist`)
    with its tuned ones; the recipe's loss follows the head (binary, multi-class, regression).
    `overrides` are hyperparameters (`hidden_units=256`) or recipe fields (`learning_rate=3e-4`).
    Weights are initialised from the recipe's seed, so two builds with the same arguments agree.
    With a `strategy` (object or name: see `modelzoo.distribute`), the model is built and compiled
    in its scope, so `fit` trains it on every replica. `init_from` (a run folder or `.keras` file)
    copies the weights of every layer that fits (same name, type and shapes) from that model: a
    new head where the class count differs; a text model takes that model's vocabulary too, so its
    embeddings keep their meaning; normalisation keeps this data's statistics. `init_from` also
    takes what `weights` takes.

    `weights` loads trained weights instead of a random start: `"zoo"` (those the package ships
    for the entry), a published folder (`modelzoo publish`), a `.keras` file, the `https://` URL
    of a published folder or `hf://owner/name`; every file is checked against its manifest first,
    and weights of another model, or with other values of the hyperparameters given, are refused.
    """
    if weights is not None:
        if data is not None or init_from is not None:
            raise InvalidValueError(
                "weights= loads a model as it was published; to start from it on your data, "
                "pass it as init_from= instead."
            )
        return load_published(name, weights, strategy=strategy, **overrides)
    entry = get_entry(name)
    info, data = entry.info_for(data)
    if init_from is not None and "preset" in entry.defaults:
        raise InvalidValueError(f"{name} starts from pretrained weights with preset=..., not init_from.")
    hparams, recipe = entry.resolve(overrides, info)
    strategy = distribute.resolve(strategy)
    replicas = strategy.num_replicas_in_sync
    keras.utils.set_random_seed(recipe.seed)
    with strategy.scope():
        model = instantiate(
            entry,
            hparams,
            data=data,
            adapt_data=adapt_data,
            data_dir=data_dir,
            augment=recipe.augmentation(info),
        )
        copied = copy_weights(model, init_from, entry.name, info) if init_from is not None else ()
        recipe = recipe.for_head(info.num_classes, model.outputs[0].shape[-1])
        recipe.compile(model, recipe.steps_per_epoch(info.splits["train"], replicas), replicas)
    init = f"from {init_from} ({len(copied)} layers: {', '.join(copied)})" if copied else None
    model.modelzoo = BuildRecord(name, hparams, recipe, info, data=data, init=init, copied=copied)
    return model


def copy_weights(
    model: keras.Model, source_path: str | os.PathLike, name: str, info: DatasetInfo
) -> tuple[str, ...]:
    """Copy into `model` (of entry `name`, for `info`'s data) the weights of each layer of the
    trained model at `source_path` (a run folder, `.keras` file or published weights) with the
    same name, type and weight shapes; returns the names of the layers copied. The output layers
    are copied only when the source was trained on the same classes: a head that maps features
    to digits would only mislead a model of clothes, even where it has the same shape."""
    trained, classes = trained_model(source_path, name)
    source = {layer.name: layer for layer in trained.layers}
    heads = set() if classes == list(info.class_names) else set(model.output_names)
    copied = []
    for layer in model.layers:
        other = source.get(layer.name)
        if other is None or type(other) is not type(layer) or layer.name in heads:
            continue
        if isinstance(layer, keras.layers.TextVectorization):
            layer.set_vocabulary(other.get_vocabulary()[2:])  # without the padding and OOV tokens it adds
            copied.append(layer.name)
        elif isinstance(layer, keras.layers.Normalization) or not layer.weights:
            continue
        elif [w.shape for w in layer.weights] == [w.shape for w in other.weights]:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
    if not copied:
        raise InvalidValueError(
            f"No layer of {source_path} fits {model.name} (same name, type and weight shapes): "
            "start from a checkpoint of the same architecture."
        )
    return tuple(copied)


def trained_model(source: str | os.PathLike, name: str) -> tuple[keras.Model, list[str] | None]:
    """The model a run folder, `.keras` file or published-weights handle holds (`"zoo"` meaning
    entry `name`'s), not compiled for training, and the class names it was trained on (None when
    nothing says): `init_from` copies its weights."""
    if published.is_handle(source):
        path = published.locate(source, name)
        if path.is_dir():
            return load_keras(path), published.read_manifest(path)["class_names"]
        source = path
    model = load_checkpoint(source)
    record = record_of(model)
    return model, list(record.info.class_names) if record else None


def load_keras(path: Path) -> keras.Model:
    """A `.keras` file or a Keras model folder, loaded in safe mode and not compiled."""
    registry.run_loading_hooks()  # a family's own model classes, registered before a file names them
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=RECOMPILED_ON_LOAD)
        return keras.saving.load_model(path, compile=False, safe_mode=True)


def load_published(
    name: str,
    handle: str | os.PathLike,
    *,
    strategy: tf.distribute.Strategy | str | None = None,
    **overrides: Any,
) -> keras.Model:
    """`build(name, weights=handle, **overrides)`: the trained model published for `name` (an
    entry, or the name a model of a user's data was given), compiled with its recipe changed by
    the recipe fields in `overrides`. Hyperparameters in `overrides` must be those it was
    published with."""
    path = published.locate(handle, name)
    strategy = distribute.resolve(strategy)
    if path.is_dir():  # checked before anything is loaded
        manifest = published.read_manifest(path)
        entry = get_entry(manifest["entry"])
        published.check_settings(manifest, path, name, hparams_in(entry, overrides))
        with strategy.scope():
            model = load_keras(path)
        info = DatasetInfo.from_dict(manifest["dataset"]) if "dataset" in manifest else entry.info
        held = BuildRecord(entry.name, manifest["hyperparameters"], Recipe(**manifest["recipe"]), info)
    else:
        with strategy.scope():
            model = load_checkpoint(path)
        held = record_of(model)
        if held is None:
            raise InvalidValueError(f"{path} holds {model.name!r}, not a model modelzoo built.")
        entry = get_entry(held.entry)
        manifest = {"entry": held.entry, "model": held.name, "hyperparameters": dict(held.hyperparameters)}
        published.check_settings(manifest, path, name, hparams_in(entry, overrides))
    given = hparams_in(entry, overrides)
    entry.resolve(overrides)  # an unknown override is refused as build refuses it
    recipe = held.recipe.replace(**{k: v for k, v in overrides.items() if k not in given})
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        recipe.compile(model, recipe.steps_per_epoch(held.info.splits["train"], replicas), replicas)
    model.modelzoo = replace(held, recipe=recipe, init=f"published weights {handle}")
    return model


def hparams_in(entry: Entry, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters among `overrides` (the rest are recipe fields)."""
    return {k: v for k, v in overrides.items() if k in entry.hparam_types}


def load_checkpoint(path: str | os.PathLike) -> keras.Model:
    """A `.keras` checkpoint, or the best one of a run folder, loaded in Keras safe mode. The
    run folder's `config.json` (beside the checkpoint) says how it was built and for which data, so
    a model of a user's data keeps its inputs and class names. A model whose class overrides
    `compile` (keras-hub tasks) is not recompiled by Keras on load, so an entry's is compiled again
    with its recipe (its optimizer starts afresh)."""
    path = Path(path)
    if path.is_dir():
        path = path / runs.BEST_CHECKPOINT
    if not path.is_file():
        raise ModelZooError(
            f"No checkpoint at {path}: pass a .keras file or a run folder holding {runs.BEST_CHECKPOINT}."
        )
    registry.run_loading_hooks()  # a family's own model classes, registered before a checkpoint names them
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=RECOMPILED_ON_LOAD)
            model = keras.saving.load_model(path, safe_mode=True)
    except Exception as err:
        raise ModelZooError(
            f"Cannot load checkpoint {path} (truncated or not a .keras file?): {err}"
        ) from None
    held = runs.held_config(path.parent)
    if held is not None and "dataset" in held:
        info = DatasetInfo.from_dict(held["dataset"])
        data = load_files_again(path.parent)
        # the description names the path as given, which a relative --data spells differently
        if data is not None and replace(data.info, description=info.description) != info:
            raise DataFormatError(
                f"The files of run {path.parent} ({data.path}) changed since it trained: they now read as "
                "other classes, columns or split sizes; train again on them."
            )
        model.modelzoo = BuildRecord(
            entry=held["entry"],
            hyperparameters=held["hyperparameters"],
            recipe=Recipe(**held["recipe"]),
            info=info,
            data=data,
        )
    record = record_of(model)
    if record is not None and type(model).compile is not keras.Model.compile:
        record.recipe.compile(model, record.recipe.steps_per_epoch(record.info.splits["train"], 1))
    return model


@dataclass(frozen=True)
class BuildRecord:
    """Attached to models made by `build` as `model.modelzoo`: how to make the same model again,
    and the dataset description it was built for (its inputs and class names). `data` is the
    user's data it was built on, when there was any (kept in memory only)."""

    entry: str
    hyperparameters: Mapping[str, Any]
    recipe: Recipe
    info: DatasetInfo
    data: FileData | None = field(default=None, compare=False, repr=False)
    init: str | None = None
    """Where the starting weights came from, when `init_from` copied them."""
    copied: tuple[str, ...] = ()
    """The layers `init_from` copied; `freeze_epochs` trains the others alone first."""

    @property
    def name(self) -> str:
        """The model's own name: the entry's, or `<entry>_<data>` for a user's data."""
        return model_name(self.entry, self.info)


def record_of(model: keras.Model) -> BuildRecord | None:
    """How `model` was built: its attached record, else (for a reloaded `.keras` file whose name
    is an entry's) the entry's defaults, else None."""
    record = getattr(model, "modelzoo", None)
    if isinstance(record, BuildRecord):
        return record
    if model.name in registry.entries() and not registry.entries()[model.name].is_architecture:
        entry = registry.entries()[model.name]
        return BuildRecord(
            entry=entry.name, hyperparameters=entry.defaults, recipe=entry.recipe, info=entry.info
        )
    return None


@functools.cache
def _probe(name: str) -> tuple[int, tuple[IOSpec, ...], tuple[IOSpec, ...]]:
    """Parameter count and I/O of an entry with default hyperparameters (no data is loaded)."""
    entry = get_entry(name)
    model = instantiate(entry, entry.defaults, adapt=False)
    return model.count_params(), client_inputs(entry.info), output_specs(model)


PARAMETER_TABLE = "parameters.json"
"""Each built-in entry's parameter count with its default hyperparameters, so listing the zoo builds
no model. `tests/test_registry.py` checks it against built models; `write_parameter_table()`
rewrites it after an entry changes."""


def parameter_count(name: str) -> int:
    """An entry's parameter count with default hyperparameters: from `PARAMETER_TABLE` when it was
    counted for the same builder, hyperparameters and dataset, else by building the model."""
    entry = get_entry(name)
    known = parameter_table().get(name)
    if known is not None and known["fingerprint"] == fingerprint(entry):
        return known["parameters"]
    return _probe(name)[0]


def fingerprint(entry: Entry) -> str:
    """What an entry's default model depends on: its builder, default hyperparameters and dataset."""
    what = [entry.builder.__module__, entry.builder.__qualname__, dict(entry.defaults), entry.info.to_dict()]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=repr).encode()).hexdigest()[:16]


@functools.cache
def parameter_table() -> dict[str, dict[str, Any]]:
    text = resources.files("modelzoo").joinpath(PARAMETER_TABLE).read_text()
    return json.loads(text)


def write_parameter_table() -> Path:
    """Count every built-in entry's parameters by building it, into `modelzoo/parameters.json`."""
    table = {
        name: {"parameters": _probe(name)[0], "fingerprint": fingerprint(get_entry(name))}
        for name in list_models()
    }
    path = Path(__file__).with_name(PARAMETER_TABLE)
    path.write_text(json.dumps(table, indent=2) + "\n")
    parameter_table.cache_clear()
    return path


def output_specs(model: keras.Model) -> tuple[IOSpec, ...]:
    return tuple(IOSpec(n, tuple(t.shape), str(t.dtype)) for n, t in zip(model.output_names, model.outputs))


def list_models(
    pattern: str = "*",
    *,
    family: str | None = None,
    task: str | None = None,
    dataset: str | None = None,
    max_params: int | None = None,
) -> list[str]:
    """Sorted entry names matching a shell-style `pattern` (as `timm.list_models("*mnist*")`)
    and every filter given."""
    entries = [e for e in registry.entries().values() if not e.is_architecture]
    for option, value, known in (
        ("family", family, {e.family for e in entries}),
        ("task", task, {e.task for e in entries}),
        ("dataset", dataset, {e.dataset for e in entries}),
    ):
        if value is not None and value not in known:
            raise unknown_name(option, value, known)
    names = []
    for name, entry in sorted(registry.entries().items()):
        if entry.is_architecture or not fnmatch.fnmatchcase(name, pattern):
            continue
        if family is not None and entry.family != family:
            continue
        if task is not None and entry.task != task:
            continue
        if dataset is not None and entry.dataset != dataset:
            continue
        if max_params is not None and parameter_count(name) > max_params:
            continue
        names.append(name)
    return names


def describe(model_or_name: keras.Model | str) -> ModelSpec:
    """The typed, printable spec of an entry; given a model `build` made, the spec of that
    instance (its hyperparameters, recipe, parameter count and weights)."""
    if isinstance(model_or_name, str):
        entry = get_entry(model_or_name)
        if entry.is_architecture:
            parameters, inputs, outputs, info = 0, (), (), None
        else:
            (parameters, inputs, outputs), info = _probe(entry.name), entry.info
        name, hyperparameters, recipe, steps = entry.name, entry.defaults, entry.recipe, 0
        weights = weights_of(hyperparameters, recipe)
    else:
        record = record_of(model_or_name)
        if record is None:
            raise InvalidValueError(f"Model {model_or_name.name!r} was not built by modelzoo.build.")
        entry, info = get_entry(record.entry), record.info
        name, hyperparameters, recipe = record.name, record.hyperparameters, record.recipe
        parameters = model_or_name.count_params()
        inputs, outputs = client_inputs(info), output_specs(model_or_name)
        optimizer = getattr(model_or_name, "optimizer", None)
        steps = int(optimizer.iterations.numpy()) if optimizer is not None else 0
        weights = weights_of(hyperparameters, recipe, steps, record.init)
    return ModelSpec(
        name=name,
        family=entry.family,
        task=info.task if info else entry.task,
        dataset=info.name if info else None,
        description=entry.description,
        inputs=inputs,
        outputs=outputs,
        class_names=info.class_names if info else (),
        hyperparameters=dict(hyperparameters),
        recipe=recipe,
        parameters=parameters,
        weights=weights,
        target=entry.target if name == entry.name else None,
        measured=measurements().get(entry.name) if name == entry.name else None,
        search_space=entry.search_space,
        info=info,
        published=published.summary(entry.name, parameters) if name == entry.name and info else "",
        photos=entry.photos if isinstance(model_or_name, str) else {},
        photo_side=entry.photo_side if isinstance(model_or_name, str) else None,
    )


def weights_of(
    hyperparameters: Mapping[str, Any], recipe: Recipe, trained_steps: int = 0, init: str | None = None
) -> str:
    """Where a model's weights come from: a pretrained preset, another checkpoint (`init`, as
    `init_from` describes it) or a seeded random start, and how many optimizer steps it has
    been trained since."""
    preset = hyperparameters.get("preset")
    if preset:
        origin = f"from preset {preset!r}"
    elif init:
        origin = init
    else:
        origin = f"random initialisation (seed {recipe.seed})"
    return f"{origin}, trained {trained_steps:,} steps since" if trained_steps else origin
