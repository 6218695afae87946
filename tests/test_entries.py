"""Every registered entry builds, runs a forward batch, and survives a `.keras` round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import modelzoo

ENTRIES = [n for n in modelzoo.list_models() if modelzoo.describe(n).task != "text_classification"]
"""Text entries adapt their tokenizer on data, so tests/test_text.py covers them on a test corpus."""


def sample_input(name: str, n: int = 4) -> np.ndarray:
    info = modelzoo.dataset_info(modelzoo.describe(name).dataset)
    rng = np.random.default_rng(0)
    if info.is_image:
        return rng.integers(0, 256, size=(n, *info.input_shape)).astype(np.float32)
    return rng.normal(size=(n, *info.input_shape)).astype(np.float32)


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_builds_and_predicts_one_batch(name):
    model = modelzoo.build(name)
    spec = modelzoo.describe(name)
    outputs = model.predict(sample_input(name), verbose=0)
    width = len(spec.class_names) if len(spec.class_names) > 2 else 1
    assert outputs.shape == (4, width)
    assert np.isfinite(outputs).all()
    assert [t.name for t in model.inputs] == [spec.inputs[0].name]
    assert model.output_names == [spec.outputs[0].name]
    if spec.outputs[0].name == "probability":
        assert ((outputs >= 0) & (outputs <= 1)).all()


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_round_trips_through_keras_file_in_safe_mode(name, tmp_path):
    model = modelzoo.build(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = sample_input(name)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
    assert loaded.name == name
