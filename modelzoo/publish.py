"""Publishing trained weights, and checking published ones against what their manifest promises.

`publish(model, to)` writes one published folder (the format is `modelzoo.weights`'): the Keras
files without the optimizer's state (optionally as float16), then the model is loaded back from
them and measured on its test split, so the manifest's figure is that of the files as published;
the manifest adds the test split's fingerprint, the seeds' figures when several were trained,
the command, machine, versions, licences and the sha256 of every file, and `README.md` is a model
card whose YAML header carries Hugging Face's `model-index`. `verify(name, weights)` loads
published weights through `build(name, weights=...)`, measures them on the entry's real test
split and holds the figure and the split's fingerprint against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from statistics import mean, stdev
from typing import Any

import h5py
import keras
import numpy as np
import tensorflow as tf

from modelzoo import atomic, runs
from modelzoo import weights as published
from modelzoo.data import data_source, load_dataset
from modelzoo.errors import InvalidValueError, ModelZooError
from modelzoo.export.card import parity_inputs, sample_examples
from modelzoo.registry import client_inputs
from modelzoo.training import evaluate
from modelzoo.zoo import BuildRecord, build, get_entry, load_keras, record_of

CODE_LICENCE = "Apache-2.0"
KERAS_WEIGHTS = "model.weights.h5"
PROBE_WORDS = "the published probe inputs"
FLOAT16_MAX = 65504.0


def metric_of(record: BuildRecord) -> tuple[str, str]:
    """The metric and split a model is judged by: its entry's target's, else accuracy (or MAE
    for regression) on test."""
    target = get_entry(record.entry).target if record.info.source != "files" else None
    if target is not None:
        return target.metric, target.split
    return ("mae" if record.info.is_regression else "accuracy"), "test"


def tolerance_for(metric: str, value: float, examples: int) -> float:
    """How far `verify` lets a figure move: one example of a rate, or 0.1% of an error."""
    return 1 / examples if metric == "accuracy" else 1e-3 * abs(value)


def split_fingerprint(record: BuildRecord, split: str, data_dir: str | os.PathLike | None) -> tuple[str, int]:
    """sha256 of a split's examples and labels in their order (the same figure on other test
    data would not be the same claim), and how many examples it holds: counted, not taken from
    the dataset's description, since a local copy without a test split holds out part of train."""
    if record.data is not None:
        data = record.data.dataset(split, 256)
    else:
        data = load_dataset(record.info.name, split, batch_size=256, data_dir=data_dir)
    digest = hashlib.sha256()
    examples = 0
    for features, labels in data:
        examples += len(labels)
        parts = [features[k] for k in sorted(features)] if isinstance(features, Mapping) else [features]
        for tensor in (*parts, labels):
            array = tensor.numpy()
            digest.update(f"{array.dtype}{array.shape[1:]}".encode())
            digest.update(b"\0".join(array.ravel().tolist()) if array.dtype == object else array.tobytes())
    return digest.hexdigest(), examples


def compact_weights(path: Path, float16: bool) -> None:
    """Rewrite a Keras weights file without the optimizer's state (a loaded model is compiled
    afresh), large arrays gzip-compressed and, with `float16`, stored as float16 (Keras casts
    them back on load). Only large arrays (kernels, embeddings: nearly all the bytes) are
    halved: small ones such as a normalisation's mean and variance keep float32, whose range
    and precision they need (a table's variance can exceed float16's largest number)."""
    tmp = path.with_name(f".{path.name}.partial")
    with h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        dst.attrs.update(src.attrs)

        def copy(name: str, obj: h5py.Group | h5py.Dataset) -> None:
            if name.split("/")[0] == "optimizer":
                return
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(obj.attrs)
                return
            data = obj[()]
            big = np.ndim(data) > 0 and np.size(data) > 1024
            if float16 and big and data.dtype == np.float32 and np.abs(data).max() < FLOAT16_MAX:
                data = data.astype(np.float16)
            dst.create_dataset(name, data=data, **({"compression": "gzip", "shuffle": True} if big else {}))
            dst[name].attrs.update(obj.attrs)

        src.visititems(copy)
    os.replace(tmp, path)


def probe(
    model: keras.Model, trained: keras.Model, record: BuildRecord, data_dir: str | os.PathLike | None
) -> dict[str, Any]:
    """A few test inputs as a client sends them (synthetic when the data is not at hand), the
    outputs the published model gives them (`verify` holds a loaded model to these) and those of
    the `trained` model it was saved from (they differ by the float16 rounding, if any)."""
    inputs, what = parity_inputs(record.info, sample_examples(record, data_dir))

    def plain(value: Any) -> list:
        array = np.asarray(value)
        return [v.decode() if isinstance(v, bytes) else v for v in array.tolist()]

    return {
        "inputs": {k: plain(v) for k, v in inputs.items()},
        "outputs": {k: plain(v) for k, v in predict_named(model, inputs).items()},
        "trained_outputs": {k: plain(v) for k, v in predict_named(trained, inputs).items()},
        "what": what,
    }


def predict_named(model: keras.Model, inputs: Mapping[str, tf.Tensor]) -> dict[str, np.ndarray]:
    """`model`'s outputs by name for inputs by name (a one-input model takes its tensor alone)."""
    outputs = model.predict(next(iter(inputs.values())) if len(inputs) == 1 else dict(inputs), verbose=0)
    if isinstance(outputs, Mapping):
        return dict(outputs)
    return dict(zip(model.output_names, outputs if isinstance(outputs, (list, tuple)) else [outputs]))


def publish(
    model: keras.Model,
    to: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    run_value: float | None = None,
    seeds: Mapping[int, float] | None = None,
    command: str | None = None,
    float16: bool = False,
    overwrite: bool = False,
) -> Path | str:
    """Write `model` (made by `build`, trained) as a published folder at `to` (a folder, or
    `hf://owner/name` to upload one with `huggingface_hub`). `run_value` is the run's own test
    figure and `seeds` every seed's when several were trained; the figure of the files as
    published is measured here."""
    record = record_of(model)
    if record is None:
        raise InvalidValueError(
            f"Model {model.name!r} was not built by modelzoo.build: nothing says what it is."
        )
    if str(to).startswith("hf://"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = publish(
                model,
                Path(tmp) / "published",
                data_dir=data_dir,
                run_value=run_value,
                seeds=seeds,
                command=command,
                float16=float16,
            )
            return upload(Path(folder), str(to))
    dest = Path(to)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not overwrite:
        raise InvalidValueError(
            f"{dest} already exists; pick another folder, or pass --overwrite to replace it."
        )
    metric, split = metric_of(record)
    with atomic.partial_path(dest) as folder:
        model.save(folder, zipped=False)
        compact_weights(folder / KERAS_WEIGHTS, float16)
        loaded = load_keras(folder)
        record.recipe.compile(loaded, 1)
        loaded.modelzoo = replace(record, init=None)
        value = evaluate(loaded, split=split, data_dir=data_dir)[metric]
        fingerprint, examples = split_fingerprint(record, split, data_dir)
        tolerance = tolerance_for(metric, value, examples)
        if run_value is not None and abs(value - run_value) > tolerance:
            raise ModelZooError(
                f"The files as published score {metric} {value:.4f}, the trained model {run_value:.4f}: "
                "saving changed the model (float16 storage?); publish it without --float16."
            )
        atomic.write_text(folder / published.PROBE, json.dumps(probe(loaded, model, record, data_dir)) + "\n")
        manifest = {
            "format": published.FORMAT,
            "entry": record.entry,
            "model": record.name,
            "hyperparameters": json.loads(json.dumps(dict(record.hyperparameters), default=list)),
            "overrides": overrides_of(record),
            "recipe": record.recipe.to_dict(),
            "class_names": list(record.info.class_names),
            "inputs": [
                {"name": s.name, "shape": list(s.shape), "dtype": s.dtype} for s in client_inputs(record.info)
            ],
            **({"dataset": record.info.to_dict()} if record.info.source == "files" else {}),
            "data": {
                "name": record.info.name,
                "source": data_source(record.info, data_dir),
                "licence": record.info.licence,
                "split": split,
                "examples": examples,
                "fingerprint": fingerprint,
            },
            "metric": {
                "name": metric,
                "split": split,
                "value": round(value, 6),
                "tolerance": tolerance,
                "run_value": run_value,
                **seed_summary(seeds),
            },
            "weights_dtype": "float16" if float16 else "float32",
            "parameters": int(loaded.count_params()),
            "command": command,
            "date": date.today().isoformat(),
            "machine": runs.machine(),
            "versions": runs.versions(),
            "licence": {"code": CODE_LICENCE, "data": record.info.licence},
        }
        atomic.write_text(folder / "README.md", model_card(manifest))
        manifest["files"] = published.file_digests(folder)
        atomic.write_text(folder / published.MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return dest


def overrides_of(record: BuildRecord) -> dict[str, Any]:
    """What the model was built with that differs from its entry's defaults and recipe."""
    entry = get_entry(record.entry)
    hyperparameters = {k: v for k, v in record.hyperparameters.items() if entry.defaults.get(k) != v}
    base = entry.recipe.for_head(
        record.info.num_classes, 1 if record.recipe.loss == "binary_crossentropy" else 2
    )
    recipe = {k: v for k, v in record.recipe.to_dict().items() if base.to_dict().get(k) != v and k != "name"}
    return json.loads(json.dumps({**hyperparameters, **recipe}, default=list))


def seed_summary(seeds: Mapping[int, float] | None) -> dict[str, Any]:
    if not seeds:
        return {}
    values = list(seeds.values())
    spread = {"sd": round(stdev(values), 6)} if len(values) > 1 else {}
    return {
        "seeds": {str(k): round(v, 6) for k, v in seeds.items()},
        "mean": round(mean(values), 6),
        **spread,
    }


def model_card(manifest: Mapping[str, Any]) -> str:
    """README.md: a YAML header Hugging Face reads (JSON values are YAML) and what a reader needs."""
    metric, data = manifest["metric"], manifest["data"]
    task = {"image_classification": "image-classification", "text_classification": "text-classification"}
    task_type = task.get(get_entry(manifest["entry"]).task, "tabular-classification")
    index = [
        {
            "name": manifest["model"],
            "results": [
                {
                    "task": {"type": task_type},
                    "dataset": {"name": data["name"], "type": data["name"], "split": data["split"]},
                    "metrics": [{"type": metric["name"], "value": metric["value"]}],
                }
            ],
        }
    ]
    header = [
        "---",
        "library_name: keras",
        f"license: {CODE_LICENCE.lower()}",
        f"tags: {json.dumps(['modelzoo', manifest['entry'], task_type])}",
        f"model-index: {json.dumps(index)}",
        "---",
    ]
    seeds = ""
    if len(metric.get("seeds", {})) > 1:
        seeds = (
            f" The entry's record is the mean of seeds {', '.join(metric['seeds'])}: {metric['mean']:.4f}."
        )
    body = [
        f"# {manifest['model']}",
        "",
        f"{get_entry(manifest['entry']).description}",
        "",
        f"- {metric['name']} on {data['name']} {data['split']} ({data['examples']:,} examples): "
        f"{metric['value']:.4f} with these files.{seeds}",
        f"- classes: {', '.join(manifest['class_names']) or 'none (regression)'}",
        f"- weights stored as {manifest['weights_dtype']}; {manifest['parameters']:,} parameters",
        f"- data licence: {manifest['licence']['data']}; code licence: {manifest['licence']['code']}",
        f"- made by: {manifest['command']} on {manifest['date']} ({manifest['machine']})",
        "",
        "```python",
        "import modelzoo",
        f'model = modelzoo.build("{manifest["model"]}", weights="PATH_OR_hf://OWNER/NAME")',
        "```",
        "",
        f"`modelzoo verify {manifest['model']} --weights PATH` measures it again on the test split and "
        "checks "
        "every file against `manifest.json`.",
    ]
    return "\n".join(header + body) + "\n"


def upload(folder: Path, handle: str) -> str:
    """Upload a published folder to `hf://owner/name` (a token and network needed)."""
    import huggingface_hub

    repo = handle.removeprefix("hf://")
    try:
        api = huggingface_hub.HfApi(library_name="keras", library_version=keras.__version__)
        api.create_repo(repo, exist_ok=True)
        api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="Publish with modelzoo")
    except Exception as err:  # no token, no network, no rights: one line, whatever the class
        raise ModelZooError(
            f"Cannot upload to {handle} ({type(err).__name__}: {str(err).splitlines()[0]}); log in with "
            "`hf auth login` where there is network, or publish to a folder and upload it later."
        ) from None
    return handle


@dataclass(frozen=True)
class Verification:
    """Published weights measured again on their test split, against their manifest."""

    name: str
    metric: str
    split: str
    examples: int
    published: float
    measured: float
    tolerance: float
    same_split: bool
    files: int
    probe_diff: float
    """Largest difference from the published outputs on the probe's inputs (`PROBE_TOLERANCE`)."""

    @property
    def ok(self) -> bool:
        return self.same_split and abs(self.measured - self.published) <= self.tolerance

    def __str__(self) -> str:
        verdict = "verified" if self.ok else "NOT verified"
        split = (
            "same test split" if self.same_split else "OTHER test split than published (fingerprint differs)"
        )
        return (
            f"{self.name}: {self.metric} {self.measured:.4f} on {self.split} ({self.examples:,} examples), "
            f"published {self.published:.4f} ± {self.tolerance:.4g}: {verdict}; {split}; "
            f"{self.files} files match their sha256; outputs on {PROBE_WORDS} within {self.probe_diff:.1g}"
        )


def verify(
    name: str, weights: str | os.PathLike = "zoo", data_dir: str | os.PathLike | None = None
) -> Verification:
    """Load published weights of `name`, measure them on the entry's test split and compare."""
    path = published.locate(weights, name)
    if not path.is_dir():
        raise InvalidValueError(
            f"{path} is a .keras file with no manifest to verify against; publish its run."
        )
    manifest = published.read_manifest(path)
    if "dataset" in manifest:
        raise InvalidValueError(
            f"{path} holds a model of a user's files ({manifest['model']}); verify is for entries' datasets."
        )
    model = build(name, weights=path)
    probe_diff = check_probe(model, path)
    record = record_of(model)
    metric, data = manifest["metric"], manifest["data"]
    fingerprint, examples = split_fingerprint(record, data["split"], data_dir)
    value = evaluate(model, split=data["split"], data_dir=data_dir)[metric["name"]]
    return Verification(
        name=name,
        metric=metric["name"],
        split=data["split"],
        examples=examples,
        published=metric["value"],
        measured=float(value),
        tolerance=metric["tolerance"],
        same_split=fingerprint == data["fingerprint"],
        files=len(manifest["files"]),
        probe_diff=probe_diff,
    )


PROBE_TOLERANCE = (1e-5, 1e-5)
"""(absolute, relative) difference allowed from a published output: float32 sums taken in another
order (another CPU's kernels) move the last bits, and of an output of about 150 (linear_diabetes'
disease progression) by 3e-5."""


def check_probe(model: keras.Model, folder: Path) -> float:
    """Largest difference between `model`'s outputs on the folder's probe inputs and those
    published; refused beyond `PROBE_TOLERANCE`."""
    saved = json.loads((folder / published.PROBE).read_text())
    inputs = {
        k: tf.constant(v) if isinstance(v[0], str) else tf.constant(np.asarray(v, np.float32))
        for k, v in saved["inputs"].items()
    }
    got = predict_named(model, inputs)
    absolute, relative = PROBE_TOLERANCE
    outputs = {k: (np.asarray(got[k]), np.asarray(v)) for k, v in saved["outputs"].items()}
    worst = max(float(np.abs(now - then).max()) for now, then in outputs.values())
    if not all(np.allclose(now, then, rtol=relative, atol=absolute) for now, then in outputs.values()):
        raise ModelZooError(
            f"{folder}: outputs differ from the published probe by {worst:.3g} "
            f"(more than {absolute:g} + {relative:g} x the published value)."
        )
    return worst
