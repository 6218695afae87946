"""The model registry: entries are declared with `@register` beside the code that builds them.

An *architecture* (`cnn`, `mlp`, `rnn`, ...) is a builder that makes a model for any dataset
description (`DatasetInfo`) of the kinds it takes. An *entry* (`cnn_mnist`) is an architecture with
tuned hyperparameters, a recipe and a target on one dataset. Both are registered with `@register`;
an architecture has no dataset of its own. `build(name, data=..., **overrides)` checks the overrides
against the builder's signature and the `Recipe` fields, builds for the data's description (a
user's files, `modelzoo.load_files`) or the entry's own dataset, and compiles.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import inspect
import json
import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from modelzoo import distribute
from modelzoo.data import DatasetInfo, FileData, dataset_info, load_dataset
from modelzoo.errors import InvalidValueError, ModelZooError, unknown_name
from modelzoo.fields import check_value
from modelzoo.recipes import Recipe

Builder = Callable[..., keras.Model]
ADAPT_PARAM = "adapt_data"
"""A builder that declares this parameter receives a callable returning the training features
(batched), to adapt preprocessing layers that live inside the model (Normalization,
TextVectorization). It is None when no adaptation is wanted (`describe` only counts parameters)."""
AdaptData = Callable[[], tf.data.Dataset] | None
DATA_KINDS = {"image_classification": "image", "text_classification": "text"}
"""Which kind of user data (`FileData.kind`) a dataset's task is; tabular tasks are `table`."""


def data_kind(info: DatasetInfo) -> str:
    return DATA_KINDS.get(info.task, "table")


@dataclass(frozen=True)
class Target:
    """The value an entry's recipe must reach on the real test split, give or take `tolerance`."""

    metric: str
    value: float
    tolerance: float
    higher_is_better: bool = True
    split: str = "test"
    settings: dict[str, Any] = field(default_factory=dict, hash=False)
    """Overrides the value is measured with (a pretrained preset), which `reproduce` trains with:
    an anchor for a fine-tuned encoder says nothing of the same model built from random weights."""

    @property
    def threshold(self) -> float:
        """The worst value that still counts as reaching the target."""
        return self.value - self.tolerance if self.higher_is_better else self.value + self.tolerance

    def met_by(self, measured: float) -> bool:
        return measured >= self.threshold if self.higher_is_better else measured <= self.threshold

    def __str__(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        return (
            f"{self.metric} {sign} {self.threshold:.4g} ({self.value:.4g} ± {self.tolerance:.2g}) "
            f"on {self.split}" + "".join(f", with {key}={value}" for key, value in self.settings.items())
        )


@dataclass(frozen=True)
class Int:
    """A search range of integers from `low` to `high` (both included) in steps of `step`."""

    low: int
    high: int
    step: int = 1

    def declare(self, hp: Any, name: str) -> int:
        return hp.Int(name, self.low, self.high, step=self.step)

    def ends(self) -> tuple[int, ...]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{self.low}..{self.high}" + (f"/{self.step}" if self.step != 1 else "")


@dataclass(frozen=True)
class Float:
    """A search range of floats from `low` to `high`, sampled evenly or (`log`) on a log scale."""

    low: float
    high: float
    log: bool = False

    def declare(self, hp: Any, name: str) -> float:
        return hp.Float(name, self.low, self.high, sampling="log" if self.log else "linear")

    def ends(self) -> tuple[float, ...]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{self.low:g}..{self.high:g}" + (":log" if self.log else "")


@dataclass(frozen=True)
class Choice:
    """A search over the listed values."""

    values: tuple[Any, ...]

    def declare(self, hp: Any, name: str) -> Any:
        return hp.Choice(name, list(self.values))

    def ends(self) -> tuple[Any, ...]:
        return self.values

    def __str__(self) -> str:
        return ",".join(map(str, self.values))


Range = Int | Float | Choice
_SEARCH: dict[Builder, dict[str, Range]] = {}


def search_space(**ranges: Range) -> Callable[[Builder], Builder]:
    """Declare the ranges `modelzoo tune` searches for every entry of the decorated builder: its
    hyperparameters and recipe fields (learning rate, batch size, weight decay). Put it right
    above the builder, under its `@register` lines."""

    def decorator(builder: Builder) -> Builder:
        params = inspect.signature(builder).parameters.values()
        keyword = inspect.Parameter.KEYWORD_ONLY
        hparams = {p.name for p in params if p.kind is keyword and p.name != ADAPT_PARAM}
        names = {*hparams, *Recipe.field_types()}
        for key in ranges:
            if key not in names:
                raise unknown_name(f"hyperparameter of {builder.__name__}", key, names)
        _SEARCH[builder] = dict(ranges)
        return builder

    return decorator


@dataclass(frozen=True)
class Measurement:
    """A metric measured by running the entry's recipe on real data, and how to reproduce it."""

    metric: str
    value: float
    split: str
    date: str
    command: str
    machine: str
    parameters: int | None = None
    """Of the model measured, which differs from the entry's default build when its target names
    settings (bert_sst2 measured with preset=minilm_l6: 22.7M, built from config: 1.4M)."""

    def __str__(self) -> str:
        return f"{self.metric} {self.value:.4f} on {self.split} ({self.date}, {self.machine}): {self.command}"


@dataclass(frozen=True)
class Entry:
    """One registered model: what `build`, `describe` and `list_models` know about a name."""

    name: str
    family: str
    dataset: str | None
    builder: Builder = field(repr=False)
    defaults: Mapping[str, Any]
    hparam_types: Mapping[str, Any]
    recipe: Recipe
    target: Target | None
    description: str
    takes: tuple[str, ...] = ()
    """Kinds of data the builder takes (image, table, text)."""

    @property
    def search_space(self) -> dict[str, Range]:
        """The ranges `modelzoo tune` searches (declared beside the builder with `search_space`)."""
        return dict(_SEARCH.get(self.builder, {}))

    @property
    def is_architecture(self) -> bool:
        """No dataset of its own: it builds for the data it is given."""
        return self.dataset is None

    @property
    def info(self) -> DatasetInfo:
        if self.dataset is None:
            raise InvalidValueError(
                f"{self.name!r} is an architecture with no dataset of its own: pass your data, "
                f"build({self.name!r}, data=modelzoo.load_files(PATH)) or `modelzoo train {self.name} "
                "--data PATH`, or pick an entry (modelzoo.list_models())."
            )
        return dataset_info(self.dataset)

    @property
    def task(self) -> str:
        return self.info.task if self.dataset else "any of: " + ", ".join(self.takes)

    def info_for(self, data: FileData | None) -> tuple[DatasetInfo, FileData | None]:
        """The description the model is built for: the data's (checked against what the builder
        takes; images get the entry's size unless the data was given one), else the entry's."""
        if data is None:
            return self.info, None
        if data.kind not in self.takes:
            raise InvalidValueError(
                f"{self.name} takes {' or '.join(self.takes)} data; {data.path} is {data.kind} data. "
                f"Architectures for it: {', '.join(architectures_for(data.kind))}."
            )
        if data.kind == "image" and self.dataset and not data.image_size_given:
            height, width, _ = self.info.input_shape
            why = f"{self.name}'s input size, the files resized to it"
            data = data.with_input_shape((height, width, data.info.input_shape[2]), why)
        return data.info, data

    def resolve(self, overrides: Mapping[str, Any]) -> tuple[dict[str, Any], Recipe]:
        """Split `overrides` into checked hyperparameters and a recipe; unknown keys raise."""
        hparams = dict(self.defaults)
        recipe_changes = {}
        for key, value in overrides.items():
            if key in self.hparam_types:
                hparams[key] = check_value(key, value, self.override_type(key))
            else:
                self.override_type(key)
                recipe_changes[key] = value
        return hparams, self.recipe.replace(**recipe_changes)

    def override_type(self, key: str) -> Any:
        """The type an override `key` must have: a hyperparameter's or a recipe field's."""
        types = {**{k: v for k, v in Recipe.field_types().items() if k != "name"}, **self.hparam_types}
        if key not in types:
            raise unknown_name("override", key, types, where=f"for {self.name}")
        return types[key]

    def instantiate(
        self,
        hparams: Mapping[str, Any],
        *,
        data: FileData | None = None,
        adapt_data: tf.data.Dataset | None = None,
        data_dir: str | None = None,
        adapt: bool = True,
    ) -> keras.Model:
        """Call the builder for `data`'s description (else the entry's dataset). With `adapt`,
        preprocessing layers are adapted on `adapt_data`, by default the features of the training
        split, loaded only if a layer asks."""
        info, data = self.info_for(data)
        kwargs = dict(hparams)
        if ADAPT_PARAM in inspect.signature(self.builder).parameters:
            if adapt_data is not None:
                kwargs[ADAPT_PARAM] = lambda: adapt_data
            elif adapt and data is not None:
                kwargs[ADAPT_PARAM] = lambda: data.dataset("train", 256).map(lambda features, label: features)
            elif adapt:
                kwargs[ADAPT_PARAM] = lambda: load_dataset(
                    self.dataset, "train", batch_size=256, data_dir=data_dir
                ).map(lambda features, label: features)
            else:
                kwargs[ADAPT_PARAM] = None
        try:
            return self.builder(info, model_name(self.name, info), **kwargs)
        except ModelZooError:  # the data read for adapting was wrong: its own message says how
            raise
        except ValueError as err:
            raise InvalidValueError(f"Cannot build {self.name} with {dict(hparams)}: {err}") from None


def model_name(entry: str, info: DatasetInfo) -> str:
    """An entry's own name, or `<entry>_<data>` for a model of a user's data (`cnn_photos`):
    its run folders and exports are its own, never mistaken for the entry's (`cnn` on a folder
    named `mnist` is `cnn_mnist_files`, not the entry `cnn_mnist`)."""
    if info.source != "files":
        return entry
    name = f"{entry}_{info.name}"
    _load_builtin_models()
    return f"{name}_files" if name in _REGISTRY else name


def architectures_for(kind: str) -> list[str]:
    _load_builtin_models()
    return sorted(n for n, e in _REGISTRY.items() if e.is_architecture and kind in e.takes)


@dataclass(frozen=True)
class IOSpec:
    """A named model input or output as a client sees it."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str

    def __str__(self) -> str:
        dims = ", ".join("None" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {self.dtype}[{dims}]"


@dataclass(frozen=True)
class ModelSpec:
    """What `describe(name)` returns: everything a user needs to choose and reproduce an entry."""

    name: str
    family: str
    task: str
    dataset: str | None
    description: str
    inputs: tuple[IOSpec, ...]
    outputs: tuple[IOSpec, ...]
    class_names: tuple[str, ...]
    hyperparameters: Mapping[str, Any]
    recipe: Recipe
    parameters: int
    weights: str
    target: Target | None
    measured: Measurement | None
    search_space: Mapping[str, Range] = field(default_factory=dict)
    """What `modelzoo tune` searches (declared beside the builder)."""

    info: DatasetInfo | None = None

    def __str__(self) -> str:
        info = self.info
        if info is None:
            dataset = "yours: build(name, data=modelzoo.load_files(PATH)), or modelzoo train NAME --data PATH"
        else:
            splits = " / ".join(f"{n} {s}" for s, n in info.splits.items())
            dataset = f"{info.name} ({splits}; source: {info.source})"
        classes = (
            f"{len(self.class_names)}: {', '.join(self.class_names)}"
            if self.class_names
            else "- (regression)"
            if info is not None
            else "- (the data's)"
        )
        recipe = ", ".join(f"{k}={v}" for k, v in self.recipe.to_dict().items() if k != "name")
        rows = [
            ("family", self.family),
            ("task", self.task),
            ("dataset", dataset),
            ("inputs", "; ".join(map(str, self.inputs))),
            ("outputs", "; ".join(map(str, self.outputs))),
            ("classes", classes),
            ("parameters", f"{self.parameters:,}" if self.parameters else "- (depends on the data)"),
            ("weights", self.weights),
            ("hyperparams", ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())),
            ("recipe", f"{self.recipe.name}: {recipe}"),
            ("target", str(self.target) if self.target else "none set"),
            ("measured", str(self.measured) if self.measured else "not measured yet"),
            ("tune space", ", ".join(f"{k}={v}" for k, v in self.search_space.items()) or "none declared"),
        ]
        width = max(len(k) for k, _ in rows)
        body = "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
        return f"{self.name}: {self.description}\n{body}"


_REGISTRY: dict[str, Entry] = {}
_TAKES: dict[Builder, tuple[str, ...]] = {}
"""What each builder takes, declared once on its architecture and shared by its entries."""


def register(
    name: str,
    *,
    dataset: str | None = None,
    recipe: Recipe,
    target: Target | None = None,
    family: str | None = None,
    description: str | None = None,
    takes: tuple[str, ...] | None = None,
    **defaults: Any,
) -> Callable[[Builder], Builder]:
    """Declare an entry built by the decorated function; stack one decorator per entry.

    The builder is called as `builder(info, name, **hyperparameters)` and returns an uncompiled
    functional model. Its keyword-only parameters (with type hints and defaults) are the entry's
    hyperparameters; `defaults` overrides their values for this entry. `family` defaults to the
    builder's function name. Without a `dataset` the entry is an architecture, built for the data
    it is given; `takes` lists the kinds of data (image, table, text) the builder handles, by
    default its dataset's kind.
    """

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise InvalidValueError(
                f"Entry {name!r} is already registered (by {_REGISTRY[name].builder.__module__})."
            )
        if dataset is None and not takes:
            raise InvalidValueError(
                f"Architecture {name!r} needs takes=(...): the kinds of data it builds for."
            )
        if takes:  # the builder's entries (registered before or after) take what its architectures take
            _TAKES[builder] = tuple(sorted({*_TAKES.get(builder, ()), *takes}))
            for other in [e for e in _REGISTRY.values() if e.builder is builder and not e.is_architecture]:
                _REGISTRY[other.name] = dataclasses.replace(other, takes=_TAKES[builder])
        kinds = takes or _TAKES.get(builder) or (data_kind(dataset_info(dataset)),)
        hints = typing.get_type_hints(builder)
        params = {
            p.name: p
            for p in inspect.signature(builder).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != ADAPT_PARAM
        }
        hparam_types = {key: hints.get(key, Any) for key in params}
        for key in defaults:
            if key not in params:
                raise unknown_name(f"hyperparameter of {builder.__name__}", key, params)
        values = {
            key: check_value(key, defaults.get(key, p.default), hparam_types[key])
            for key, p in params.items()
        }
        _REGISTRY[name] = Entry(
            name=name,
            family=family or builder.__name__,
            dataset=dataset,
            builder=builder,
            defaults=values,
            hparam_types=hparam_types,
            recipe=recipe,
            target=target,
            description=description or (inspect.getdoc(builder) or "").split("\n")[0],
            takes=tuple(kinds),
        )
        _probe.cache_clear()
        return builder

    return decorator


def get_entry(name: str) -> Entry:
    """The registered entry, or an error listing valid names and the closest matches."""
    _load_builtin_models()
    if name not in _REGISTRY:
        raise unknown_name("model", name, _REGISTRY)
    return _REGISTRY[name]


def build(
    name: str,
    *,
    data: FileData | None = None,
    data_dir: str | None = None,
    adapt_data: tf.data.Dataset | None = None,
    strategy: tf.distribute.Strategy | str | None = None,
    init_from: str | os.PathLike | None = None,
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
    embeddings keep their meaning; normalisation keeps this data's statistics.
    """
    entry = get_entry(name)
    info, data = entry.info_for(data)
    if init_from is not None and "preset" in entry.defaults:
        raise InvalidValueError(f"{name} starts from pretrained weights with preset=..., not init_from.")
    hparams, recipe = entry.resolve(overrides)
    strategy = distribute.resolve(strategy)
    replicas = strategy.num_replicas_in_sync
    keras.utils.set_random_seed(recipe.seed)
    with strategy.scope():
        model = entry.instantiate(hparams, data=data, adapt_data=adapt_data, data_dir=data_dir)
        copied = copy_weights(model, init_from) if init_from is not None else ()
        recipe = recipe.for_head(info.num_classes, model.outputs[0].shape[-1])
        recipe.compile(model, recipe.steps_per_epoch(info.splits["train"], replicas), replicas)
    init = f"from {init_from} ({len(copied)} layers: {', '.join(copied)})" if copied else None
    model.modelzoo = BuildRecord(name, hparams, recipe, info, data=data, init=init, copied=copied)
    return model


def copy_weights(model: keras.Model, source_path: str | os.PathLike) -> tuple[str, ...]:
    """Copy into `model` the weights of each layer of the checkpoint at `source_path` with the
    same name, type and weight shapes; returns the names of the layers copied."""
    from modelzoo.training import load_checkpoint

    source = {layer.name: layer for layer in load_checkpoint(source_path).layers}
    copied = []
    for layer in model.layers:
        other = source.get(layer.name)
        if other is None or type(other) is not type(layer):
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
    _load_builtin_models()
    if model.name in _REGISTRY and not _REGISTRY[model.name].is_architecture:
        entry = _REGISTRY[model.name]
        return BuildRecord(
            entry=entry.name, hyperparameters=entry.defaults, recipe=entry.recipe, info=entry.info
        )
    return None


@functools.cache
def _probe(name: str) -> tuple[int, tuple[IOSpec, ...], tuple[IOSpec, ...]]:
    """Parameter count and I/O of an entry with default hyperparameters (no data is loaded)."""
    entry = get_entry(name)
    model = entry.instantiate(entry.defaults, adapt=False)

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


def client_inputs(info: DatasetInfo) -> tuple[IOSpec, ...]:
    """What a caller passes in: one named batch of raw strings, pixels or features, or for a
    table with columns one batch per column (a keras-hub model tokenizes inside its attached
    preprocessor, so its graph inputs are token ids)."""
    if info.columns:
        return tuple(IOSpec(c.name, (None,), c.dtype) for c in info.columns)
    return (IOSpec(info.input_name, (None, *info.input_shape), "string" if info.is_text else "float32"),)


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
    _load_builtin_models()
    entries = [e for e in _REGISTRY.values() if not e.is_architecture]
    for option, value, known in (
        ("family", family, {e.family for e in entries}),
        ("task", task, {e.task for e in entries}),
        ("dataset", dataset, {e.dataset for e in entries}),
    ):
        if value is not None and value not in known:
            raise unknown_name(option, value, known)
    names = []
    for name, entry in sorted(_REGISTRY.items()):
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


def list_architectures() -> list[str]:
    """Names of the architectures: what `build(name, data=...)` makes for a user's data."""
    _load_builtin_models()
    return sorted(name for name, entry in _REGISTRY.items() if entry.is_architecture)


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


@functools.cache
def measurements() -> dict[str, Measurement]:
    """Results of real training runs, kept in `modelzoo/measured.json` by whoever ran them."""
    text = resources.files("modelzoo").joinpath("measured.json").read_text()
    return {name: Measurement(**m) for name, m in json.loads(text).items()}


def _load_builtin_models() -> None:
    """Import the model families so their `@register` decorators run."""
    import modelzoo.models  # noqa: F401
