"""The model card every target writes, and the parity check it quotes.

Each export is run on real test examples (or, when the data is not at hand, on synthetic ones) in
the runtime that will serve it, the outputs are compared with the Keras model's, and the export is
refused when they differ: a number by more than the target's tolerance, or any class or label. The
card (`model_card.json` and a `README.md`) says what the artifact is, which data and recipe made
it, how it scored, and how closely the exported model matched Keras.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from modelzoo.data import DatasetInfo, data_source, load_dataset
from modelzoo.errors import DataNotFoundError, ModelZooError
from modelzoo.export.base import Examples, Written
from modelzoo.registry import client_inputs
from modelzoo.runs import versions
from modelzoo.zoo import BuildRecord, get_entry, weights_of

EXAMPLES = 8
"""How many test examples an export is checked on (and a SavedModel warmed up with)."""
MAX_SERVED_DIFF = 1e-5
"""The most an exported output may differ from the Keras model's on the same inputs."""


def sample_examples(record: BuildRecord, data_dir: str | os.PathLike | None) -> Examples | None:
    """The first test examples of the user's data or the entry's dataset, as a client sends them,
    or None when they are not already local (an export never waits on a download)."""
    if record.data is not None:
        return record.data.examples("test", EXAMPLES)
    if record.info.source == "files":
        return None
    try:
        test = load_dataset(record.info.name, "test", batch_size=EXAMPLES, data_dir=data_dir, download=False)
        features, _ = next(iter(test))
    except DataNotFoundError:
        return None
    return {record.info.input_name: features.numpy()}


def as_request(examples: Examples, size: int) -> dict[str, tf.Tensor]:
    """The first `size` examples as the tensors of a predict request."""
    return {
        k: tf.constant(v[:size] if v.dtype == object else v[:size].astype(np.float32))
        for k, v in examples.items()
    }


def parity_inputs(info: DatasetInfo, examples: Examples | None) -> tuple[dict[str, tf.Tensor], str]:
    """What the check runs on: the test examples, else zeros or short strings of the input's shape."""
    if examples is not None:
        return as_request(examples, EXAMPLES), "test examples"
    synthetic = {
        spec.name: np.array(["a short text", ""], dtype=object)
        if spec.dtype == "string"
        else np.zeros((2, *spec.shape[1:]), np.float32)
        for spec in client_inputs(info)
    }
    return as_request(synthetic, 2), "synthetic inputs"


def check_parity(
    expected: Mapping[str, Any], got: Mapping[str, Any], inputs: str, what: str, tolerance: float
) -> dict[str, Any]:
    """Compare the Keras model's outputs (`expected`) with the exported model's (`got`) and refuse
    the export when a number differs by more than `tolerance` or a class or label differs."""
    worst = 0.0
    count = 0
    for key, value in expected.items():
        have, want = np.asarray(got[key]), np.asarray(value)
        count = len(want)
        if want.dtype.kind in "OSU" or key == "classes":
            if not np.array_equal(have.astype(want.dtype), want):
                raise ModelZooError(
                    f"The {what}'s {key!r} differ from the Keras model's: {have[:4]} vs {want[:4]}."
                )
        else:
            worst = max(worst, float(np.abs(have - want).max(initial=0.0)))
    if not worst <= tolerance:
        raise ModelZooError(
            f"The {what} differs from the Keras model by up to {worst:.3g} (> {tolerance:g}) on {inputs}: "
            "the export is refused."
        )
    return {"max_abs_diff": worst, "examples": count, "inputs": inputs, "tolerance": tolerance}


def parity_line(what: str, agreement: Mapping[str, Any]) -> str:
    return (
        f"- {what} vs Keras model: max abs difference {agreement['max_abs_diff']:.2g} on "
        f"{agreement['examples']} {agreement['inputs']} (refused above {agreement['tolerance']:g})"
    )


def write_model_card(
    version_dir: Path,
    name: str,
    version: int,
    format: str,
    record: BuildRecord,
    written: Written,
    metrics: dict[str, float],
    evaluation: dict[str, Any] | None,
    data_dir: str | os.PathLike | None = None,
) -> None:
    """`model_card.json` and `README.md` in the target's card folder: what this artifact is, what
    made it, how it scored, and (from `written`) how to call it and how it matched Keras."""
    info = record.info
    recipe = record.recipe.to_dict()
    card: dict[str, Any] = {
        "name": name,
        "version": version,
        "format": format,
        "entry": record.entry,
        "description": get_entry(record.entry).description,
        "task": info.task,
        "dataset": info.name,
        "class_names": list(info.class_names),
        "data_source": data_source(info, data_dir),
        "inputs": {c.name: c.dtype for c in info.columns} or None,
        "hyperparameters": dict(record.hyperparameters),
        "weights": weights_of(record.hyperparameters, record.recipe, 0, record.init),
        "recipe": recipe,
        "augmentation": list(record.recipe.augmentation(info)),
        "recipe_sha256": hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest(),
        "metrics": metrics,
        "evaluation": evaluation,
        "versions": versions(),
        **written.card,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if record.data is not None:
        report = record.data.report
        card["data"] = {
            k: report[k]
            for k in ("path", "kind", "layout", "split_rule", "examples", "classes", "duplicates")
            if k in report
        } | {"skipped_files": len(report["skipped"]), "notes": report["notes"]}  # fmt: skip
    folder = version_dir / written.card_dir
    folder.mkdir(exist_ok=True)
    (folder / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    lines = [
        f"# {name}, version {version} ({format})",
        "",
        card["description"],
        "",
        f"- entry `{record.entry}`, dataset `{info.name}`, task `{info.task}`",
        f"- classes: {', '.join(info.class_names) or '- (regression)'}",
        f"- metrics at training: {json.dumps(metrics) if metrics else 'not given'}",
        f"- evaluation: {evaluation_line(evaluation)}",
        f"- recipe `{recipe['name']}` (sha256 {card['recipe_sha256'][:12]})",
        *(
            [f"- image augmentation in training: {', '.join(card['augmentation']) or 'none'}"]
            if info.is_image
            else []
        ),
        f"- exported with TensorFlow {tf.__version__}, Keras {keras.__version__}",
        *written.readme,
    ]
    (folder / "README.md").write_text("\n".join(lines) + "\n")


def interface_lines(signatures: Mapping[str, Any]) -> list[str]:
    """`signature: inputs -> outputs` lines for the README, from `{key: {inputs, outputs}}`."""
    lines = []
    for key, spec in signatures.items():
        inputs = ", ".join(f"`{k}` {v['dtype']}{v['shape']}" for k, v in spec["inputs"].items())
        outputs = ", ".join(f"`{k}` {v['dtype']}{v['shape']}" for k, v in spec["outputs"].items())
        lines.append(f"- `{key}`: {inputs} -> {outputs}")
    return lines


def evaluation_line(summary: dict[str, Any] | None) -> str:
    """The model card's one line on the evaluation report."""
    if summary is None:
        return "not given"
    if "accuracy" not in summary:
        errors = f"MAE {summary['mae']:.4g}, R² {summary['r2']:.4f}"
        return f"{summary['split']} ({summary['examples']} examples): {errors}"
    weakest = min(summary["f1_per_class"].items(), key=lambda kv: kv[1])
    confused = f"; most confused {', '.join(summary['most_confused'])}" if summary["most_confused"] else ""
    return (
        f"{summary['split']} ({summary['examples']} examples): accuracy {summary['accuracy']:.4f}, macro F1 "
        f"{summary['macro_f1']:.4f}, lowest F1 {weakest[1]:.4f} ({weakest[0]}){confused}"
    )
