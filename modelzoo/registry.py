"""The model registry: names, entries, their specs and search spaces. Entries are declared with
`@register` beside the code that builds them (`modelzoo/models/<family>.py`).

An *architecture* (`cnn`, `mlp`, `rnn`, ...) is a builder that makes a model for any dataset
description (`DatasetInfo`) of the kinds it takes. An *entry* (`cnn_mnist`) is an architecture with
tuned hyperparameters, a recipe and a target on one dataset. Both are registered with `@register`;
an architecture has no dataset of its own.

This module is a leaf: it imports no model family and nothing that builds. `modelzoo.zoo` imports
the families (and those of installed plug-ins) and builds, lists and describes.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import keras
import tensorflow as tf

from modelzoo.data.catalog import DatasetInfo, dataset_info
from modelzoo.errors import InvalidValueError, unknown_name
from modelzoo.fields import check_value
from modelzoo.measured import Measurement
from modelzoo.recipes import Recipe

if TYPE_CHECKING:
    from modelzoo.data.files import FileData

Builder = Callable[..., keras.Model]
ADAPT_PARAM = "adapt_data"
"""A builder that declares this parameter receives a callable returning the training features
(batched), to adapt preprocessing layers that live inside the model (Normalization,
TextVectorization); called with `labelled=True`, `(features, label)` batches. It is None when no
adaptation is wanted (`describe` only counts parameters; a saved model's weights are loaded next)."""
AdaptData = Callable[..., tf.data.Dataset] | None
AUGMENT_PARAM = "augment"
"""A builder of image models that declares this parameter receives the random transforms its recipe
asks for (`Recipe.augmentation`): layers that act in training only, inside the model."""
BUILD_CONTEXT = (ADAPT_PARAM, AUGMENT_PARAM)
"""Builder parameters that `build` fills from the data and the recipe: not hyperparameters."""
PHOTO_MIN_SIDE = 32
"""The smallest side, in pixels, of the photos an entry's photo settings are for (`Entry.photos`)."""
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
        """KerasTuner's `Choice` turns False/True into 0/1, which a bool hyperparameter refuses:
        a choice of booleans is its `Boolean` (or `Fixed`, for one value)."""
        if all(isinstance(v, bool) for v in self.values):
            if len(set(self.values)) == 1:
                return hp.Fixed(name, self.values[0])
            return hp.Boolean(name, default=self.values[0])
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
        hparams = {p.name for p in params if p.kind is keyword and p.name not in BUILD_CONTEXT}
        names = {*hparams, *Recipe.field_types()}
        for key in ranges:
            if key not in names:
                raise unknown_name(f"hyperparameter of {builder.__name__}", key, names)
        _SEARCH[builder] = dict(ranges)
        return builder

    return decorator


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
    photos: Mapping[str, Any] = field(default_factory=dict)
    """Hyperparameters and recipe fields that replace the defaults for a user's colour photos
    (`DatasetInfo.is_user_photos`) of at least `PHOTO_MIN_SIDE` pixels a side: a network sized for
    8x8 digit scans overfits 2,000 cat and dog photos (finding "photos")."""
    photo_side: int | None = None
    """The longest side a user's colour photos are read at when no size is given: what a pretrained
    network wants (ImageNet's scale), not the small inferred size a network trained from scratch
    learns best at."""

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
        elif self.photo_side and data.info.is_user_photos and not data.image_size_given:
            height, width, channels = data.info.input_shape
            scale = self.photo_side / max(height, width)
            why = f"{self.name} reads photos at {self.photo_side} px on the longest side"
            why += ", the files resized to it"
            data = data.with_input_shape((round(height * scale), round(width * scale), channels), why)
        return data.info, data

    def photo_settings(self, info: DatasetInfo | None) -> dict[str, Any]:
        """The `photos` settings when `info` describes photos they are for, else none."""
        if info is None or not info.is_user_photos or min(info.input_shape[:2]) < PHOTO_MIN_SIDE:
            return {}
        return dict(self.photos)

    def resolve(
        self, overrides: Mapping[str, Any], info: DatasetInfo | None = None
    ) -> tuple[dict[str, Any], Recipe]:
        """Split `overrides` into checked hyperparameters and a recipe; unknown keys raise. For
        `info`'s data, the entry's photo settings apply first where they fit (`photo_settings`)."""
        hparams = dict(self.defaults)
        recipe_changes = {}
        for key, value in {**self.photo_settings(info), **overrides}.items():
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


def model_name(entry: str, info: DatasetInfo) -> str:
    """An entry's own name, or `<entry>_<data>` for a model of a user's data (`cnn_photos`):
    its run folders and exports are its own, never mistaken for the entry's (`cnn` on a folder
    named `mnist` is `cnn_mnist_files`, not the entry `cnn_mnist`)."""
    if info.source != "files":
        return entry
    name = f"{entry}_{info.name}"
    return f"{name}_files" if name in _REGISTRY else name


def architectures_for(kind: str) -> list[str]:
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
    published: str = ""
    """Trained weights for `build(name, weights=...)`: those the package ships, or how to make some."""
    photos: Mapping[str, Any] = field(default_factory=dict)
    """The settings that replace the defaults for a user's colour photos (`Entry.photos`)."""
    photo_side: int | None = None
    """The longest side a user's photos are read at when no size is given (`Entry.photo_side`)."""

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
        photos = f"colour photos of {PHOTO_MIN_SIDE} px or more a side: " + ", ".join(
            f"{k}={v!r}" for k, v in self.photos.items()
        )
        if self.photo_side:
            photos += f"; photos read at {self.photo_side} px on the longest side unless --image-size says"
        rows = [
            ("family", self.family),
            ("task", self.task),
            ("dataset", dataset),
            ("inputs", "; ".join(map(str, self.inputs))),
            ("outputs", "; ".join(map(str, self.outputs))),
            ("classes", classes),
            ("parameters", f"{self.parameters:,}" if self.parameters else "- (depends on the data)"),
            ("weights", self.weights),
            *([("published", self.published)] if self.published else []),
            ("hyperparams", ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())),
            ("recipe", f"{self.recipe.name}: {recipe}"),
            *([("on photos", photos)] if self.photos or self.photo_side else []),
            ("target", str(self.target) if self.target else "none set"),
            ("measured", str(self.measured) if self.measured else "not measured yet"),
            ("tune space", ", ".join(f"{k}={v}" for k, v in self.search_space.items()) or "none declared"),
        ]
        width = max(len(k) for k, _ in rows)
        body = "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
        return f"{self.name}: {self.description}\n{body}"


_REGISTRY: dict[str, Entry] = {}
_BEFORE_LOADING: list[Callable[[], Any]] = []
Hook = typing.TypeVar("Hook", bound=Callable[[], Any])


def before_loading(hook: Hook) -> Hook:
    """Declare a function run before any checkpoint is loaded: a family whose models are of
    their own Keras class (keras-hub tasks) registers that class with Keras there, so a
    checkpoint can name it. Loading code runs the hooks and names no family."""
    _BEFORE_LOADING.append(hook)
    return hook


def run_loading_hooks() -> None:
    for hook in _BEFORE_LOADING:
        hook()


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
    photos: Mapping[str, Any] | None = None,
    photo_side: int | None = None,
    **defaults: Any,
) -> Callable[[Builder], Builder]:
    """Declare an entry built by the decorated function; stack one decorator per entry.

    The builder is called as `builder(info, name, **hyperparameters)` and returns an uncompiled
    functional model. Its keyword-only parameters (with type hints and defaults) are the entry's
    hyperparameters; `defaults` overrides their values for this entry. `family` defaults to the
    builder's function name. Without a `dataset` the entry is an architecture, built for the data
    it is given; `takes` lists the kinds of data (image, table, text) the builder handles, by
    default its dataset's kind. `photos` (hyperparameters and recipe fields) replace the defaults
    on a user's colour photos (`Entry.photos`), which are read at `photo_side` px on their longest
    side when given (`Entry.photo_side`).
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
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in BUILD_CONTEXT
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
            photos=dict(photos or {}),
            photo_side=photo_side,
        )
        _REGISTRY[name].resolve(photos or {})  # a misspelt or mistyped photo setting fails here
        return builder

    return decorator


def entries() -> Mapping[str, Entry]:
    """Every registered entry and architecture by name (those of the families imported so far)."""
    return _REGISTRY


def get_entry(name: str) -> Entry:
    """The registered entry, or an error listing valid names and the closest matches."""
    if name not in _REGISTRY:
        raise unknown_name("model", name, _REGISTRY)
    return _REGISTRY[name]


def client_inputs(info: DatasetInfo) -> tuple[IOSpec, ...]:
    """What a caller passes in: one named batch of raw strings, pixels or features, or for a
    table with columns one batch per column (a keras-hub model tokenizes inside its attached
    preprocessor, so its graph inputs are token ids)."""
    if info.columns:
        return tuple(IOSpec(c.name, (None,), c.dtype) for c in info.columns)
    return (IOSpec(info.input_name, (None, *info.input_shape), "string" if info.is_text else "float32"),)


def list_architectures() -> list[str]:
    """Names of the architectures: what `build(name, data=...)` makes for a user's data."""
    return sorted(name for name, entry in _REGISTRY.items() if entry.is_architecture)
