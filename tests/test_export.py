"""Export (first cut): the versioned layout, atomic versions, and a SavedModel that a process with
only TensorFlow loads and that agrees with the Keras model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import modelzoo

TF_ONLY_PREDICT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    request = json.load(sys.stdin)
    serving = tf.saved_model.load(request["path"]).signatures["serving_default"]
    (name, spec), = serving.structured_input_signature[1].items()
    inputs = tf.constant(np.array(request["instances"], dtype=spec.dtype.as_numpy_dtype))
    outputs = {k: v.numpy().tolist() for k, v in serving(**{name: inputs}).items()}
    leaked = sorted(m for m in ("modelzoo", "keras_hub") if m in sys.modules)
    print(json.dumps({"input": name, "outputs": outputs, "leaked": leaked}))
    """
)


@pytest.fixture(scope="module")
def digits_model():
    model = modelzoo.build("mlp_digits", epochs=5)
    modelzoo.fit(model, verbose=0)
    return model


def test_export_writes_next_integer_versions(digits_model, tmp_path):
    first = modelzoo.export(digits_model, export_dir=tmp_path)
    second = modelzoo.export(digits_model, export_dir=tmp_path)
    assert first == tmp_path / "mlp_digits" / "1" and second == tmp_path / "mlp_digits" / "2"
    assert (second / "saved_model.pb").is_file() and (second / "variables").is_dir()
    assert sorted(p.name for p in (tmp_path / "mlp_digits").iterdir()) == ["1", "2"]


def test_existing_version_is_kept_unless_overwrite(digits_model, tmp_path):
    target = modelzoo.export(digits_model, export_dir=tmp_path, version=7)
    marker = target / "assets.extra"
    marker.mkdir()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        modelzoo.export(digits_model, export_dir=tmp_path, version=7)
    assert marker.is_dir()
    modelzoo.export(digits_model, export_dir=tmp_path, version=7, overwrite=True)
    assert not marker.exists() and (target / "saved_model.pb").is_file()


def test_failed_export_leaves_no_partial_version(digits_model, tmp_path, monkeypatch):
    def broken_export(path, **kwargs):
        os.makedirs(path)
        (open(os.path.join(path, "saved_model.pb"), "wb")).close()
        raise RuntimeError("disk full")

    monkeypatch.setattr(digits_model, "export", broken_export)
    with pytest.raises(RuntimeError, match="disk full"):
        modelzoo.export(digits_model, export_dir=tmp_path)
    assert list((tmp_path / "mlp_digits").iterdir()) == []


def test_saved_model_loads_with_tensorflow_only_and_agrees_with_keras(digits_model, tmp_path):
    path = modelzoo.export(digits_model, export_dir=tmp_path)
    x, _ = next(iter(modelzoo.load_dataset("digits", "test", batch_size=16)))
    request = {"path": str(path), "instances": x.numpy().tolist()}
    result = subprocess.run(
        [sys.executable, "-c", TF_ONLY_PREDICT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["input"] == "pixels" and served["leaked"] == []
    (values,) = served["outputs"].values()
    expected = digits_model.predict(x.numpy(), verbose=0)
    np.testing.assert_allclose(np.array(values), expected, atol=1e-5)
