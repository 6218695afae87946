"""LiteRT (TensorFlow Lite) for phones, microcontrollers and CPUs without TensorFlow:
`<root>/<name>/<version>/model.tflite`, `labels.txt` and the model card.

The model is converted from the same `serving_default` signature the SavedModel has (raw pixels,
or one input per table column, in; `probabilities`, `classes`, `labels` or `predictions` out), by
way of a temporary SavedModel: converting Keras 3 variables from a concrete function gives NaNs.
The `.tflite` is then run by the LiteRT interpreter (`ai-edge-litert`) on test examples and its
answers held against the Keras model's.

Text models are refused: they take raw strings and split, lowercase and look them up in the
graph, ops LiteRT runs only with the Flex delegate (TF Select), which the LiteRT interpreter does
not carry.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from modelzoo.errors import InvalidValueError
from modelzoo.export.base import Examples, ExportTarget, Written, check_same_interface
from modelzoo.export.card import check_parity, interface_lines, parity_inputs, parity_line
from modelzoo.export.savedmodel import serving_archive, serving_outputs
from modelzoo.zoo import BuildRecord

MODEL_FILE = "model.tflite"
LABELS_FILE = "labels.txt"
MAX_LITERT_DIFF = 1e-4
"""LiteRT's kernels (XNNPACK) sum in another order than TensorFlow's: on the zoo's image and table
entries outputs differ by up to about 1e-6; more means a wrong conversion."""
FLEX_OPS = "StringSplitV2, StringLower, StaticRegexReplace, RaggedTensorToTensor"


def refuse(record: BuildRecord | None) -> None:
    if record is not None and record.info.is_text:
        raise InvalidValueError(
            f"{record.name} is a text model: it splits and looks up raw strings in its graph ({FLEX_OPS}), "
            "ops LiteRT runs only with the Flex delegate, which the LiteRT interpreter lacks; export it "
            "with --format savedmodel."
        )


def interpreter(path: Path) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path))


def describe(details: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"dtype": np.dtype(d["dtype"]).name, "shape": [int(n) for n in d["shape_signature"]]}
        for name, d in sorted(details.items())
    }


def signatures(loaded: Any) -> dict[str, Any]:
    """A loaded `.tflite`'s signatures with dtypes and shapes, as the interpreter reports them."""
    found = {}
    for key in loaded.get_signature_list():
        runner = loaded.get_signature_runner(key)
        found[key] = {
            "inputs": describe(runner.get_input_details()),
            "outputs": describe(runner.get_output_details()),
        }
    return found


def interface(folder: Path) -> dict[str, str]:
    return {key: str(spec) for key, spec in signatures(interpreter(folder / MODEL_FILE)).items()}


def write(
    model: keras.Model, record: BuildRecord | None, folder: Path, name: str, examples: Examples | None
) -> Written | None:
    """`model.tflite` (and `labels.txt`) converted from the serving signature and run by the
    interpreter against the Keras model; any other Keras model by `model.export` (no card)."""
    folder.mkdir(parents=True, exist_ok=True)
    if record is None:
        model.export(str(folder / MODEL_FILE), format="litert", verbose=False)
        return None
    info = record.info
    with tempfile.TemporaryDirectory() as saved:
        serving_archive(model, info).write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=["serving_default"])
        (folder / MODEL_FILE).write_bytes(converter.convert())
    if info.class_names:
        (folder / LABELS_FILE).write_text("".join(f"{label}\n" for label in info.class_names))
    inputs, kind = parity_inputs(info, examples)
    loaded = interpreter(folder / MODEL_FILE)  # once: the check and the card
    runner = loaded.get_signature_runner("serving_default")
    got = runner(**{k: v.numpy() for k, v in inputs.items()})
    expected = serving_outputs(model, info, inputs if info.columns else next(iter(inputs.values())))
    agreement = check_parity(expected, got, kind, "LiteRT model", MAX_LITERT_DIFF)
    found = signatures(loaded)
    card = {
        "litert": {"file": MODEL_FILE, "bytes": (folder / MODEL_FILE).stat().st_size, "signatures": found},
        "litert_vs_keras": agreement,
    }
    call = f"{next(iter(inputs))}=batch)" + (
        "  # one array per column" if info.columns else "  # float32, 0-255"
    )
    readme = [
        parity_line("LiteRT interpreter", agreement),
        "",
        "## Signature",
        "",
        *interface_lines(found),
        "",
        "## Call it",
        "",
        "```python",
        "from ai_edge_litert.interpreter import Interpreter",
        f'runner = Interpreter(model_path="{MODEL_FILE}").get_signature_runner("serving_default")',
        f"outputs = runner({call}",
        "```",
    ]
    return Written(card, readme)


def check(folder: Path, base: Path, version: int) -> None:
    check_same_interface(folder, base, version, interface, ".")


TARGET = ExportTarget("litert", "litert_models", write, check, refuse=refuse)
