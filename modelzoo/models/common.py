"""Pieces every family shares: the named input, the in-model preprocessing, and the task head.

Preprocessing lives inside the model (pixel rescaling, feature normalisation), so a trained model
takes what a client has (raw 0-255 pixels, raw feature values) and an export needs no extra code.
"""

from __future__ import annotations

import keras

from modelzoo.data import DatasetInfo
from modelzoo.registry import AdaptData, client_input

PIXEL_SCALE = 1.0 / 255.0


def model_input(info: DatasetInfo) -> keras.KerasTensor:
    """The named input: `text` (one string per example), or float32 `pixels`/`features`
    (integer pixels are cast on the way in)."""
    spec = client_input(info)
    return keras.Input(shape=spec.shape[1:], name=spec.name, dtype=spec.dtype)


def vectorize(
    inputs: keras.KerasTensor, max_tokens: int, sequence_length: int, adapt_data: AdaptData
) -> keras.KerasTensor:
    """Raw strings -> token ids inside the model (lower-cased, punctuation stripped, truncated or
    padded to `sequence_length`), so the vocabulary travels with `.keras` files and exports."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, output_sequence_length=sequence_length, name="vectorize"
    )
    if adapt_data is not None:
        vectorizer.adapt(adapt_data())
    return vectorizer(inputs)


def preprocess(inputs: keras.KerasTensor, info: DatasetInfo, adapt_data: AdaptData):
    """Rescale pixels to [0, 1]; normalise tabular features with the training statistics."""
    if info.is_image:
        return keras.layers.Rescaling(PIXEL_SCALE, name="rescale")(inputs)
    normalize = keras.layers.Normalization(name="normalize")
    if adapt_data is not None:
        normalize.adapt(adapt_data())
    return normalize(inputs)


def head(x: keras.KerasTensor, info: DatasetInfo) -> keras.KerasTensor:
    """The output layer, named for what it returns: `logits` for several classes,
    `probability` (sigmoid) for two, `prediction` for regression."""
    if info.num_classes > 2:
        return keras.layers.Dense(info.num_classes, name="logits")(x)
    if info.num_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.layers.Dense(1, name="prediction")(x)
