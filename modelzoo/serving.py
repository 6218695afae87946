"""A small client for models served by TensorFlow Serving: REST (JSON) and gRPC.

    from modelzoo import serving
    outputs = serving.predict("http://localhost:8501", "mlp_digits", {"pixels": batch})
    outputs["labels"]        # array of class names, one per example

Bytes (encoded images for `serving_bytes`) are wrapped as `{"b64": ...}`, as the REST API expects.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelzoo.errors import InvalidValueError, ModelZooError

Inputs = Mapping[str, Any]


class ServingError(ModelZooError):
    """The model server answered a request with an error."""


def _jsonable(value: Any) -> Any:
    """Arrays to lists, bytes to `{"b64": ...}`, recursively."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def rest_payload(inputs: Inputs, *, signature: str = "serving_default", columnar: bool = False) -> dict:
    """The JSON body of a predict request: row form (`instances`, one object per example) or
    columnar form (`inputs`, one list per input)."""
    named = {k: _jsonable(v) for k, v in inputs.items()}
    if columnar:
        return {"signature_name": signature, "inputs": named}
    sizes = {len(v) for v in named.values()}
    if len(sizes) != 1:
        raise InvalidValueError(f"Inputs must have the same number of examples; got sizes {sorted(sizes)}.")
    rows = [{k: v[i] for k, v in named.items()} for i in range(sizes.pop())]
    return {"signature_name": signature, "instances": rows}


def parse_response(body: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A REST predict response (`predictions` or `outputs`) as one array per named output."""
    if "error" in body:
        raise ServingError(f"TF Serving answered with an error: {body['error']}")
    if "outputs" in body:
        outputs = body["outputs"]
        return (
            {k: np.asarray(v) for k, v in outputs.items()}
            if isinstance(outputs, dict)
            else {"output": np.asarray(outputs)}
        )
    rows = body["predictions"]
    if rows and isinstance(rows[0], dict):
        return {k: np.asarray([row[k] for row in rows]) for k in rows[0]}
    return {"output": np.asarray(rows)}


def predict(
    url: str,
    model: str,
    inputs: Inputs,
    *,
    signature: str = "serving_default",
    version: int | None = None,
    columnar: bool = False,
    timeout: float = 30.0,
) -> dict[str, np.ndarray]:
    """POST to `{url}/v1/models/{model}[/versions/{version}]:predict` and return named outputs."""
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version is not None else "") + ":predict"
    data = json.dumps(rest_payload(inputs, signature=signature, columnar=columnar)).encode()
    request = urllib.request.Request(
        url.rstrip("/") + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return parse_response(json.load(response))


def grpc_predict(
    target: str,
    model: str,
    inputs: Inputs,
    *,
    signature: str = "serving_default",
    version: int | None = None,
    timeout: float = 30.0,
) -> dict[str, np.ndarray]:
    """The same call over gRPC (`host:8500`) with tensorflow-serving-api's `PredictRequest`.
    gRPC, unlike REST, does not convert: a tensor must have the signature's dtype, so each input
    is cast to it first (the server's metadata says which), and `{"age": [41]}` reaches a float32
    column as 41.0 instead of being refused as int64."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        dtypes = signature_dtypes(stub, request.model_spec, timeout)
        for name, value in inputs.items():
            wanted = dtypes.get(name)
            array = np.asarray(value)
            if wanted is not None and wanted.is_floating and array.dtype.kind in "biuf":
                array = array.astype(wanted.as_numpy_dtype)
            request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
        response = stub.Predict(request, timeout=timeout)
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def signature_dtypes(stub: Any, spec: Any, timeout: float) -> dict[str, Any]:
    """Input name -> `tf.DType` of the signature `spec` names, from the server's model metadata."""
    import tensorflow as tf
    from tensorflow_serving.apis import get_model_metadata_pb2

    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.CopyFrom(spec)
    request.model_spec.ClearField("signature_name")
    response = stub.GetModelMetadata(request, timeout=timeout)
    defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(defs)
    inputs = defs.signature_def[spec.signature_name].inputs
    return {name: tf.dtypes.as_dtype(tensor.dtype) for name, tensor in inputs.items()}
