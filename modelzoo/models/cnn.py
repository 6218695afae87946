"""Small convolutional networks for image classification (keras.io's MNIST convnet, generalised)."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from modelzoo.data import DatasetInfo
from modelzoo.models.common import RECIPE_SEARCH, head, model_input, preprocess
from modelzoo.recipes import CLASSIFIER_COSINE, SMALL_CLASSIFIER
from modelzoo.registry import Choice, Float, Int, Target, register, search_space


@register("cnn_mnist", dataset="mnist", recipe=CLASSIFIER_COSINE, target=Target("accuracy", 0.992, 0.002))
@register(
    "cnn_fashion_mnist",
    dataset="fashion_mnist",
    recipe=CLASSIFIER_COSINE,
    target=Target("accuracy", 0.91, 0.01),
)
@register(
    "cnn_cifar10",
    dataset="cifar10",
    recipe=CLASSIFIER_COSINE.replace(epochs=40, patience=40),
    target=Target("accuracy", 0.72, 0.03),
    blocks=3,
    dense_units=128,
)
@register("cnn_digits", dataset="digits", recipe=SMALL_CLASSIFIER, target=Target("accuracy", 0.98, 0.015))
# A user's photos: a VGG-style stack with batch normalisation, trained up to 100 epochs (finding "photos").
@register(
    "cnn",
    recipe=SMALL_CLASSIFIER,
    takes=("image",),
    photos=dict(blocks=4, convs=2, batch_norm=True, pooling="average", epochs=100, patience=20),
)
@search_space(**RECIPE_SEARCH, filters=Choice((16, 32, 64)), blocks=Int(1, 3),
              dense_units=Choice((0, 64, 128)), dropout=Float(0.0, 0.5),
              pooling=Choice(("flatten", "average")), convs=Int(1, 2),
              batch_norm=Choice((False, True)))  # fmt: skip
def cnn(
    info: DatasetInfo,
    name: str,
    *,
    filters: int = 32,
    blocks: int = 2,
    dense_units: int = 0,
    dropout: float = 0.5,
    pooling: str = "flatten",
    convs: int = 1,
    batch_norm: bool = False,
    augment: Sequence[str] = (),
) -> keras.Model:
    """`blocks` x [`convs` x Conv3x3(filters, doubling per block) -> MaxPool] -> Flatten (or the
    average over the map, `pooling="average"`) -> Dropout -> head. With `batch_norm`, each
    convolution is followed by BatchNormalization before its ReLU (VGG-BN style), which lets a
    deeper stack train from scratch on a few thousand photos."""
    if pooling not in ("flatten", "average"):
        raise ValueError(f"pooling must be 'flatten' or 'average', not {pooling!r}")
    if convs < 1:
        raise ValueError(f"convs is the number of convolutions per block, at least 1, not {convs}")
    height, width = info.input_shape[:2]
    if min(height, width) < 2**blocks:
        raise ValueError(
            f"its {blocks} blocks halve the image {blocks} times, so it needs images of at least "
            f"{2**blocks}x{2**blocks} pixels, not {height}x{width}: pass a larger --image-size, or "
            f"--set blocks={max(1, min(height, width).bit_length() - 1)}"
        )
    inputs = model_input(info)
    x = preprocess(inputs, info, adapt_data=None, augment=augment)
    for i in range(blocks):
        for j in range(convs):
            suffix = f"{i}" if convs == 1 else f"{i}_{j}"
            x = keras.layers.Conv2D(
                filters * 2**i,
                3,
                padding="same",
                activation=None if batch_norm else "relu",
                use_bias=not batch_norm,
                name=f"conv_{suffix}",
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(name=f"norm_{suffix}")(x)
                x = keras.layers.Activation("relu", name=f"relu_{suffix}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    if pooling == "average":
        x = keras.layers.GlobalAveragePooling2D(name="average")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, head(x, info), name=name)
