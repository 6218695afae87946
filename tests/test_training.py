"""Real training with each entry's recipe: the models learn, and a run folder records the run."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import modelzoo
from modelzoo.data.sources import load_sklearn


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])  # mlp_breast_cancer: test_cli's reproduce
def test_classifier_recipe_reaches_090_test_accuracy(name):
    model = modelzoo.build(name)
    history = modelzoo.fit(model, verbose=0)
    assert len(history.history["loss"]) <= model.modelzoo.recipe.epochs
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert modelzoo.evaluate(model)["accuracy"] >= 0.90


def test_linear_diabetes_beats_predicting_the_mean():
    info = modelzoo.dataset_info("diabetes")
    _, y_train = load_sklearn(info, "train")
    _, y_test = load_sklearn(info, "test")
    mean_mae = float(np.abs(y_test - y_train.mean()).mean())
    model = modelzoo.fit("linear_diabetes", verbose=0).model
    mae = modelzoo.evaluate(model)["mae"]
    assert mae < 0.85 * mean_mae, (mae, mean_mae)


def test_fit_writes_run_folder_and_best_checkpoint_matches_restored_weights(tmp_path):
    model = modelzoo.build("mlp_digits", epochs=8)
    history = modelzoo.fit(model, run_dir=tmp_path, verbose=0)
    logged = json.loads((tmp_path / "history.json").read_text())
    assert logged["epoch"] == list(range(1, len(history.history["loss"]) + 1))
    np.testing.assert_allclose(logged["val_loss"], history.history["val_loss"], rtol=1e-6)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["entry"] == "mlp_digits" and config["recipe"]["epochs"] == 8
    assert config["versions"]["keras"] == keras.__version__
    best = modelzoo.load_checkpoint(tmp_path)
    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(best.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert not list(tmp_path.glob(".*partial*")), "no partial files left behind"


def test_fit_on_arrays_with_recipe_overrides_recompiles(mnist_like):
    x_train, y_train, x_test, y_test = mnist_like
    model = modelzoo.build("mlp_mnist", schedule="constant")
    history = modelzoo.fit(
        model, (x_train, y_train), (x_test, y_test), epochs=3, learning_rate=2e-3, verbose=0
    )
    assert len(history.history["loss"]) == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)
    assert model.modelzoo.recipe.epochs == 3
    optimizer, steps = model.optimizer, int(model.optimizer.iterations)
    modelzoo.fit(model, (x_train, y_train), epochs=1, verbose=0)
    assert model.optimizer is optimizer and int(optimizer.iterations) > steps, "epochs alone: no recompile"
    with pytest.raises(modelzoo.UnknownNameError, match="recipe field 'hidden_units'"):
        modelzoo.fit(model, (x_train, y_train), hidden_units=3)


def test_a_cosine_is_planned_for_the_split_read_not_the_catalogues_size(npz_dir):
    """mlp_mnist's cosine falls to 0 over its epochs; local files smaller than the catalogue's
    54,000 train images must still take it to 0, not stop part of the way down."""
    model = modelzoo.build("mlp_mnist", epochs=2)
    modelzoo.fit(model, data_dir=npz_dir, verbose=0)
    assert int(model.optimizer.iterations) == 2 * 2, "540 train images at batch 512: 2 steps an epoch"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)

    mine = modelzoo.build("mlp_mnist", epochs=2)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=1000)
    mine.compile(keras.optimizers.Adam(schedule), keras.losses.SparseCategoricalCrossentropy(True))
    modelzoo.fit(mine, data_dir=npz_dir, verbose=0)
    assert float(mine.optimizer.learning_rate) == pytest.approx(float(schedule(4))), "the caller's compile"


def test_steps_per_execution_trains_the_same_steps_and_extra_callbacks_see_every_epoch():
    """The recipe's steps_per_execution=16 is a speed setting only: same updates as Keras' 1."""
    weights, epochs_seen = {}, {}
    for steps in (1, 16):
        model = modelzoo.build("mlp_digits", epochs=2, steps_per_execution=steps, callbacks=())
        seen = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, s=steps: epochs_seen.setdefault(s, []).append(epoch)
        )
        modelzoo.fit(model, verbose=0, extra_callbacks=[seen])
        weights[steps] = model.get_weights()
    assert epochs_seen == {1: [0, 1], 16: [0, 1]}
    for one, sixteen in zip(weights[1], weights[16], strict=True):
        np.testing.assert_allclose(one, sixteen, atol=1e-6)


def test_fit_refuses_data_that_does_not_fit_the_model(mnist_like):
    x_train, y_train, *_ = mnist_like
    with pytest.raises(modelzoo.DataFormatError, match="does not fit mlp_digits"):
        modelzoo.fit("mlp_digits", (x_train, y_train), epochs=1, verbose=0)


def test_fit_of_a_plain_keras_model_needs_data():
    inputs = keras.Input((3,))
    plain = keras.Model(inputs, keras.layers.Dense(1)(inputs), name="plain")
    plain.compile(loss="mse")
    with pytest.raises(modelzoo.InvalidValueError, match="not a modelzoo entry"):
        modelzoo.fit(plain)
    history = modelzoo.fit(plain, (np.ones((8, 3)), np.ones(8)), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_corrupt_checkpoint_is_reported(tmp_path):
    bad = tmp_path / "best.keras"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(modelzoo.ModelZooError, match="Cannot load checkpoint"):
        modelzoo.load_checkpoint(bad)
    with pytest.raises(modelzoo.ModelZooError, match="No checkpoint at"):
        modelzoo.load_checkpoint(tmp_path / "missing")
