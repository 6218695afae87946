"""SavedModel for TensorFlow Serving: `<root>/<name>/<version>/` with the server's files.

Signatures take what a client sends and return named outputs (`keras.export.ExportArchive`):
- `serving_default`: `text` (string), `pixels` (raw 0-255, float32) or `features` ->
  `probabilities`, `classes` (int64), `labels` (class names), plus `logits` where the model has
  them; regression returns `predictions`.
- `serving_bytes` (image entries): `image_bytes`, encoded PNG/JPEG/BMP/GIF (REST: `{"b64": ...}`),
  decoded and resized in the graph.
- A table of a user's (`load_files`) takes one named input per column (REST row:
  `{"instances": [{"age": 41, "city": "Paris"}]}`), and has `classify` (classes) or `regress`
  signatures too: serialized `tf.Example`s under `inputs`, as TF Serving's `:classify`/`:regress`
  endpoints feed them, answering `classes` + `scores` or `outputs` (method names set for servers
  run with `--enable_signature_method_name_check`).

Beside the graph: warm-up requests (`assets.extra/tf_serving_warmup_requests`), the model card,
and at the root `models.config` and `batching_parameters.txt`. The graph is checked for ops the
model server lacks (Python callbacks, XLA) before it is published, and reloaded by TensorFlow alone
to check its answers against the Keras model's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from modelzoo import atomic
from modelzoo.data import Column, DatasetInfo
from modelzoo.data.images import decode_image
from modelzoo.errors import ModelZooError
from modelzoo.export.base import Examples, ExportTarget, Written, check_same_interface, versions_in
from modelzoo.export.card import (
    EXAMPLES,
    MAX_SERVED_DIFF,
    as_request,
    check_parity,
    interface_lines,
    parity_inputs,
    parity_line,
)
from modelzoo.zoo import BuildRecord

SERVING_MODELS_ROOT = "/models"
"""Where the serving container sees the export root (deploy/docker-compose.yml mounts it there)."""
FORBIDDEN_OPS = frozenset(
    {"PyFunc", "PyFuncStateless", "EagerPyFunc", "XlaLaunch", "_XlaCompile", "_XlaRun", "_XlaMustCompile"}
)
"""Ops the TensorFlow model server cannot run: Python callbacks, and XLA (its JIT is off by default;
`_XlaMustCompile` stands for a function marked `jit_compile=True`)."""


LOOKUP_LAYERS = (keras.layers.TextVectorization, keras.layers.StringLookup, keras.layers.IntegerLookup)
"""Layers whose lookup tables an endpoint does not pull in by itself, tracked where the entries put them (the
model's top level). Only these are tracked: tracking the
whole model (`archive.track(model)`) makes Keras 3.15 save every weight twice (once as tracked, once as
used by the endpoints), doubling the SavedModel (finding "savedmodel weights tracked once")."""


def serving_outputs(
    model: keras.Model, info: DatasetInfo, inputs: tf.Tensor | dict[str, tf.Tensor]
) -> dict[str, tf.Tensor]:
    """The model's output turned into what a client wants, each under its own name. A keras-hub
    model's attached preprocessor (its tokenizer) runs first, inside the graph."""
    preprocessor = getattr(model, "preprocessor", None)
    output = model(preprocessor(inputs) if preprocessor is not None else inputs, training=False)
    if info.num_classes == 0:
        return {"predictions": output}
    if output.shape[-1] == 1:
        named = {"probabilities": tf.concat([1.0 - output, output], axis=1)}
        classes = tf.argmax(named["probabilities"], axis=1, output_type=tf.int64)
    else:
        named = {"logits": output, "probabilities": tf.nn.softmax(output, axis=-1)}
        classes = tf.argmax(output, axis=1, output_type=tf.int64)
    named["classes"] = classes
    named["labels"] = tf.gather(tf.constant(info.class_names), classes)
    return named


def decode_images(image_bytes: tf.Tensor, shape: tuple[int, ...]) -> tf.Tensor:
    """Encoded images -> float32 pixels of `shape` (0-255), decoded and resized as in training."""
    return tf.cast(
        tf.map_fn(
            lambda one: decode_image(one, shape),
            image_bytes,
            fn_output_signature=tf.TensorSpec(shape, tf.uint8),
        ),
        tf.float32,
    )


def parse_examples(serialized: tf.Tensor, columns: tuple[Column, ...]) -> dict[str, tf.Tensor]:
    """Serialized `tf.Example`s -> one batch per column, as TF Serving's REST API builds them
    from JSON: a number is an int64_list when written without a decimal point (`41`) and a
    float_list otherwise (`41.0`), so a numeric column accepts both (`tf.io.parse_example` takes
    one dtype per feature). Read with `tf.io.decode_proto`, core ops the server has; a missing
    feature gets the column's fill (train median, or "")."""
    _, (features,) = tf.io.decode_proto(serialized, "tensorflow.Example", ["features"], [tf.string])
    _, (entries,) = tf.io.decode_proto(features[:, 0], "tensorflow.Features", ["feature"], [tf.string])
    _, (keys, values) = tf.io.decode_proto(
        entries, "tensorflow.Features.FeatureEntry", ["key", "value"], [tf.string, tf.string]
    )
    keys = keys[..., 0]
    _, lists = tf.io.decode_proto(
        values[..., 0], "tensorflow.Feature", ["float_list", "int64_list", "bytes_list"], [tf.string] * 3
    )
    float_count, (floats,) = tf.io.decode_proto(
        lists[0][..., 0], "tensorflow.FloatList", ["value"], [tf.float32]
    )
    int_count, (ints,) = tf.io.decode_proto(lists[1][..., 0], "tensorflow.Int64List", ["value"], [tf.int64])
    _, (strings,) = tf.io.decode_proto(lists[2][..., 0], "tensorflow.BytesList", ["value"], [tf.string])
    numbers = tf.where(float_count[..., 0] > 0, floats[..., 0], tf.cast(ints[..., 0], tf.float32))
    has_number = (float_count[..., 0] + int_count[..., 0]) > 0
    parsed = {}
    for column in columns:
        match = tf.equal(keys, column.name)
        present = tf.reduce_any(match, axis=1)
        if column.kind == "string":
            value = tf.strings.reduce_join(tf.where(match, strings[..., 0], ""), axis=1)
        else:
            match = tf.logical_and(match, has_number)
            present = tf.reduce_any(match, axis=1)
            value = tf.reduce_sum(tf.where(match, numbers, 0.0), axis=1)
        parsed[column.name] = tf.where(present, value, tf.constant(column.fill, value.dtype))
    return parsed


def serving_archive(model: keras.Model, info: DatasetInfo) -> keras.export.ExportArchive:
    """An ExportArchive with the named signatures described in the module docstring (the
    TensorSpec's name is the signature's input name)."""
    archive = keras.export.ExportArchive()
    for layer in model.layers:
        if isinstance(layer, LOOKUP_LAYERS):
            archive.track(layer)
    if info.columns:
        add_table_endpoints(archive, model, info)
        return archive
    dtype = tf.string if info.is_text else tf.float32
    spec = tf.TensorSpec((None, *info.input_shape), dtype, name=info.input_name)

    def serve(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        # A signature call does not check shapes: a rank-3 batch of 8x8 digits would be flattened and
        # answered. Checking here makes a wrong shape an InvalidArgumentError in any server.
        return serving_outputs(model, info, tf.ensure_shape(inputs, spec.shape))

    archive.add_endpoint("serving_default", serve, input_signature=[spec])
    if info.is_image:

        def serve_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            return serve(decode_images(image_bytes, info.input_shape))

        bytes_spec = tf.TensorSpec((None,), tf.string, name="image_bytes")
        archive.add_endpoint("serving_bytes", serve_bytes, input_signature=[bytes_spec])
    return archive


CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


def add_table_endpoints(archive: keras.export.ExportArchive, model: keras.Model, info: DatasetInfo) -> None:
    """`serving_default` with one input per column, and `classify` or `regress` on tf.Examples."""
    specs = {c.name: tf.TensorSpec((None,), tf.dtypes.as_dtype(c.dtype), name=c.name) for c in info.columns}

    def serve(columns: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return serving_outputs(model, info, {k: tf.ensure_shape(v, (None,)) for k, v in columns.items()})

    archive.add_endpoint("serving_default", serve, input_signature=[specs])
    examples = tf.TensorSpec((None,), tf.string, name="inputs")
    if info.num_classes:

        def classify(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
            named = serving_outputs(model, info, parse_examples(inputs, info.columns))
            classes = tf.tile(tf.constant([info.class_names]), [tf.shape(inputs)[0], 1])
            return {"classes": classes, "scores": named["probabilities"]}

        archive.add_endpoint("classify", classify, input_signature=[examples])
    else:

        def regress(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
            output = serving_outputs(model, info, parse_examples(inputs, info.columns))["predictions"]
            return {"outputs": tf.reshape(output, (-1,))}

        archive.add_endpoint("regress", regress, input_signature=[examples])


def set_method_names(saved_model_dir: Path) -> None:
    """Mark `classify`/`regress` with TF Serving's method names: TF2 writes every signature as
    predict, which servers since 2.4 accept, but `--enable_signature_method_name_check` does not
    (tensorflow/serving#1657)."""
    path = saved_model_dir / "saved_model.pb"
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(path.read_bytes())
    for meta_graph in proto.meta_graphs:
        for key, method in (("classify", CLASSIFY_METHOD), ("regress", REGRESS_METHOD)):
            if key in meta_graph.signature_def:
                meta_graph.signature_def[key].method_name = method
    path.write_bytes(proto.SerializeToString())


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


def non_core_ops(saved_model_dir: Path) -> list[str]:
    """Ops of the graph that core TensorFlow lacks (not in `tf.raw_ops`): for the text entries,
    tensorflow-text's tokenizer ops, which a model server must have linked in."""
    return sorted(op for op in graph_ops(saved_model_dir) if not hasattr(tf.raw_ops, op))


def check_servable(saved_model_dir: Path) -> None:
    """Refuse a SavedModel that the TensorFlow model server could not run."""
    bad = graph_ops(saved_model_dir) & FORBIDDEN_OPS
    if bad:
        raise ModelZooError(
            f"The exported graph uses {sorted(bad)}, which TensorFlow Serving cannot run: Python "
            "callbacks (tf.py_function/numpy_function) or XLA (compile with jit_compile=False)."
        )


WARMUP_FILE = "tf_serving_warmup_requests"
WARMUP_BATCH_SIZES = (1, EXAMPLES)
"""One warm-up request per batch size per signature: the server runs them before it reports the
version available, so the first real request does not pay for graph initialisation."""


def as_tf_examples(examples: Examples, size: int) -> list[bytes]:
    """The first `size` rows as serialized tf.Examples (numbers as float_list)."""
    rows = []
    for i in range(size):
        feature = {}
        for k, v in examples.items():
            if v.dtype == object:
                feature[k] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(v[i]).encode()]))
            else:
                feature[k] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v[i])]))
        rows.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return rows


def write_warmup(version_dir: Path, name: str, info: DatasetInfo, examples: Examples) -> int:
    """`assets.extra/tf_serving_warmup_requests`: PredictionLog records (tensorflow-serving-api
    protos) for each signature; returns how many were written (the server reads at most 1,000)."""
    from tensorflow_serving.apis import (
        classification_pb2,
        input_pb2,
        model_pb2,
        predict_pb2,
        prediction_log_pb2,
        regression_pb2,
    )

    logs = []
    size_of = len(next(iter(examples.values())))
    for size in (s for s in WARMUP_BATCH_SIZES if s <= size_of):
        spec = model_pb2.ModelSpec(name=name, signature_name="serving_default")
        request = predict_pb2.PredictRequest(model_spec=spec)
        for key, tensor in as_request(examples, size).items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(tensor))
        logs.append(
            prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
        )
        if info.is_image:
            pixels = examples[info.input_name][:size]
            encoded = [tf.io.encode_png(tf.constant(x.astype(np.uint8))).numpy() for x in pixels]
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=name, signature_name="serving_bytes")
            )
            request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto(tf.constant(encoded)))
            logs.append(
                prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            )
        if info.columns:
            tf_input = input_pb2.Input(
                example_list=input_pb2.ExampleList(
                    examples=[tf.train.Example.FromString(e) for e in as_tf_examples(examples, size)]
                )
            )
            if info.num_classes:
                spec = model_pb2.ModelSpec(name=name, signature_name="classify")
                log = prediction_log_pb2.ClassifyLog(
                    request=classification_pb2.ClassificationRequest(model_spec=spec, input=tf_input)
                )
                logs.append(prediction_log_pb2.PredictionLog(classify_log=log))
            else:
                spec = model_pb2.ModelSpec(name=name, signature_name="regress")
                log = prediction_log_pb2.RegressLog(
                    request=regression_pb2.RegressionRequest(model_spec=spec, input=tf_input)
                )
                logs.append(prediction_log_pb2.PredictionLog(regress_log=log))
    path = version_dir / "assets.extra" / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return len(logs)


def signature_specs(signatures: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs and outputs of each signature, with dtypes and shapes, as the server reports them."""

    def describe(specs: dict) -> dict[str, Any]:
        return {
            k: {"dtype": v.dtype.name, "shape": [d if d is not None else -1 for d in v.shape]}
            for k, v in specs.items()
        }

    return {
        key: {
            "inputs": describe(fn.structured_input_signature[1]),
            "outputs": describe(fn.structured_outputs),
        }
        for key, fn in sorted(signatures.items())
    }


BATCHING_PARAMETERS = """\
max_batch_size { value: 128 }
batch_timeout_micros { value: 2000 }
max_enqueued_batches { value: 64 }
num_batch_threads { value: 2 }
allowed_batch_sizes: 8
allowed_batch_sizes: 32
allowed_batch_sizes: 128
"""
"""TF Serving `BatchingParameters` (text proto) for `--enable_batching`: requests arriving within
2 ms are merged up to 128 examples and padded to the next allowed size (the last one must equal
max_batch_size). Two batch threads match a 2-core host; raise it with the core count."""


def is_savedmodel_base(base: Path) -> bool:
    found = versions_in(base)
    return bool(found) and (base / str(found[-1]) / "saved_model.pb").is_file()


def write_models_config(export_root: Path, serving_root: str = SERVING_MODELS_ROOT) -> Path:
    """`models.config` listing every SavedModel under the root, for `--model_config_file`, and the
    default `batching_parameters.txt` beside it (both regenerated on every export). A model whose
    newest version is not a SavedModel (another target's export in the same root) is left out:
    the server would fail to load it."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    for base in sorted(p for p in export_root.iterdir() if p.is_dir() and is_savedmodel_base(p)):
        entry = config.model_config_list.config.add()
        entry.name = base.name
        entry.base_path = f"{serving_root}/{base.name}"
        entry.model_platform = "tensorflow"
    path = export_root / "models.config"
    atomic.write_text(path, text_format.MessageToString(config))
    atomic.write_text(export_root / "batching_parameters.txt", BATCHING_PARAMETERS)
    return path


def signature_defs(version_dir: Path) -> dict[str, str]:
    """Each signature of a written SavedModel as one line: inputs and outputs with dtypes and
    shapes (read from `saved_model.pb`, no TensorFlow load)."""
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version_dir / "saved_model.pb").read_bytes())

    def tensors(specs: Any) -> str:
        return ", ".join(
            f"{key} {tf.dtypes.as_dtype(spec.dtype).name}{[d.size for d in spec.tensor_shape.dim]}"
            for key, spec in sorted(specs.items())
        )

    return {
        key: f"({tensors(sig.inputs)}) -> ({tensors(sig.outputs)})"
        for key, sig in sorted(proto.meta_graphs[0].signature_def.items())
        if not key.startswith("__")
    }


CARD_DIR = "assets.extra"


def write(
    model: keras.Model, record: BuildRecord | None, folder: Path, name: str, examples: Examples | None
) -> Written | None:
    """An entry's model with the named signatures, warm-up requests and the card's fields; any
    other Keras model with `model.export`'s default signature (and no card)."""
    if record is None:
        model.export(str(folder), format="tf_saved_model", verbose=False)
        return None
    info = record.info
    serving_archive(model, info).write_out(str(folder), verbose=False)
    set_method_names(folder)
    served = tf.saved_model.load(str(folder)).signatures  # loaded once: the check and the card
    inputs, kind = parity_inputs(info, examples)
    expected = serving_outputs(model, info, inputs if info.columns else next(iter(inputs.values())))
    got = {k: v.numpy() for k, v in served["serving_default"](**inputs).items()}
    agreement = check_parity(expected, got, kind, "exported signature", MAX_SERVED_DIFF)
    warmups = write_warmup(folder, name, info, examples) if examples is not None else 0
    signatures = signature_specs(served)
    card: dict[str, Any] = {
        "min_tf_serving_version": ".".join(tf.__version__.split(".")[:2]) + ".0",
        "ops_outside_core_tensorflow": non_core_ops(folder),
        "signatures": signatures,
        "warmup_requests": warmups,
        "served_vs_keras": agreement,
    }
    if examples is not None:
        request = as_request(examples, 1)
        outputs = served["serving_default"](**request)
        instances = {k: first(v) for k, v in request.items()}
        card["example_request"] = {
            "instances": [instances if info.columns else next(iter(instances.values()))]
        }
        card["example_response"] = {"predictions": [{k: first(v) for k, v in outputs.items()}]}
    readme = [
        f"- needs TF Serving >= {card['min_tf_serving_version']}",
        f"- warm-up requests: {warmups}",
        parity_line("served signature", agreement),
        f"- ops from outside core TensorFlow: {', '.join(card['ops_outside_core_tensorflow']) or 'none'}"
        " (tensorflow-text's tokenizer ops are linked into the official model server of the same version)",
        "",
        "## Signatures",
        "",
        *interface_lines(signatures),
        "",
        "## Call it",
        "",
        "```bash",
        f"curl -d @request.json http://localhost:8501/v1/models/{name}:predict",
        "```",
    ]
    return Written(card, readme, CARD_DIR)


def first(tensor: tf.Tensor) -> Any:
    """The first row of a batch as JSON gives it."""
    value = tensor.numpy()[0]
    return value.decode() if tensor.dtype == tf.string else value.tolist()


def check(folder: Path, base: Path, version: int) -> None:
    check_servable(folder)
    check_same_interface(folder, base, version, signature_defs, CARD_DIR)


TARGET = ExportTarget("savedmodel", "saved_models", write, check, publish=write_models_config)
