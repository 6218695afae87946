"""`modelzoo.serving`: the client's REST payloads and gRPC requests, answered on 127.0.0.1 by a
stand-in server that runs the exported SavedModel (the real model server is not installable here)."""

from __future__ import annotations

import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import tensorflow as tf
from rest_predict import predict as rest_predict

import modelzoo
from modelzoo import serving


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = modelzoo.build("mlp_digits", epochs=3)
    modelzoo.fit(model, verbose=0)
    path = modelzoo.export(model, export_dir=tmp_path_factory.mktemp("served"))
    x, _ = next(iter(modelzoo.load_dataset("digits", "test", batch_size=4)))
    return model, path, x.numpy()


@pytest.fixture
def rest_server(exported):
    _, path, _ = exported
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            answer = json.dumps(rest_predict(str(path), body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("columnar", [False, True])
def test_rest_predict_returns_named_outputs(exported, rest_server, columnar):
    model, _, x = exported
    url, seen = rest_server
    outputs = serving.predict(url, "mlp_digits", {"pixels": x}, columnar=columnar, version=1)
    np.testing.assert_allclose(outputs["logits"], model.predict(x, verbose=0), atol=1e-5)
    assert outputs["labels"].tolist() == [str(c) for c in outputs["classes"]]
    path, body = seen[-1]
    assert path == "/v1/models/mlp_digits/versions/1:predict"
    assert ("inputs" in body) == columnar and ("instances" in body) != columnar


def test_rest_predict_sends_bytes_as_b64(exported, rest_server):
    model, _, x = exported
    url, seen = rest_server
    images = [tf.io.encode_png(tf.constant(p.astype(np.uint8))).numpy() for p in x]
    outputs = serving.predict(url, "mlp_digits", {"image_bytes": images}, signature="serving_bytes")
    np.testing.assert_allclose(outputs["logits"], model.predict(x, verbose=0), atol=1e-5)
    assert set(seen[-1][1]["instances"][0]["image_bytes"]) == {"b64"}


def test_rest_payload_refuses_ragged_inputs():
    with pytest.raises(ValueError, match="same number of examples"):
        serving.rest_payload({"a": [1, 2], "b": [1]})


def test_grpc_predict_uses_predict_request(exported):
    import grpc
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

    model, path, x = exported
    signatures = tf.saved_model.load(str(path)).signatures

    class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
        """As TF Serving does: the metadata from the SavedModel, and no dtype conversion."""

        def Predict(self, request, context):
            fn = signatures[request.model_spec.signature_name]
            inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
            for name, spec in fn.structured_input_signature[1].items():
                if inputs[name].dtype != spec.dtype:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{name}: expects {spec.dtype.name}")
            response = predict_pb2.PredictResponse()
            for name, value in fn(**inputs).items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
            return response

        def GetModelMetadata(self, request, context):
            proto = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
            defs = get_model_metadata_pb2.SignatureDefMap()
            for key, value in proto.meta_graphs[0].signature_def.items():
                defs.signature_def[key].CopyFrom(value)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.metadata["signature_def"].Pack(defs)
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        # integer pixels, as a client has them: cast to the signature's float32 (TF Serving would refuse)
        outputs = serving.grpc_predict(f"127.0.0.1:{port}", "mlp_digits", {"pixels": x.astype(np.int64)})
    finally:
        server.stop(grace=None)
    np.testing.assert_allclose(outputs["logits"], model.predict(x, verbose=0), atol=1e-5)
    assert [label.decode() for label in outputs["labels"]] == [str(c) for c in outputs["classes"]]
