"""What many tests share: a TF-only answer to a REST request, and one entry taken end to end
(build -> fit a few steps -> .keras round trip -> export -> TF-only REST check), as keras-hub's
`run_task_test` takes a task through its life."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import keras
import numpy as np
import tensorflow as tf
from conftest import sentiment_corpus

import modelzoo

REST_PREDICT = Path(__file__).with_name("rest_predict.py")


SERVERS: dict[bool, tuple[subprocess.Popen, IO[bytes]]] = {}
"""One TF-only answering process per kind (with tensorflow-text's ops or without) and the file its
stderr goes to, started on first use and kept for the session: a fresh process per request spent
about 5 s importing TensorFlow."""
SERVE_TIMEOUT_S = 300
"""How long a request may wait for its answer before the test fails (a hung process is killed)."""


def serve(path: Path, body: dict, text_ops: bool = False, method: str = "predict") -> dict:
    """POST-equivalent of `/v1/models/NAME:<method>` with `body`, answered by a process that has
    only TensorFlow (with tensorflow-text's ops when `text_ops`), as the model server does."""
    if text_ops not in SERVERS or SERVERS[text_ops][0].poll() is not None:
        command = [sys.executable, str(REST_PREDICT), *(["--text-ops"] if text_ops else [])]
        errors = tempfile.TemporaryFile()  # read only when the process stops answering
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )  # fmt: skip
        SERVERS[text_ops] = process, errors
    process, errors = SERVERS[text_ops]
    process.stdin.write(json.dumps({"path": str(path), "body": body, "method": method}) + "\n")
    process.stdin.flush()
    ready, _, _ = select.select([process.stdout], [], [], SERVE_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if not line:
        process.kill()
        errors.seek(0)
        raise AssertionError(f"no answer within {SERVE_TIMEOUT_S} s; stderr: {errors.read()[-3000:]!r}")
    response = json.loads(line)
    assert "error" not in response, response.get("error")
    assert "modelzoo" not in response["imported"] and "keras_hub" not in response["imported"]
    return response


def stop_servers() -> None:
    """End the answering processes (at the end of the session)."""
    for process, errors in SERVERS.values():
        process.stdin.close()  # its loop over stdin ends
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        errors.close()
    SERVERS.clear()


def sample_input(name: str, n: int = 4) -> np.ndarray:
    """`n` inputs of what entry `name` takes: pixels 0-255, features, or texts."""
    info = modelzoo.dataset_info(modelzoo.describe(name).dataset)
    rng = np.random.default_rng(0)
    if info.is_text:
        return np.array(sentiment_corpus(n, seed=3)[0], dtype=object)
    if info.is_image:
        return rng.integers(0, 256, size=(n, *info.input_shape)).astype(np.float32)
    return rng.normal(size=(n, *info.input_shape)).astype(np.float32)


def sample_labels(name: str, n: int) -> np.ndarray:
    classes = len(modelzoo.describe(name).class_names)
    rng = np.random.default_rng(1)
    return rng.normal(size=n).astype(np.float32) if classes == 0 else rng.integers(0, classes, n)


def build_offline(name: str, **overrides) -> keras.Model:
    """Entry `name` built with no dataset at hand: a text entry adapts its tokenizer on a small
    corpus (an image or table entry needs no data to build)."""
    if modelzoo.describe(name).task == "text_classification":
        texts, _ = sentiment_corpus(200, seed=3)
        overrides["adapt_data"] = tf.data.Dataset.from_tensor_slices(texts).batch(64)
    return modelzoo.build(name, **overrides)


def entry_end_to_end(name: str, tmp_path: Path, examples: int = 64) -> Path:
    """Build `name`, fit it for one epoch on `examples` made-up examples, check the `.keras` file
    predicts the same in safe mode with the same optimizer, export it and check a TF-only process
    answers a REST request with the Keras model's classes and class names; returns the export."""
    model = build_offline(name, epochs=1)
    x, y = sample_input(name, examples), sample_labels(name, examples)
    history = modelzoo.fit(model, (x, y), (x[:16], y[:16]), verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    batch = x[:4]
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-5)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    path = modelzoo.export(model, export_dir=tmp_path / "export")
    rows = batch.tolist()
    text = modelzoo.describe(name).task == "text_classification"
    response = serve(path, {"instances": rows}, text_ops=text)["predictions"]
    spec = modelzoo.describe(name)
    if spec.class_names:
        probabilities = np.array([row["probabilities"] for row in response])
        assert [row["labels"] for row in response] == [spec.class_names[i] for i in probabilities.argmax(1)]
    else:
        served = np.array([row["predictions"] for row in response]).reshape(-1)
        np.testing.assert_allclose(served, model.predict(batch, verbose=0).reshape(-1), rtol=1e-5, atol=1e-4)
    return path
