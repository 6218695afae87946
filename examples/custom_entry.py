"""Register your own entry from user code: a builder plus `@modelzoo.register`.

After registering, the entry behaves like a built-in one: `build`, `describe`, `fit` and `export`
work by name, overrides are checked against the builder's signature, and the recipe is shared.

    python examples/custom_entry.py
"""

import keras

import modelzoo
from modelzoo.recipes import SMALL_CLASSIFIER


# A builder receives the dataset's metadata and the entry name; its keyword-only parameters,
# with type hints and defaults, become the entry's hyperparameters.
@modelzoo.register(
    "widemlp_digits",
    dataset="digits",
    recipe=SMALL_CLASSIFIER.replace(learning_rate=2e-3),
    target=modelzoo.Target("accuracy", 0.97, 0.015),
)
def widemlp(info, name, *, width: int = 256, dropout: float = 0.3) -> keras.Model:
    """Rescaling -> Flatten -> Dense(width) -> Dropout -> logits."""
    inputs = keras.Input(info.input_shape, name=info.input_name)  # "pixels", raw 0-255
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(width, activation="relu")(x)
    x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Dense(info.num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


print(modelzoo.describe("widemlp_digits"))
model = modelzoo.build("widemlp_digits", width=128)
modelzoo.fit(model, verbose=0)
print("test:", modelzoo.evaluate(model))
