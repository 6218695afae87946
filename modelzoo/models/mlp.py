"""Multi-layer perceptrons for images and tables, and linear regression as the zero-depth case."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from modelzoo.data import DatasetInfo
from modelzoo.models.common import RECIPE_SEARCH, head, model_input, preprocess
from modelzoo.recipes import (
    BINARY_CLASSIFIER,
    CLASSIFIER_COSINE,
    MLP_CLASSIFIER,
    REGRESSION,
    SMALL_CLASSIFIER,
)
from modelzoo.registry import AdaptData, Choice, Float, Int, Target, register, search_space


@register(
    "mlp_mnist",
    dataset="mnist",
    recipe=MLP_CLASSIFIER,
    target=Target("accuracy", 0.98, 0.003),
    description="The classic: Flatten -> Dense(128, relu) -> Dropout(0.2) -> Dense(10).",
    dropout=0.2,
)
@register(
    "mlp_fashion_mnist",
    dataset="fashion_mnist",
    recipe=MLP_CLASSIFIER,
    target=Target("accuracy", 0.88, 0.01),
    hidden_units=256,
    dropout=0.2,
)
@register(
    "mlp_cifar10",
    dataset="cifar10",
    recipe=CLASSIFIER_COSINE,
    target=Target("accuracy", 0.50, 0.02),
    hidden_units=512,
    depth=2,
    dropout=0.2,
)
@register(
    "mlp_digits",
    dataset="digits",
    recipe=SMALL_CLASSIFIER,
    target=Target("accuracy", 0.97, 0.015),
    hidden_units=256,
)
@register(
    "mlp_breast_cancer",
    dataset="breast_cancer",
    recipe=BINARY_CLASSIFIER,
    target=Target("accuracy", 0.96, 0.02),
    hidden_units=16,
)
@register(
    "linear_diabetes",
    dataset="diabetes",
    recipe=REGRESSION,
    family="linear",
    target=Target("mae", 46.2, 1.5, higher_is_better=False),
    description="Linear regression: Normalization -> Dense(1).",
    depth=0,
)
@register("linear", recipe=REGRESSION, family="linear", takes=("table",), depth=0,
          description="Linear model on a table: per-column preprocessing -> Dense head.")  # fmt: skip
@register("mlp", recipe=SMALL_CLASSIFIER, takes=("image", "table"),
          description="MLP for images or tables: Flatten -> Dense(128, relu) -> head.")  # fmt: skip
@search_space(**RECIPE_SEARCH, hidden_units=Choice((64, 128, 256, 512)), depth=Int(1, 3),
              dropout=Float(0.0, 0.5))  # fmt: skip
def mlp(
    info: DatasetInfo,
    name: str,
    *,
    hidden_units: int = 128,
    depth: int = 1,
    dropout: float = 0.0,
    activation: str = "relu",
    adapt_data: AdaptData = None,
    augment: Sequence[str] = (),
) -> keras.Model:
    """Flatten -> `depth` x [Dense(hidden_units) -> Dropout] -> task head."""
    if depth < 0:
        raise ValueError(f"depth must be >= 0 (0 is a linear model), got {depth}.")
    inputs = model_input(info)
    x = keras.layers.Flatten(name="flatten")(preprocess(inputs, info, adapt_data, augment))
    for i in range(depth):
        x = keras.layers.Dense(hidden_units, activation=activation, name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    return keras.Model(inputs, head(x, info), name=name)
