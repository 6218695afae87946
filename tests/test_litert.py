"""The LiteRT target: `.tflite` exports that the interpreter alone runs, with the Keras model's answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelzoo
from modelzoo.export import FORMATS

LITERT_PREDICT = Path(__file__).with_name("litert_predict.py")


def run_on_device(model: Path, inputs: dict[str, np.ndarray], tmp_path: Path) -> dict[str, np.ndarray]:
    """Outputs of `model` run by the LiteRT interpreter in a process without TensorFlow."""
    given, answer = tmp_path / "in.npz", tmp_path / "out.npz"
    np.savez(given, **inputs)
    result = subprocess.run(
        [sys.executable, str(LITERT_PREDICT), str(model), str(given), str(answer)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "none", "the interpreter process imported TensorFlow"
    with np.load(answer, allow_pickle=True) as out:
        return {k: out[k] for k in out.files}


def test_litert_export_answers_like_keras_without_tensorflow(digits_model, tmp_path):
    path = modelzoo.export(digits_model, export_dir=tmp_path / "lite", format="litert")
    assert path == tmp_path / "lite" / "mlp_digits" / "1"
    assert (path / "labels.txt").read_text().split() == [str(d) for d in range(10)]
    x, y = next(iter(modelzoo.load_dataset("digits", "test", batch_size=64)))
    pixels = x.numpy().astype(np.float32)  # the signature's dtype, as a client sends them
    out = run_on_device(path / "model.tflite", {"pixels": pixels}, tmp_path)
    keras_probabilities = keras_softmax(digits_model.predict(pixels, verbose=0))
    assert np.abs(out["probabilities"] - keras_probabilities).max() < 1e-4
    assert (out["classes"] == keras_probabilities.argmax(1)).all()
    assert [label.decode() for label in out["labels"]] == [str(c) for c in out["classes"]]
    assert (out["classes"] == y.numpy()).mean() > 0.8, "a trained model, not a random one"
    card = json.loads((path / "model_card.json").read_text())
    assert card["format"] == "litert" and card["litert_vs_keras"]["inputs"] == "test examples"
    assert card["litert_vs_keras"]["max_abs_diff"] <= card["litert_vs_keras"]["tolerance"] == 1e-4
    assert card["litert"]["signatures"]["serving_default"]["inputs"] == {
        "pixels": {"dtype": "float32", "shape": [-1, 8, 8, 1]}
    }
    assert "LiteRT interpreter vs Keras model" in (path / "README.md").read_text()


def keras_softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_a_table_with_string_columns_runs_as_litert(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["age,city,label"] + [
        f"{a},{c},{'yes' if a > 40 else 'no'}"
        for a, c in zip(rng.integers(18, 70, 240), rng.choice(["Paris", "Köln", "Zürich"], 240))
    ]
    (tmp_path / "people.csv").write_text("\n".join(rows) + "\n")
    model = modelzoo.build("mlp", data=modelzoo.load_files(tmp_path / "people.csv", target="label"))
    path = modelzoo.export(model, export_dir=tmp_path / "lite", format="litert")
    inputs = {"age": np.array([25.0, 60.0], np.float32), "city": np.array(["Köln", "unseen"])}
    sent = {**inputs, "city": np.array(["Köln".encode(), b"unseen"])}  # UTF-8 bytes, as a device sends
    out = run_on_device(path / "model.tflite", sent, tmp_path)
    want = model.predict({"age": inputs["age"], "city": inputs["city"].astype(object)}, verbose=0)
    assert np.abs(out["probabilities"][:, 1] - want[:, 0]).max() < 1e-4
    assert json.loads((path / "model_card.json").read_text())["class_names"] == ["no", "yes"]


def test_text_models_are_refused_for_litert_in_one_line_and_nothing_is_written(tmp_path):
    for label, words in (("pos", "good great fine"), ("neg", "bad awful poor")):
        (tmp_path / "texts" / label).mkdir(parents=True)
        for i in range(12):
            (tmp_path / "texts" / label / f"{i}.txt").write_text(f"{words} film {i}")
    model = modelzoo.build("rnn", data=modelzoo.load_files(tmp_path / "texts"))
    with pytest.raises(modelzoo.InvalidValueError, match="Flex delegate.*--format savedmodel") as err:
        modelzoo.export(model, export_dir=tmp_path / "lite", format="litert")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "lite").exists()


def test_a_new_litert_version_must_keep_the_interface(digits_model, tmp_path):
    modelzoo.export(digits_model, export_dir=tmp_path, format="litert")
    assert modelzoo.export(digits_model, export_dir=tmp_path, format="litert").name == "2"
    (tmp_path / "mlp_digits" / "2" / "model_card.json").write_text(json.dumps({"class_names": ["a", "b"]}))
    with pytest.raises(modelzoo.InvalidValueError, match="names its classes"):
        modelzoo.export(digits_model, export_dir=tmp_path, format="litert")
    assert sorted(p.name for p in (tmp_path / "mlp_digits").iterdir()) == ["1", "2"]


def test_litert_versions_are_left_out_of_models_config(digits_model, tmp_path):
    """One root for both targets: TF Serving must not be pointed at a folder of .tflite files."""
    modelzoo.export(digits_model, export_dir=tmp_path, format="litert")
    tabular = modelzoo.build("mlp_breast_cancer")
    modelzoo.export(tabular, export_dir=tmp_path)
    config = (tmp_path / "models.config").read_text()
    assert "mlp_breast_cancer" in config and "mlp_digits" not in config


def test_unknown_format_is_named_and_the_cli_offers_every_format():
    with pytest.raises(modelzoo.UnknownNameError, match="export format 'onnx'"):
        modelzoo.export(modelzoo.build("mlp_digits"), format="onnx")
    from modelzoo.cli import make_parser

    export = make_parser()._subparsers._group_actions[0].choices["export"]
    formats = next(a for a in export._actions if a.dest == "format")
    assert set(formats.choices) == set(FORMATS)
