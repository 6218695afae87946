"""The registry API: listing, describing, building with overrides, and the errors for bad input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import modelzoo
from modelzoo import registry, zoo
from modelzoo.fields import parse_value
from modelzoo.recipes import CLASSIFIER, LazyAdam, Recipe


def test_list_models_matches_patterns_and_filters():
    assert modelzoo.list_models("*digits") == ["cnn_digits", "mlp_digits"]
    assert modelzoo.list_models("*mnist*") == [
        "cnn_fashion_mnist",
        "cnn_mnist",
        "mlp_fashion_mnist",
        "mlp_mnist",
    ]
    assert set(modelzoo.list_models(family="cnn")) == {
        "cnn_cifar10",
        "cnn_digits",
        "cnn_fashion_mnist",
        "cnn_mnist",
    }
    assert modelzoo.list_models(task="tabular_regression") == ["linear_diabetes"]
    assert modelzoo.list_models(dataset="cifar10") == ["cnn_cifar10", "mlp_cifar10"]
    small = modelzoo.list_models(max_params=20_000)
    assert "mlp_digits" in small and "cnn_digits" not in small and "mlp_mnist" not in small
    assert modelzoo.list_models("nothing*") == []


def test_every_dataset_and_family_of_the_issue_is_registered():
    names = set(modelzoo.list_models())
    for arch in ("mlp", "cnn"):
        for dataset in ("mnist", "fashion_mnist", "cifar10", "digits"):
            assert f"{arch}_{dataset}" in names
    assert {"mlp_breast_cancer", "linear_diabetes"} <= names


def test_describe_mlp_mnist_is_the_classic_model():
    spec = modelzoo.describe("mlp_mnist")
    assert (spec.family, spec.task, spec.dataset) == ("mlp", "image_classification", "mnist")
    assert spec.parameters == 784 * 128 + 128 + 128 * 10 + 10
    assert [(i.name, i.shape) for i in spec.inputs] == [("pixels", (None, 28, 28, 1))]
    assert [(o.name, o.shape) for o in spec.outputs] == [("logits", (None, 10))]
    assert spec.class_names == tuple("0123456789")
    assert spec.recipe.optimizer == "adam" and spec.recipe.loss == "sparse_categorical_crossentropy"
    assert spec.target.metric == "accuracy" and spec.target.met_by(0.98) and not spec.target.met_by(0.95)
    text = str(spec)
    for expected in ("mlp_mnist", "101,770", "pixels: float32[None, 28, 28, 1]", "accuracy >= 0.977"):
        assert expected in text


def test_build_returns_compiled_functional_model_with_named_io():
    model = modelzoo.build("mlp_mnist")
    assert isinstance(model, keras.Model) and model.name == "mlp_mnist"
    assert model.compiled and isinstance(model.loss, keras.losses.Loss)
    assert [t.name for t in model.inputs] == ["pixels"] and model.output_names == ["logits"]
    logits = model.predict(np.full((3, 28, 28, 1), 255, np.uint8), verbose=0)
    assert logits.shape == (3, 10) and np.isfinite(logits).all()


def test_overrides_change_architecture_and_recipe():
    model = modelzoo.build("mlp_mnist", hidden_units=256, learning_rate=3e-4)
    assert model.count_params() == 784 * 256 + 256 + 256 * 10 + 10
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4)
    assert (
        model.modelzoo.recipe.learning_rate == 3e-4 and model.modelzoo.hyperparameters["hidden_units"] == 256
    )


def test_same_seed_gives_same_initial_weights():
    a, b = modelzoo.build("cnn_digits"), modelzoo.build("cnn_digits")
    c = modelzoo.build("cnn_digits", seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    assert not all(np.array_equal(x, y) for x, y in zip(a.get_weights(), c.get_weights()))


def test_unknown_model_lists_choices_and_closest():
    with pytest.raises(modelzoo.UnknownNameError) as err:
        modelzoo.build("mlp_mnsit")
    assert "Did you mean 'mlp_mnist'" in str(err.value) and "cnn_cifar10" in str(err.value)


def test_unknown_override_lists_valid_keys():
    with pytest.raises(modelzoo.UnknownNameError) as err:
        modelzoo.build("mlp_mnist", hiden_units=3)
    message = str(err.value)
    assert "'hiden_units' for mlp_mnist" in message and "Did you mean 'hidden_units'" in message
    assert "learning_rate" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"hidden_units": "256"}, "'hidden_units' expects int"),
        ({"hidden_units": 2.5}, "'hidden_units' expects int"),
        ({"hidden_units": True}, "'hidden_units' expects int"),
        ({"learning_rate": "fast"}, "'learning_rate' expects float"),
        ({"metrics": "accuracy"}, "'metrics' expects tuple[str, ...]"),
    ],
)
def test_wrong_override_type_names_field_and_type(override, expected):
    with pytest.raises(modelzoo.InvalidTypeError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        modelzoo.build("mlp_mnist", **override)


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"batch_size": -1}, {"learning_rate": 0.0}, {"patience": -2}])
def test_out_of_range_recipe_values_are_refused(bad):
    ((key, value),) = bad.items()
    with pytest.raises(modelzoo.InvalidValueError, match=f"'{key}' must be"):
        CLASSIFIER.replace(**bad)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"hidden_units": 0}, "units=0"),
        ({"dropout": 1.5}, "between 0 and 1"),
        ({"depth": -1}, "depth must be >= 0"),
    ],
)
def test_out_of_range_hyperparameters_are_refused_with_the_entry_named(override, expected):
    with pytest.raises(modelzoo.InvalidValueError, match=f"Cannot build mlp_digits with .*{expected}"):
        modelzoo.build("mlp_digits", **override)


def test_cnn_stacks_convolutions_per_block_and_batch_norm_only_when_asked():
    plain = modelzoo.build("cnn_digits")
    deep = modelzoo.build("cnn_digits", convs=2, batch_norm=True)
    assert [layer.name for layer in plain.layers if "conv" in layer.name] == ["conv_0", "conv_1"]
    assert [layer.name for layer in deep.layers if "conv" in layer.name] == [
        "conv_0_0", "conv_0_1", "conv_1_0", "conv_1_1"
    ]  # fmt: skip
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in plain.layers)
    norms = [layer for layer in deep.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 4 and all(not deep.get_layer(f"conv_{n.name[5:]}").use_bias for n in norms)
    pixels = np.random.default_rng(0).integers(0, 17, (4, 8, 8, 1)).astype(np.uint8)
    assert np.isfinite(deep.predict(pixels, verbose=0)).all()
    with pytest.raises(modelzoo.InvalidValueError, match="convs is the number of convolutions per block"):
        modelzoo.build("cnn_digits", convs=0)


def test_recipe_names_are_checked_with_suggestions():
    with pytest.raises(modelzoo.UnknownNameError, match="Did you mean 'adam'"):
        CLASSIFIER.replace(optimizer="adamv")
    with pytest.raises(modelzoo.UnknownNameError, match="Did you mean 'binary_crossentropy'"):
        CLASSIFIER.replace(loss="binary_crosentropy")
    with pytest.raises(modelzoo.UnknownNameError, match="recipe field 'epoch'"):
        CLASSIFIER.replace(epoch=3)
    with pytest.raises(modelzoo.InvalidValueError, match="takes no logits"):
        CLASSIFIER.replace(loss="mean_squared_error")


def test_recipe_replace_is_a_copy_and_shared_bases_stay_frozen():
    changed = CLASSIFIER.replace(epochs=3, metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
    assert changed.epochs == 3 and changed.metrics == ("accuracy", "sparse_top_k_categorical_accuracy")
    assert CLASSIFIER.epochs == 20
    with pytest.raises(AttributeError):
        CLASSIFIER.epochs = 5


def test_cosine_schedule_warms_up_then_decays():
    recipe = Recipe(schedule="cosine", learning_rate=1e-2, warmup_epochs=1, epochs=4)
    schedule = recipe.make_schedule(steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 25, 40)]
    assert rates[0] < rates[1] < rates[2] == pytest.approx(1e-2)
    assert rates[2] > rates[3] > rates[4]


def trained_embedding(optimizer: keras.optimizers.Optimizer, batches: list) -> list[np.ndarray]:
    """Weights (embedding table, kernel, bias) of a seeded Embedding -> Dense model after one
    update on each batch of row ids."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((2,), dtype="int32"),
            keras.layers.Embedding(6, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer, "mse")
    for rows in batches:
        model.train_on_batch(np.array(rows), np.ones((len(rows), 1)))
    return [w.numpy() for w in model.weights]


def test_lazy_adam_is_adam_on_the_rows_a_batch_uses_and_leaves_the_others_alone():
    every_step = [[[1, 2], [3, 4]]] * 3
    initial = trained_embedding(LazyAdam(0.1), [])[0]
    lazy = trained_embedding(LazyAdam(0.1), every_step)
    for got, expected in zip(lazy, trained_embedding(keras.optimizers.Adam(0.1), every_step)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(lazy[0][[0, 5]], initial[[0, 5]])
    # Rows 1 and 2 are not in the second batch: Adam's momentum moves them on, the lazy update does not.
    after_first = trained_embedding(LazyAdam(0.1), [[[1, 2]]])[0]
    np.testing.assert_array_equal(
        trained_embedding(LazyAdam(0.1), [[[1, 2]], [[3, 4]]])[0][1:3], after_first[1:3]
    )
    adam = trained_embedding(keras.optimizers.Adam(0.1), [[[1, 2]], [[3, 4]]])[0]
    assert np.abs(adam[1:3] - after_first[1:3]).min() > 1e-3
    assert isinstance(keras.optimizers.deserialize(keras.optimizers.serialize(LazyAdam(0.1))), LazyAdam)
    assert modelzoo.describe("transformer_sst2").recipe.optimizer == "lazyadam"


def test_parse_value_reads_command_line_text_by_type():
    assert parse_value("n", "256", int) == 256
    assert parse_value("lr", "3e-4", float) == 3e-4
    assert parse_value("jit", "false", bool) is False
    assert parse_value("metrics", "accuracy,mae", tuple[str, ...]) == ("accuracy", "mae")
    with pytest.raises(modelzoo.InvalidTypeError, match="'n' expects int, got 'x'"):
        parse_value("n", "x", int)


def test_register_declares_a_new_entry_beside_its_builder(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @modelzoo.register("tiny_digits", dataset="digits", recipe=CLASSIFIER.replace(epochs=2), width=4)
    def tiny(info, name, *, width: int = 8):
        """A deliberately tiny model."""
        inputs = keras.Input(info.input_shape, name=info.input_name)
        x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
        x = keras.layers.Dense(width, activation="relu")(x)
        return keras.Model(inputs, keras.layers.Dense(info.num_classes, name="logits")(x), name=name)

    assert "tiny_digits" in modelzoo.list_models(family="tiny")
    assert modelzoo.describe("tiny_digits").parameters == 64 * 4 + 4 + 4 * 10 + 10
    assert modelzoo.build("tiny_digits", width=6).count_params() == 64 * 6 + 6 + 6 * 10 + 10
    with pytest.raises(ValueError, match="already registered"):
        modelzoo.register("tiny_digits", dataset="digits", recipe=CLASSIFIER)(tiny)
    with pytest.raises(modelzoo.UnknownNameError, match="Unknown dataset 'digitz'"):
        modelzoo.register("tiny_x", dataset="digitz", recipe=CLASSIFIER)(tiny)
    with pytest.raises(modelzoo.UnknownNameError, match="hyperparameter of tiny 'depth'"):
        modelzoo.register("tiny_y", dataset="digits", recipe=CLASSIFIER, depth=2)(tiny)


def test_parameter_table_matches_the_built_models():
    """`modelzoo list` reads counts from modelzoo/parameters.json: they must be what building gives.
    After changing an entry: python -c 'from modelzoo.zoo import write_parameter_table as w; w()'"""
    table = zoo.parameter_table()
    assert sorted(table) == modelzoo.list_models()
    for name, row in table.items():
        assert row == {
            "parameters": zoo._probe(name)[0],
            "fingerprint": zoo.fingerprint(registry.get_entry(name)),
        }
    changed = registry.get_entry("mlp_digits")
    assert zoo.fingerprint(changed) != zoo.fingerprint(registry.get_entry("mlp_mnist"))
