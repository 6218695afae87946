"""Answer a TF Serving REST predict request the way the model server does, with TensorFlow alone.

Run as a script in a fresh process (stdin: {"path", "body", "text_ops"} with the exact JSON a client
posts to `/v1/models/NAME:predict`; stdout: the JSON response). It imports only TensorFlow, plus
tensorflow-text when `text_ops` is set (the model server links those ops in), so a passing test
shows the export needs nothing from modelzoo, keras-hub or Keras at serving time.
"""

import base64
import json
import sys

import numpy as np
import tensorflow as tf


def to_tensor(value, spec: tf.TensorSpec) -> tf.Tensor:
    """JSON value -> tensor of the signature's dtype; {"b64": ...} objects become bytes."""

    def unwrap(v):
        if isinstance(v, dict) and set(v) == {"b64"}:
            return base64.b64decode(v["b64"])
        return [unwrap(x) for x in v] if isinstance(v, list) else v

    value = unwrap(value)
    if spec.dtype == tf.string:
        return tf.constant(value, dtype=tf.string)
    return tf.constant(np.asarray(value, dtype=spec.dtype.as_numpy_dtype))


def predict(path: str, body: dict) -> dict:
    signature = tf.saved_model.load(path).signatures[body.get("signature_name", "serving_default")]
    specs = signature.structured_input_signature[1]
    if "instances" in body:
        rows = body["instances"]
        if len(specs) == 1 and not (rows and isinstance(rows[0], dict) and set(rows[0]) <= set(specs)):
            (name,) = specs
            rows = [{name: row} for row in rows]
        inputs = {name: to_tensor([row[name] for row in rows], spec) for name, spec in specs.items()}
    else:
        columns = body["inputs"]
        if not isinstance(columns, dict) or set(columns) != set(specs):
            (name,) = specs
            columns = {name: columns}
        inputs = {name: to_tensor(columns[name], spec) for name, spec in specs.items()}
    outputs = {k: v.numpy() for k, v in signature(**inputs).items()}

    def plain(x):
        return x.decode() if isinstance(x, bytes) else x.tolist() if hasattr(x, "tolist") else x

    if "instances" in body:
        n = len(next(iter(outputs.values())))
        return {"predictions": [{k: plain(v[i]) for k, v in outputs.items()} for i in range(n)]}
    return {"outputs": {k: [plain(x) for x in v] for k, v in outputs.items()}}


if __name__ == "__main__":
    request = json.load(sys.stdin)
    if request.get("text_ops"):
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops, as the model server has them)
    response = predict(request["path"], request["body"])
    response["imported"] = sorted(m for m in ("modelzoo", "keras_hub", "keras") if m in sys.modules)
    print(json.dumps(response))
