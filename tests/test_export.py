"""Serving export: the versioned layout, atomic versions, named signatures, models.config, and
SavedModels that a TensorFlow-only process serves from the exact REST JSON a client sends."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from helpers import serve
from tensorflow_serving.config import model_server_config_pb2

import modelzoo
from modelzoo.export.savedmodel import check_servable


def png(pixels: np.ndarray) -> bytes:
    """Encode one HxWx1 uint8 image as PNG, as a client would send it."""
    return tf.io.encode_png(tf.constant(pixels, tf.uint8)).numpy()


def test_export_writes_next_integer_versions_and_models_config(digits_model, tmp_path):
    first = modelzoo.export(digits_model, export_dir=tmp_path)
    second = modelzoo.export(digits_model, export_dir=tmp_path)
    assert first == tmp_path / "mlp_digits" / "1" and second == tmp_path / "mlp_digits" / "2"
    assert (second / "saved_model.pb").is_file() and (second / "variables").is_dir()
    assert sorted(p.name for p in (tmp_path / "mlp_digits").iterdir()) == ["1", "2"]
    config = text_format.Parse(
        (tmp_path / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    (entry,) = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == (
        "mlp_digits",
        "/models/mlp_digits",
        "tensorflow",
    )


def test_existing_version_is_kept_unless_overwrite(digits_model, tmp_path):
    target = modelzoo.export(digits_model, export_dir=tmp_path, version=7)
    marker = target / "marker.txt"
    marker.write_text("the version a server is serving")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        modelzoo.export(digits_model, export_dir=tmp_path, version=7)
    assert marker.is_file()
    modelzoo.export(digits_model, export_dir=tmp_path, version=7, overwrite=True)
    assert not marker.exists() and (target / "saved_model.pb").is_file()


def test_failed_export_leaves_no_partial_version(digits_model, tmp_path, monkeypatch):
    def refuse(saved_model_dir):
        assert (saved_model_dir / "saved_model.pb").is_file(), "fails after the SavedModel is written"
        raise modelzoo.ModelZooError("forbidden op")

    monkeypatch.setattr(sys.modules["modelzoo.export.savedmodel"], "check_servable", refuse)
    with pytest.raises(modelzoo.ModelZooError, match="forbidden op"):
        modelzoo.export(digits_model, export_dir=tmp_path)
    assert list(tmp_path.iterdir()) == [], "no version, and no empty model folder either"


def test_graph_with_python_callback_is_refused(tmp_path):
    class Callback(keras.Model):
        @tf.function(input_signature=[tf.TensorSpec((None,), tf.float32)])
        def serve(self, x):
            return tf.py_function(lambda v: v * 2, [x], tf.float32)

    tf.saved_model.save(Callback(), str(tmp_path))
    with pytest.raises(modelzoo.ModelZooError, match=r"\['EagerPyFunc'\].*TensorFlow Serving cannot run"):
        check_servable(tmp_path)


def test_image_export_serves_rest_rows_columns_and_b64_images(digits_model, tmp_path):
    path = modelzoo.export(digits_model, export_dir=tmp_path)
    x, _ = next(iter(modelzoo.load_dataset("digits", "test", batch_size=5)))
    pixels = x.numpy()
    logits = digits_model.predict(pixels, verbose=0)
    expected_classes = logits.argmax(axis=1)

    rows = serve(path, {"instances": pixels.tolist()})["predictions"]
    np.testing.assert_allclose([r["logits"] for r in rows], logits, atol=1e-5)
    np.testing.assert_allclose([r["probabilities"] for r in rows], tf.nn.softmax(logits).numpy(), atol=1e-5)
    assert [r["classes"] for r in rows] == expected_classes.tolist()
    assert [r["labels"] for r in rows] == [str(c) for c in expected_classes]

    columns = serve(path, {"inputs": {"pixels": pixels.tolist()}})["outputs"]
    np.testing.assert_allclose(columns["logits"], logits, atol=1e-5)

    images = [{"b64": base64.b64encode(png(p.astype(np.uint8))).decode()} for p in pixels]
    encoded = serve(
        path, {"signature_name": "serving_bytes", "instances": [{"image_bytes": i} for i in images]}
    )
    np.testing.assert_allclose([r["logits"] for r in encoded["predictions"]], logits, atol=1e-5)


def test_larger_encoded_image_is_resized_in_the_graph(digits_model, tmp_path):
    path = modelzoo.export(digits_model, export_dir=tmp_path)
    big = np.kron(np.eye(8, dtype=np.uint8) * 255, np.ones((4, 4), np.uint8))[..., None]
    body = {
        "signature_name": "serving_bytes",
        "inputs": {"image_bytes": [{"b64": base64.b64encode(png(big)).decode()}]},
    }
    outputs = serve(path, body)["outputs"]
    expected = digits_model.predict(tf.image.resize(big[None].astype("float32"), (8, 8)).numpy(), verbose=0)
    np.testing.assert_allclose(outputs["logits"], expected, atol=1e-4)


@pytest.mark.parametrize("name", ["mlp_breast_cancer", "linear_diabetes"])
def test_tabular_export_serves_named_outputs(name, tmp_path):
    model = modelzoo.build(name, epochs=3)
    modelzoo.fit(model, verbose=0)
    path = modelzoo.export(model, export_dir=tmp_path)
    x, _ = next(iter(modelzoo.load_dataset(modelzoo.describe(name).dataset, "test", batch_size=4)))
    expected = model.predict(x.numpy(), verbose=0)
    rows = serve(path, {"instances": x.numpy().tolist()})["predictions"]
    if name == "linear_diabetes":
        np.testing.assert_allclose([r["predictions"] for r in rows], expected, atol=1e-4)
        return
    np.testing.assert_allclose([r["probabilities"][1] for r in rows], expected[:, 0], atol=1e-5)
    assert [r["labels"] for r in rows] == [("malignant", "benign")[int(p > 0.5)] for p in expected[:, 0]]


def replay_warmup(path: Path, name: str) -> set[str]:
    """Parse `tf_serving_warmup_requests` with the serving protos, run every request against the
    loaded SavedModel as the server does at load time; returns the signatures they cover."""
    from tensorflow_serving.apis import prediction_log_pb2

    records = list(tf.data.TFRecordDataset(str(path / "assets.extra" / "tf_serving_warmup_requests")))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
    assert 0 < len(logs) <= 1000
    served = tf.saved_model.load(str(path)).signatures
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == name
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        outputs = served[request.model_spec.signature_name](**inputs)
        assert outputs["labels"].shape[0] == next(iter(inputs.values())).shape[0]
    return {log.predict_log.request.model_spec.signature_name for log in logs}


def saved_model_cli_show(path: Path) -> str:
    """`saved_model_cli show --all`, as an operator checks an artifact before serving it."""
    command = [
        sys.executable,
        "-m",
        "tensorflow.python.tools.saved_model_cli",
        "show",
        "--dir",
        str(path),
        "--all",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def tensor_info(kind: str, name: str, dtype: str, shape: str) -> str:
    """How `saved_model_cli show` prints one signature input or output."""
    return f"{kind}['{name}'] tensor_info:\n        dtype: {dtype}\n        shape: {shape}\n"


def test_saved_model_cli_lists_the_documented_signatures(digits_model, tmp_path):
    shown = saved_model_cli_show(modelzoo.export(digits_model, export_dir=tmp_path))
    default, encoded = (
        shown.split("signature_def['serving_default']")[1],
        shown.split("signature_def['serving_bytes']")[1],
    )
    assert tensor_info("inputs", "pixels", "DT_FLOAT", "(-1, 8, 8, 1)") in default
    assert tensor_info("inputs", "image_bytes", "DT_STRING", "(-1)") in encoded
    for section in (default, encoded):
        section = section.split("signature_def[")[0]
        assert tensor_info("outputs", "classes", "DT_INT64", "(-1)") in section
        assert tensor_info("outputs", "labels", "DT_STRING", "(-1)") in section
        assert tensor_info("outputs", "probabilities", "DT_FLOAT", "(-1, 10)") in section
        assert "Method name is: tensorflow/serving/predict" in section


def test_warmup_requests_and_model_card_describe_the_artifact(digits_model, tmp_path):
    path = modelzoo.export(digits_model, export_dir=tmp_path, metrics={"accuracy": 0.97})
    assert replay_warmup(path, "mlp_digits") == {"serving_default", "serving_bytes"}

    card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    assert card["entry"] == "mlp_digits" and card["metrics"] == {"accuracy": 0.97}
    assert card["min_tf_serving_version"] == ".".join(tf.__version__.split(".")[:2]) + ".0"
    assert card["signatures"]["serving_default"]["inputs"] == {
        "pixels": {"dtype": "float32", "shape": [-1, 8, 8, 1]}
    }
    assert set(card["signatures"]["serving_default"]["outputs"]) == {
        "logits",
        "probabilities",
        "classes",
        "labels",
    }
    response = serve(path, card["example_request"])
    assert response["predictions"][0]["labels"] == card["example_response"]["predictions"][0]["labels"]
    assert "mlp_digits:predict" in (path / "assets.extra" / "README.md").read_text()


def test_export_without_local_data_skips_warmup_and_never_downloads(tmp_path):
    model = modelzoo.build("mlp_mnist")
    (tmp_path / "data").mkdir()
    path = modelzoo.export(model, export_dir=tmp_path / "out", data_dir=tmp_path / "data")
    card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    assert card["warmup_requests"] == 0 and "example_request" not in card
    assert not (path / "assets.extra" / "tf_serving_warmup_requests").exists()
    assert list((tmp_path / "data").iterdir()) == []


def batching_parameters_message():
    """TF Serving's `BatchingParameters` (session_bundle_config.proto), which tensorflow-serving-api
    does not ship: the same field names and types, enough to parse the text format strictly."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

    file = descriptor_pb2.FileDescriptorProto(
        name="batching_test.proto",
        package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = file.message_type.add(name="BatchingParameters")
    int64_value = ".google.protobuf.Int64Value"
    fields = [("max_batch_size", int64_value), ("batch_timeout_micros", int64_value),
              ("max_enqueued_batches", int64_value), ("num_batch_threads", int64_value)]  # fmt: skip
    for number, (name, type_name) in enumerate(fields, start=1):
        message.field.add(name=name, number=number, type=11, type_name=type_name, label=1)
    message.field.add(name="allowed_batch_sizes", number=6, type=3, label=3)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    )


def test_batching_parameters_are_a_valid_text_proto(digits_model, tmp_path):
    modelzoo.export(digits_model, export_dir=tmp_path)
    params = text_format.Parse(
        (tmp_path / "batching_parameters.txt").read_text(), batching_parameters_message()()
    )
    assert params.max_batch_size.value > 0 and params.num_batch_threads.value > 0
    assert list(params.allowed_batch_sizes) == sorted(params.allowed_batch_sizes)
    assert params.allowed_batch_sizes[-1] == params.max_batch_size.value


def test_weights_are_saved_once(digits_model, tmp_path):
    path = modelzoo.export(digits_model, export_dir=tmp_path)
    saved = sum(f.stat().st_size for f in (path / "variables").glob("variables.data-*"))
    float32_weights = 4 * digits_model.count_params()
    assert float32_weights <= saved < 1.2 * float32_weights


def test_export_killed_midway_leaves_no_version(digits_model, tmp_path):
    code = f"""
import sys, time
import modelzoo, modelzoo.export
export = sys.modules["modelzoo.export.savedmodel"]
def stall(saved_model_dir):
    print("written", flush=True)
    time.sleep(120)
export.check_servable = stall
modelzoo.export(modelzoo.build("mlp_digits"), export_dir={str(tmp_path)!r})
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "written", "the SavedModel was being written when killed"
    finally:
        child.kill()
        child.wait()
    base = tmp_path / "mlp_digits"
    visible = [p.name for p in base.iterdir() if not p.name.startswith(".")]
    assert visible == [], "no version folder a polling server would load"
    assert not (tmp_path / "models.config").exists()
    assert modelzoo.export(digits_model, export_dir=tmp_path) == base / "1"


def test_serving_signature_refuses_wrong_dtype_and_rank(digits_model, tmp_path):
    served = tf.saved_model.load(str(modelzoo.export(digits_model, export_dir=tmp_path)))
    signature = served.signatures["serving_default"]
    pixels = np.zeros((2, 8, 8, 1))
    assert signature(pixels=tf.constant(pixels, tf.float32))["classes"].shape == (2,)
    wrong_inputs = (tf.constant(pixels, tf.float64), tf.constant(pixels, tf.int32), tf.zeros((2, 8, 8)))
    for wrong in wrong_inputs:
        with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
            signature(pixels=wrong)
