"""Answer a TF Serving REST request the way the model server does, with TensorFlow alone.

Run as a script (`--text-ops`: with tensorflow-text's ops, as the model server links them in), it
answers requests as a server does, one per stdin line: {"path", "body", "method"}, with the exact
JSON a client posts to `/v1/models/NAME:predict` (or `:classify`/`:regress`, `method`); one stdout
line each: the JSON response, or {"error": traceback}. It imports only TensorFlow (plus
tensorflow-text with `--text-ops`), so a passing test shows the export needs nothing from
modelzoo, keras-hub or Keras at serving time.
"""

import base64
import json
import sys
import traceback

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


def to_example(row: dict) -> bytes:
    """One JSON example -> serialized tf.Example, as TF Serving's json_tensor.cc builds it: a
    number with a decimal point or exponent is a float_list, one without an int64_list, true/false
    int64 1/0, a string or {"b64": ...} a bytes_list; a list adds each element."""
    feature = {}
    for key, value in row.items():
        values = value if isinstance(value, list) else [value]
        first = values[0]
        if isinstance(first, bool) or isinstance(first, int):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
        elif isinstance(first, float):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            raw = [base64.b64decode(v["b64"]) if isinstance(v, dict) else v.encode() for v in values]
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=raw))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def classify_or_regress(path: str, body: dict, method: str) -> dict:
    """`:classify` / `:regress`: the signature (named in the body, else serving_default) must have
    one string input `inputs`; outputs `classes`+`scores` or `outputs` (as classifier.cc and
    regressor.cc check); the body's "examples" (JSON objects) are parsed as in `to_example`.
    Python's json, like rapidjson, reads 41 as an int and 41.0 as a float."""
    signature = tf.saved_model.load(path).signatures[body.get("signature_name", "serving_default")]
    (name,) = signature.structured_input_signature[1]
    assert name == "inputs", f"{method} needs one input named 'inputs', got {name!r}"
    examples = tf.constant([to_example(row) for row in body["examples"]])
    outputs = {k: v.numpy() for k, v in signature(inputs=examples).items()}
    if method == "regress":
        return {"results": [float(v) for v in outputs["outputs"].reshape(-1)]}
    return {
        "results": [
            [[c.decode(), float(s)] for c, s in zip(classes, scores)]
            for classes, scores in zip(outputs["classes"], outputs["scores"])
        ]
    }


def answer(request: dict) -> dict:
    method = request.get("method", "predict")
    if method == "predict":
        response = predict(request["path"], request["body"])
    else:
        response = classify_or_regress(request["path"], request["body"], method)
    response["imported"] = sorted(m for m in ("modelzoo", "keras_hub", "keras") if m in sys.modules)
    return response


if __name__ == "__main__":
    if "--text-ops" in sys.argv:
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops, as the model server has them)
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception:  # the test that sent it fails with this; the next request is answered
            reply = {"error": traceback.format_exc()}
        print(json.dumps(reply), flush=True)
