"""Export to the versioned SavedModel layout TensorFlow Serving watches: `<root>/<name>/<version>/`.

TF Serving polls the model's base path and loads any new integer folder it sees, so a version is
written under a temporary (non-integer) name and renamed into place only when complete.

Signatures take what a client sends and return named outputs (`keras.export.ExportArchive`):
- `serving_default`: `pixels` (raw 0-255, float32) or `features` -> `probabilities`, `classes`
  (int64), `labels` (class names), plus `logits` where the model has them; regression returns
  `predictions`.
- `serving_bytes` (image entries): `image_bytes`, encoded PNG/JPEG/BMP/GIF (REST: `{"b64": ...}`),
  decoded and resized in the graph.
The graph is checked for ops the model server lacks (Python callbacks, XLA) before it is published.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from modelzoo import atomic
from modelzoo.data import DatasetInfo, dataset_info
from modelzoo.errors import InvalidValueError, ModelZooError
from modelzoo.registry import get_entry, record_of

DEFAULT_EXPORT_DIR = "saved_models"
SERVING_MODELS_ROOT = "/models"
"""Where the serving container sees the export root (deploy/docker-compose.yml mounts it there)."""
FORBIDDEN_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc", "XlaLaunch", "_XlaCompile", "_XlaRun"})
"""Ops the TensorFlow model server cannot run: Python callbacks, and XLA (its JIT is off by default)."""


def serving_outputs(model: keras.Model, info: DatasetInfo, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
    """The model's output turned into what a client wants, each under its own name."""
    output = model(inputs, training=False)
    if info.num_classes == 0:
        return {"predictions": output}
    if info.num_classes == 2:
        positive = output[:, :1]
        named = {"probabilities": tf.concat([1.0 - positive, positive], axis=1)}
    else:
        named = {"logits": output, "probabilities": tf.nn.softmax(output, axis=-1)}
    classes = tf.argmax(named["probabilities"], axis=1, output_type=tf.int64)
    named["classes"] = classes
    named["labels"] = tf.gather(tf.constant(info.class_names), classes)
    return named


def decode_images(image_bytes: tf.Tensor, shape: tuple[int, ...]) -> tf.Tensor:
    """Encoded images -> float32 pixels of `shape` (0-255), resized when their size differs."""
    height, width, channels = shape

    def decode(one: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(one, channels=channels, expand_animations=False)
        image = tf.cast(image, tf.float32)
        if_resized = tf.image.resize(image, (height, width))
        same = tf.logical_and(tf.shape(image)[0] == height, tf.shape(image)[1] == width)
        return tf.ensure_shape(tf.cond(same, lambda: image, lambda: if_resized), shape)

    return tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec(shape, tf.float32))


def serving_archive(model: keras.Model, info: DatasetInfo) -> keras.export.ExportArchive:
    """An ExportArchive with the named signatures described in the module docstring."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None, *info.input_shape), tf.float32, name=info.input_name)
    if info.input_name == "pixels":

        def serve_pixels(pixels: tf.Tensor) -> dict[str, tf.Tensor]:
            return serving_outputs(model, info, pixels)

        def serve_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            return serving_outputs(model, info, decode_images(image_bytes, info.input_shape))

        archive.add_endpoint("serving_default", serve_pixels, input_signature=[spec])
        bytes_spec = tf.TensorSpec((None,), tf.string, name="image_bytes")
        archive.add_endpoint("serving_bytes", serve_bytes, input_signature=[bytes_spec])
    else:

        def serve_features(features: tf.Tensor) -> dict[str, tf.Tensor]:
            return serving_outputs(model, info, features)

        archive.add_endpoint("serving_default", serve_features, input_signature=[spec])
    return archive


def graph_ops(saved_model_dir: Path) -> set[str]:
    """Every op type in a SavedModel's graphs and functions (what `saved_model_cli show
    --list_ops` lists)."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    ops = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
            if function.attr["_XlaMustCompile"].b:
                ops.add("_XlaMustCompile")
    return ops


def check_servable(saved_model_dir: Path) -> None:
    """Refuse a SavedModel that the TensorFlow model server could not run."""
    bad = graph_ops(saved_model_dir) & (FORBIDDEN_OPS | {"_XlaMustCompile"})
    if bad:
        raise ModelZooError(
            f"The exported graph uses {sorted(bad)}, which TensorFlow Serving cannot run: Python "
            "callbacks (tf.py_function/numpy_function) or XLA (compile with jit_compile=False)."
        )


def write_models_config(export_root: Path, serving_root: str = SERVING_MODELS_ROOT) -> Path:
    """`models.config` listing every model under the root, for `--model_config_file`."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    for base in sorted(p for p in export_root.iterdir() if p.is_dir() and versions_in(p)):
        entry = config.model_config_list.config.add()
        entry.name = base.name
        entry.base_path = f"{serving_root}/{base.name}"
        entry.model_platform = "tensorflow"
    path = export_root / "models.config"
    atomic.write_text(path, text_format.MessageToString(config))
    return path


def versions_in(base: Path) -> list[int]:
    """Integer version folders under a model's base path, ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def export(
    model: keras.Model,
    name: str | None = None,
    export_dir: str | os.PathLike = DEFAULT_EXPORT_DIR,
    *,
    version: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write `model` as SavedModel version `version` (default: the next integer) of `name`
    (default: its entry name), refresh the root's `models.config`, and return the version folder.

    An entry's model gets the named serving signatures; any other Keras model is exported with
    `model.export`'s default signature."""
    record = record_of(model)
    name = name or (record.entry if record else model.name)
    base = Path(export_dir) / name
    if version is None:
        version = (versions_in(base) or [0])[-1] + 1
    if version < 1:
        raise InvalidValueError(f"version must be a positive integer, got {version}.")
    target = base / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; pick another version or pass overwrite=True to replace it."
        )
    with atomic.partial_path(target) as tmp:
        if record is None:
            model.export(str(tmp), format="tf_saved_model", verbose=False)
        else:
            serving_archive(model, dataset_info(get_entry(record.entry).dataset)).write_out(
                str(tmp), verbose=False
            )
        check_servable(tmp)
    write_models_config(Path(export_dir))
    return target
