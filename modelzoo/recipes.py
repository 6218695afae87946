"""Declarative compile/fit recipes, shared by entries.

A recipe is everything besides the architecture that decides how well an entry trains: optimizer,
learning-rate schedule, loss, metrics, batch size, epochs and callbacks. Entries pick one of the base
recipes below and change only what differs, so "how is mlp_mnist trained?" has a one-line answer.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import keras
import tensorflow as tf

from modelzoo import runs
from modelzoo.errors import InvalidValueError, unknown_name
from modelzoo.fields import check_value

if TYPE_CHECKING:
    from modelzoo.data.catalog import DatasetInfo

SCHEDULES = ("constant", "cosine")
CALLBACKS = ("early_stopping", "best_checkpoint", "backup", "tensorboard")


def _subclasses_in(module: Any, base: type) -> dict[str, type]:
    """Public classes of a Keras namespace by snake_case name: `SparseCategoricalCrossentropy`
    -> `sparse_categorical_crossentropy`, `AdamW` -> `adamw` (the spellings Keras accepts)."""
    found = {}
    for name, obj in vars(module).items():
        if isinstance(obj, type) and issubclass(obj, base) and obj is not base:
            found[re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", name).lower()] = obj
    return found


def _standalone(cls: type) -> bool:
    """An optimizer made from a learning rate alone (not a wrapper needing an inner optimizer)."""
    params = list(inspect.signature(cls).parameters.values())
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


@keras.saving.register_keras_serializable(package="modelzoo")
class LazyAdam(keras.optimizers.Adam):
    """Adam that updates only the embedding rows a batch looked up, and their moments (TF Addons'
    `LazyAdam`, which Keras 3 lacks). Keras' Adam rewrites all 1.28M of transformer_sst2's embedding
    weights every step: with batches padded to their longest text, that was about half a step.
    Repeated rows are summed before the update, so a row moves once per step."""

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        rows, where = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(tf.cast(gradient.values, variable.dtype), where, tf.size(rows))
        step = tf.cast(self.iterations + 1, variable.dtype)
        alpha = (
            tf.cast(learning_rate, variable.dtype) * tf.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step)
        )
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        m_rows = self.beta_1 * tf.gather(m.value, rows) + (1 - self.beta_1) * values
        v_rows = self.beta_2 * tf.gather(v.value, rows) + (1 - self.beta_2) * tf.square(values)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        self.assign_sub(variable, tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))


OPTIMIZERS = {
    name.replace("_", ""): cls
    for name, cls in _subclasses_in(keras.optimizers, keras.optimizers.Optimizer).items()
    if _standalone(cls)
} | {"lazyadam": LazyAdam}
LOSSES = _subclasses_in(keras.losses, keras.losses.Loss)


AUGMENTATIONS = ("flip", "rotation", "zoom", "translation")
"""The random image transforms a recipe can ask for (`Recipe.augment`)."""


@dataclass(frozen=True)
class Recipe:
    """How an entry is compiled and fitted. Build variants with `replace`, never by mutation.

    `steps_per_execution` is 16, not Keras' 1: sixteen updates per call into the TensorFlow runtime
    run the same steps in the same order and leave less time to per-call overhead (finding
    "steps_per_execution"). Under a
    `tf.distribute` strategy it is 1: Keras 3.15's multi-step loop fails there ("You must feed a value
    for placeholder tensor", keras-team/keras#19246)."""

    name: str = "custom"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    loss: str = "sparse_categorical_crossentropy"
    from_logits: bool = True
    metrics: tuple[str, ...] = ("accuracy",)
    batch_size: int = 128
    length_window: int | None = None
    """Text batches are cut from windows of this many train batches sorted by length (Hugging
    Face's `group_by_length`); None: `default_length_window` (8 up to batch 32, more for larger
    batches); 1: not grouped, each batch a random draw padded to its longest text."""
    epochs: int = 20
    callbacks: tuple[str, ...] = ("early_stopping", "best_checkpoint", "backup", "tensorboard")
    monitor: str = "val_loss"
    patience: int = 3
    jit_compile: bool = False
    steps_per_execution: int = 16
    seed: int = 0
    deterministic: bool = False
    scale_learning_rate: bool = False
    freeze_epochs: int = 0
    """With weights copied from another model (`init_from`), train only the new layers (the head)
    for this many epochs, then everything: the keras.io transfer-learning pattern."""
    augment: str = "auto"
    """Random image transforms in training (Keras preprocessing layers inside the model, so the
    served graph is unchanged): "auto" turns them all on for a user's colour photos and off for
    built-in datasets and grey images (digits, where a flip changes the meaning); "none"; "photo"
    (all of them); or a comma-separated choice of flip, rotation, zoom, translation."""

    _POSITIVE: ClassVar[tuple[str, ...]] = (
        "learning_rate",
        "batch_size",
        "epochs",
        "steps_per_execution",
    )
    _NON_NEGATIVE: ClassVar[tuple[str, ...]] = (
        "warmup_epochs",
        "weight_decay",
        "patience",
        "seed",
        "freeze_epochs",
    )

    def __post_init__(self) -> None:
        for name, tp in self.field_types().items():
            object.__setattr__(self, name, check_value(name, getattr(self, name), tp))
        for name in self._POSITIVE:
            if getattr(self, name) <= 0:
                raise InvalidValueError(f"{name!r} must be > 0, got {getattr(self, name)!r}.")
        if self.length_window is not None and self.length_window <= 0:
            raise InvalidValueError(f"'length_window' must be > 0 or None, got {self.length_window!r}.")
        for name in self._NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise InvalidValueError(f"{name!r} must be >= 0, got {getattr(self, name)!r}.")
        if self.schedule not in SCHEDULES:
            raise unknown_name("schedule", self.schedule, SCHEDULES)
        for callback in self.callbacks:
            if callback not in CALLBACKS:
                raise unknown_name("callback", callback, CALLBACKS)
        for transform in self.augmentation_names():
            if transform not in AUGMENTATIONS:
                raise unknown_name("augmentation", transform, ("auto", "none", "photo", *AUGMENTATIONS))
        if self.optimizer not in OPTIMIZERS:
            raise unknown_name("optimizer", self.optimizer, OPTIMIZERS)
        if self.loss not in LOSSES:
            raise unknown_name("loss", self.loss, LOSSES)
        if self.from_logits and "from_logits" not in inspect.signature(LOSSES[self.loss]).parameters:
            raise InvalidValueError(f"loss {self.loss!r} takes no logits; set from_logits=False.")

    @classmethod
    def field_types(cls) -> dict[str, Any]:
        """Field name -> type hint, the schema that overrides are checked against."""
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    def replace(self, **changes: Any) -> Recipe:
        """A copy with `changes` applied; unknown fields and bad values raise."""
        fields = self.field_types()
        for key in changes:
            if key not in fields:
                raise unknown_name("recipe field", key, fields)
        return dataclasses.replace(self, **changes)

    def augmentation_names(self) -> tuple[str, ...]:
        """The transforms `augment` names, "auto" left to `augmentation`."""
        if self.augment in ("auto", "none"):
            return ()
        if self.augment == "photo":
            return AUGMENTATIONS
        return tuple(name.strip() for name in self.augment.split(","))

    def augmentation(self, info: DatasetInfo) -> tuple[str, ...]:
        """The random transforms an image model of `info`'s data trains with."""
        if not info.is_image:
            return ()
        if self.augment == "auto":
            return AUGMENTATIONS if info.is_user_photos else ()
        return self.augmentation_names()

    def for_head(self, num_classes: int, units: int) -> Recipe:
        """This recipe with the loss and metrics the model's head needs: a regression output
        (0 classes), one sigmoid unit for two classes (`head` in models/common.py), or a logit
        per class (keras-hub's BERT has two for two). An entry on its own dataset already matches;
        on a user's data with another class count only the loss, `from_logits` and metrics change."""
        if num_classes == 0:
            wanted = {"loss": "mean_squared_error", "from_logits": False, "metrics": ("mae",)}
        elif units == 1:
            wanted = {"loss": "binary_crossentropy", "from_logits": False, "metrics": ("accuracy",)}
        else:
            wanted = {
                "loss": "sparse_categorical_crossentropy",
                "from_logits": True,
                "metrics": ("accuracy",),
            }
        if self.loss == wanted["loss"]:
            return self
        return self.replace(**wanted)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def make_loss(self) -> keras.losses.Loss:
        """The Keras loss object; `from_logits` is passed only when set."""
        loss_class = LOSSES[self.loss]
        return loss_class(from_logits=True) if self.from_logits else loss_class()

    def peak_learning_rate(self, replicas: int = 1) -> float:
        """The learning rate, times the replica count with `scale_learning_rate` (the linear
        scaling rule for a global batch `replicas` times larger)."""
        return self.learning_rate * replicas if self.scale_learning_rate else self.learning_rate

    def make_schedule(
        self, steps_per_epoch: int, replicas: int = 1
    ) -> float | keras.optimizers.schedules.LearningRateSchedule:
        """The learning rate, or its schedule over `epochs` (which needs the steps per epoch)."""
        learning_rate = self.peak_learning_rate(replicas)
        if self.schedule == "constant":
            return learning_rate
        warmup_steps = int(self.warmup_epochs * steps_per_epoch)
        total_steps = max(self.epochs * steps_per_epoch, warmup_steps + 1)
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup_steps else learning_rate,
            decay_steps=total_steps - warmup_steps,
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )

    def make_optimizer(self, steps_per_epoch: int, replicas: int = 1) -> keras.optimizers.Optimizer:
        """The optimizer with its learning-rate schedule."""
        config: dict[str, Any] = {"learning_rate": self.make_schedule(steps_per_epoch, replicas)}
        if self.weight_decay:
            config["weight_decay"] = self.weight_decay
        return OPTIMIZERS[self.optimizer](**config)

    def compile_settings(self) -> tuple:
        """The fields `compile` reads; equal settings compile to the same model."""
        schedule_length = (self.epochs, self.batch_size) if self.schedule != "constant" else ()
        return (
            self.optimizer,
            self.learning_rate,
            self.schedule,
            self.warmup_epochs,
            self.weight_decay,
            self.loss,
            self.from_logits,
            self.metrics,
            self.jit_compile,
            self.steps_per_execution,
            self.scale_learning_rate,
            *schedule_length,
        )

    def global_batch_size(self, replicas: int = 1) -> int:
        """`batch_size` is per replica: a synchronous step sees this many examples."""
        return self.batch_size * replicas

    def steps_per_epoch(self, train_size: int, replicas: int = 1) -> int:
        return math.ceil(train_size / self.global_batch_size(replicas))

    def compile(self, model: keras.Model, steps_per_epoch: int, replicas: int = 1) -> None:
        """Compile `model` with this recipe (inside its strategy's scope, if it has one);
        `steps_per_epoch` sets the schedule's length, `replicas` the learning-rate scaling."""
        model.compile(
            optimizer=self.make_optimizer(steps_per_epoch, replicas),
            loss=self.make_loss(),
            metrics=list(self.metrics),
            jit_compile=self.jit_compile,
            # Never more steps per call than an epoch has: Keras' progress bar would read "16/1".
            steps_per_execution=1
            if tf.distribute.has_strategy()
            else min(self.steps_per_execution, steps_per_epoch),
        )

    def make_callbacks(
        self,
        run_dir: Path | None,
        has_validation: bool,
        writers: Sequence[keras.callbacks.Callback] = (),
    ) -> list[keras.callbacks.Callback]:
        """The recipe's callbacks, then `writers` (callbacks that write the epoch's files, such as
        the history), then the backup, which commits the epoch (`runs.AtomicBackup`). Without
        validation data they monitor the training metric; without a run folder, file-writing
        callbacks are left out."""
        monitor = self.monitor if has_validation else self.monitor.removeprefix("val_")
        backup = run_dir is not None and "backup" in self.callbacks
        made: list[keras.callbacks.Callback] = []
        for name in self.callbacks:
            if name == "early_stopping":
                made.append(
                    runs.ResumableEarlyStopping(
                        run_dir, monitor=monitor, patience=self.patience, restore_best_weights=True
                    )
                )
            elif run_dir is None or name == "backup":
                continue
            elif name == "best_checkpoint":
                made.append(
                    runs.AtomicModelCheckpoint(
                        run_dir / runs.BEST_CHECKPOINT, staged=backup, monitor=monitor, save_best_only=True
                    )
                )
            elif name == "tensorboard":
                made.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")))
        return [*made, *writers, *([runs.AtomicBackup(run_dir)] if backup else [])]


CLASSIFIER = Recipe(name="classifier")
"""Multi-class on logits: Adam 1e-3, sparse categorical cross-entropy, accuracy, batch 128,
up to 20 epochs with early stopping on validation loss (patience 3) and the best checkpoint kept."""

CLASSIFIER_COSINE = CLASSIFIER.replace(name="classifier_cosine", schedule="cosine", patience=20)
"""For the image benchmarks (MNIST, Fashion-MNIST, CIFAR-10): Adam 1e-3 decayed to 0 by a cosine
over all 20 epochs. Every epoch runs (patience 20) and the best validation epoch is kept: better
than a constant rate stopped early (measured.json, finding "recipe classifier_cosine")."""

MLP_CLASSIFIER = CLASSIFIER_COSINE.replace(name="mlp_classifier", batch_size=512, learning_rate=4e-3)
"""For the 28x28 MLPs: a 784-128-10 step is so cheap that at batch 128 Keras' per-step work, not
arithmetic, sets the pace. Batch 512 with the linear scaling rule (4x batch, 4x learning rate;
Goyal et al. 2017) trains faster per epoch at no cost in accuracy (finding "recipe mlp_classifier")."""

SMALL_CLASSIFIER = CLASSIFIER.replace(name="small_classifier", batch_size=32, epochs=60, patience=8)
"""For ~1,000-example datasets (scikit-learn digits): small batches for enough steps per epoch,
more epochs, and more patience, since one epoch is a few dozen updates."""

BINARY_CLASSIFIER = CLASSIFIER.replace(
    name="binary_classifier",
    loss="binary_crossentropy",
    from_logits=False,
    batch_size=32,
    epochs=100,
    patience=10,
)
"""One sigmoid output: binary cross-entropy; small tabular data, so small batches and more epochs."""

TEXT_CLASSIFIER = BINARY_CLASSIFIER.replace(name="text_classifier", epochs=10, patience=2)
"""Sentiment from raw text (RNN, small Transformer): Adam 1e-3, batch 32, up to 10 epochs, early
stopping on validation loss after 2 epochs without improvement (these models overfit fast)."""

GRU_SST2 = TEXT_CLASSIFIER.replace(name="gru_sst2", learning_rate=2.3e-3, batch_size=128)
"""`text_classifier` with the learning rate and batch size `modelzoo tune gru_sst2` found on real
SST-2, rounded (finding "recipe gru_sst2")."""

BAG_CLASSIFIER = TEXT_CLASSIFIER.replace(name="bag_classifier", optimizer="lazyadam")
"""`text_classifier` with lazy Adam: a bag's 200,000-row embedding is updated only in the rows a
batch uses, where Adam moves every row every step; on SST-2, 64-73 s a run against 187 s at the
same accuracy (finding "recipe bag_classifier")."""

TRANSFORMER_SST2 = TEXT_CLASSIFIER.replace(
    name="transformer_sst2", optimizer="lazyadam", learning_rate=2e-3, batch_size=64
)
"""`text_classifier` with lazy Adam (only the embedding rows a batch uses are updated), batch 64 and
(by the linear scaling rule) twice the learning rate: more accurate and faster than
`text_classifier` on SST-2 (finding "recipe transformer_sst2")."""

TRANSFER_CLASSIFIER = CLASSIFIER.replace(name="transfer_classifier", batch_size=32, patience=5)
"""A new head on a frozen pretrained backbone (keras.io's transfer-learning guide): Adam 1e-3, batch
32 for enough steps on a few thousand photos, up to 20 epochs, patience 5."""

BERT_FINETUNE = CLASSIFIER.replace(
    name="bert_finetune",
    optimizer="adamw",
    learning_rate=5e-5,
    schedule="cosine",
    warmup_epochs=0.3,
    weight_decay=0.01,
    batch_size=32,
    epochs=3,
    patience=3,
    monitor="val_accuracy",
)
"""Fine-tuning a pretrained BERT as published for compact BERTs (Turc et al. 2019, grid {1e-4, 5e-5,
3e-5} x batch 32 x 3-4 epochs): AdamW 5e-5 with decay 0.01, linear warm-up over the first 10% of
steps then cosine decay to 0, batch 32, 3 epochs, the epoch of best validation accuracy kept. Not
of best validation loss: a fine-tuned classifier grows confident as the rate decays, so its loss
rises while its accuracy still climbs. Every epoch runs (patience 3), as the schedule was planned
for all of them. A BERT built from config starts from random weights and wants more:
learning_rate=1e-3, epochs=10 (finding "recipe bert_finetune")."""

REGRESSION = Recipe(
    name="regression",
    learning_rate=0.5,
    loss="mean_squared_error",
    from_logits=False,
    metrics=("mae",),
    batch_size=32,
    epochs=300,
    patience=20,
)
"""Mean squared error, MAE reported. Targets keep their units (disease progression 25-346), so the
output bias must travel far: Adam at 0.5 gets there in ~15 epochs, and on the convex linear model
reaches the least-squares optimum (closed-form OLS, the target of linear_diabetes)."""

RECIPES: dict[str, Recipe] = {r.name: r for r in list(globals().values()) if isinstance(r, Recipe)}
"""Every recipe above by name, in the order defined: collected from the module rather than listed,
so a recipe added above cannot be left out."""
