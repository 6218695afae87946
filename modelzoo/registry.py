"""The model registry: entries are declared with `@register` beside the code that builds them.

An entry is a builder (a function returning an uncompiled functional `keras.Model`) plus its
dataset, default hyperparameters, recipe and target metric. `build(name, **overrides)` checks the
overrides against the builder's signature and the `Recipe` fields, builds, and compiles.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import keras
import tensorflow as tf

from modelzoo import distribute
from modelzoo.data import DatasetInfo, dataset_info, load_dataset
from modelzoo.errors import InvalidValueError, unknown_name
from modelzoo.fields import check_value
from modelzoo.recipes import Recipe

Builder = Callable[..., keras.Model]
ADAPT_PARAM = "adapt_data"
"""A builder that declares this parameter receives a callable returning the training features
(batched), to adapt preprocessing layers that live inside the model (Normalization,
TextVectorization). It is None when no adaptation is wanted (`describe` only counts parameters)."""
AdaptData = Callable[[], tf.data.Dataset] | None


@dataclass(frozen=True)
class Target:
    """The value an entry's recipe must reach on the real test split, give or take `tolerance`."""

    metric: str
    value: float
    tolerance: float
    higher_is_better: bool = True
    split: str = "test"

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
            f"on {self.split}"
        )


@dataclass(frozen=True)
class Measurement:
    """A metric measured by running the entry's recipe on real data, and how to reproduce it."""

    metric: str
    value: float
    split: str
    date: str
    command: str
    machine: str

    def __str__(self) -> str:
        return f"{self.metric} {self.value:.4f} on {self.split} ({self.date}, {self.machine}): {self.command}"


@dataclass(frozen=True)
class Entry:
    """One registered model: what `build`, `describe` and `list_models` know about a name."""

    name: str
    family: str
    dataset: str
    builder: Builder = field(repr=False)
    defaults: Mapping[str, Any]
    hparam_types: Mapping[str, Any]
    recipe: Recipe
    target: Target | None
    description: str

    @property
    def info(self) -> DatasetInfo:
        return dataset_info(self.dataset)

    @property
    def task(self) -> str:
        return self.info.task

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
        adapt_data: tf.data.Dataset | None = None,
        data_dir: str | None = None,
        adapt: bool = True,
    ) -> keras.Model:
        """Call the builder. With `adapt`, preprocessing layers are adapted on `adapt_data`,
        by default the features of the entry's training split, loaded only if a layer asks."""
        kwargs = dict(hparams)
        if ADAPT_PARAM in inspect.signature(self.builder).parameters:
            if adapt_data is not None:
                kwargs[ADAPT_PARAM] = lambda: adapt_data
            elif adapt:
                kwargs[ADAPT_PARAM] = lambda: load_dataset(
                    self.dataset, "train", batch_size=256, data_dir=data_dir
                ).map(lambda features, label: features)
            else:
                kwargs[ADAPT_PARAM] = None
        try:
            return self.builder(self.info, self.name, **kwargs)
        except ValueError as err:
            raise InvalidValueError(f"Cannot build {self.name} with {dict(hparams)}: {err}") from None


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
    dataset: str
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

    def __str__(self) -> str:
        info = dataset_info(self.dataset)
        splits = " / ".join(f"{n} {s}" for s, n in info.splits.items())
        classes = (
            f"{len(self.class_names)}: {', '.join(self.class_names)}"
            if self.class_names
            else "- (regression)"
        )
        recipe = ", ".join(f"{k}={v}" for k, v in self.recipe.to_dict().items() if k != "name")
        rows = [
            ("family", self.family),
            ("task", self.task),
            ("dataset", f"{self.dataset} ({splits}; source: {info.source})"),
            ("inputs", "; ".join(map(str, self.inputs))),
            ("outputs", "; ".join(map(str, self.outputs))),
            ("classes", classes),
            ("parameters", f"{self.parameters:,}"),
            ("weights", self.weights),
            ("hyperparams", ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())),
            ("recipe", f"{self.recipe.name}: {recipe}"),
            ("target", str(self.target) if self.target else "none set"),
            ("measured", str(self.measured) if self.measured else "not measured yet"),
        ]
        width = max(len(k) for k, _ in rows)
        body = "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
        return f"{self.name}: {self.description}\n{body}"


_REGISTRY: dict[str, Entry] = {}


def register(
    name: str,
    *,
    dataset: str,
    recipe: Recipe,
    target: Target | None = None,
    family: str | None = None,
    description: str | None = None,
    **defaults: Any,
) -> Callable[[Builder], Builder]:
    """Declare an entry built by the decorated function; stack one decorator per entry.

    The builder is called as `builder(info, name, **hyperparameters)` and returns an uncompiled
    functional model. Its keyword-only parameters (with type hints and defaults) are the entry's
    hyperparameters; `defaults` overrides their values for this entry. `family` defaults to the
    builder's function name.
    """

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(
                f"Entry {name!r} is already registered (by {_REGISTRY[name].builder.__module__})."
            )
        dataset_info(dataset)
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
    data_dir: str | None = None,
    adapt_data: tf.data.Dataset | None = None,
    strategy: tf.distribute.Strategy | str | None = None,
    **overrides: Any,
) -> keras.Model:
    """A compiled functional `keras.Model` for entry `name`.

    `overrides` are hyperparameters (`hidden_units=256`) or recipe fields (`learning_rate=3e-4`).
    Weights are initialised from the recipe's seed, so two builds with the same arguments agree.
    With a `strategy` (object or name: see `modelzoo.distribute`), the model is built and compiled
    in its scope, so `fit` trains it on every replica.
    """
    entry = get_entry(name)
    hparams, recipe = entry.resolve(overrides)
    strategy = distribute.resolve(strategy)
    replicas = strategy.num_replicas_in_sync
    keras.utils.set_random_seed(recipe.seed)
    with strategy.scope():
        model = entry.instantiate(hparams, adapt_data=adapt_data, data_dir=data_dir)
        recipe.compile(model, recipe.steps_per_epoch(entry.info.splits["train"], replicas), replicas)
    model.modelzoo = BuildRecord(entry=name, hyperparameters=hparams, recipe=recipe)
    return model


@dataclass(frozen=True)
class BuildRecord:
    """Attached to models made by `build` as `model.modelzoo`: how to make the same model again."""

    entry: str
    hyperparameters: Mapping[str, Any]
    recipe: Recipe


def record_of(model: keras.Model) -> BuildRecord | None:
    """How `model` was built: its attached record, else (for a reloaded `.keras` file whose name
    is an entry's) the entry's defaults, else None."""
    record = getattr(model, "modelzoo", None)
    if isinstance(record, BuildRecord):
        return record
    _load_builtin_models()
    if model.name in _REGISTRY:
        entry = _REGISTRY[model.name]
        return BuildRecord(entry=entry.name, hyperparameters=entry.defaults, recipe=entry.recipe)
    return None


@functools.cache
def _probe(name: str) -> tuple[int, tuple[IOSpec, ...], tuple[IOSpec, ...]]:
    """Parameter count and I/O of an entry with default hyperparameters (no data is loaded)."""
    entry = get_entry(name)
    model = entry.instantiate(entry.defaults, adapt=False)

    return model.count_params(), (client_input(entry.info),), output_specs(model)


def output_specs(model: keras.Model) -> tuple[IOSpec, ...]:
    return tuple(IOSpec(n, tuple(t.shape), str(t.dtype)) for n, t in zip(model.output_names, model.outputs))


def client_input(info: DatasetInfo) -> IOSpec:
    """What a caller passes in: one named batch of raw strings, pixels or features (a keras-hub
    model tokenizes inside its attached preprocessor, so its graph inputs are token ids)."""
    return IOSpec(info.input_name, (None, *info.input_shape), "string" if info.is_text else "float32")


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
    names = []
    for name, entry in sorted(_REGISTRY.items()):
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        if family is not None and entry.family != family:
            continue
        if task is not None and entry.task != task:
            continue
        if dataset is not None and entry.dataset != dataset:
            continue
        if max_params is not None and _probe(name)[0] > max_params:
            continue
        names.append(name)
    return names


def describe(model_or_name: keras.Model | str) -> ModelSpec:
    """The typed, printable spec of an entry; given a model `build` made, the spec of that
    instance (its hyperparameters, recipe, parameter count and weights)."""
    if isinstance(model_or_name, str):
        entry = get_entry(model_or_name)
        parameters, inputs, outputs = _probe(entry.name)
        record = BuildRecord(entry.name, entry.defaults, entry.recipe)
        steps = 0
    else:
        record = record_of(model_or_name)
        if record is None:
            raise InvalidValueError(f"Model {model_or_name.name!r} was not built by modelzoo.build.")
        entry = get_entry(record.entry)
        parameters = model_or_name.count_params()
        inputs, outputs = (client_input(entry.info),), output_specs(model_or_name)
        optimizer = getattr(model_or_name, "optimizer", None)
        steps = int(optimizer.iterations.numpy()) if optimizer is not None else 0
    return ModelSpec(
        name=entry.name,
        family=entry.family,
        task=entry.task,
        dataset=entry.dataset,
        description=entry.description,
        inputs=inputs,
        outputs=outputs,
        class_names=entry.info.class_names,
        hyperparameters=dict(record.hyperparameters),
        recipe=record.recipe,
        parameters=parameters,
        weights=weights_of(record, steps),
        target=entry.target,
        measured=measurements().get(entry.name),
    )


def weights_of(record: BuildRecord, trained_steps: int = 0) -> str:
    """Where a model's weights come from: a pretrained preset or a seeded random start, and
    how many optimizer steps it has been trained since."""
    preset = record.hyperparameters.get("preset")
    if preset:
        origin = f"from preset {preset!r}"
    else:
        origin = f"random initialisation (seed {record.recipe.seed})"
    return f"{origin}, trained {trained_steps:,} steps since" if trained_steps else origin


@functools.cache
def measurements() -> dict[str, Measurement]:
    """Results of real training runs, kept in `modelzoo/measured.json` by whoever ran them."""
    text = resources.files("modelzoo").joinpath("measured.json").read_text()
    return {name: Measurement(**m) for name, m in json.loads(text).items()}


def _load_builtin_models() -> None:
    """Import the model families so their `@register` decorators run."""
    import modelzoo.models  # noqa: F401
