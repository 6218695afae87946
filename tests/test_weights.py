"""Published weights: publish -> checked load (folder, http download, Hugging Face cache, the
weights the package ships) -> the same predictions, verify, export; tampering and mismatch refused."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import write_acl_imdb
from helpers import serve

import modelzoo
from modelzoo import weights
from modelzoo.publish import check_probe, publish, verify
from modelzoo.weights import ChecksumError


@pytest.fixture(scope="session")
def published_digits(digits_model, tmp_path_factory) -> Path:
    """The session's trained mlp_digits, published as float32."""
    return Path(publish(digits_model, tmp_path_factory.mktemp("pub") / "mlp_digits", command="tests"))


@pytest.fixture
def pixels() -> np.ndarray:
    x, _ = next(iter(modelzoo.load_dataset("digits", "test", batch_size=16)))
    return x.numpy()


def copy_of(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / folder.name))


def test_published_folder_loads_the_trained_model_and_verifies(published_digits, digits_model, pixels):
    manifest = weights.check_folder(published_digits)
    assert {"model.weights.h5", "config.json", "metadata.json", "README.md", "probe.json"} <= set(
        manifest["files"]
    )
    assert manifest["entry"] == "mlp_digits" and manifest["class_names"] == [str(d) for d in range(10)]
    assert manifest["overrides"] == {"epochs": 5}, "the session's model trains 5 epochs, not the recipe's"
    assert manifest["data"]["examples"] == 359 and len(manifest["data"]["fingerprint"]) == 64

    model = modelzoo.build("mlp_digits", weights=published_digits)
    np.testing.assert_allclose(
        model.predict(pixels, verbose=0), digits_model.predict(pixels, verbose=0), atol=1e-6
    )
    assert modelzoo.describe(model).weights == f"published weights {published_digits}"
    trained = modelzoo.evaluate(digits_model)["accuracy"]
    assert manifest["metric"]["value"] == pytest.approx(trained, abs=1e-6)

    result = verify("mlp_digits", published_digits)
    assert result.ok and result.same_split and result.measured == pytest.approx(trained, abs=1e-6)
    assert result.probe_diff <= 1e-5

    card = (published_digits / "README.md").read_text().split("---")[1]
    index = json.loads(
        next(line for line in card.splitlines() if line.startswith("model-index:")).split(": ", 1)[1]
    )
    assert index[0]["results"][0]["metrics"][0] == {"type": "accuracy", "value": manifest["metric"]["value"]}


def test_recipe_fields_change_a_published_model_but_hyperparameters_must_match(published_digits):
    model = modelzoo.build("mlp_digits", weights=published_digits, learning_rate=1e-4)
    assert model.modelzoo.recipe.learning_rate == 1e-4
    with pytest.raises(
        modelzoo.InvalidValueError,
        match=r"published for mlp_digits with hidden_units=256, not hidden_units=64",
    ):
        modelzoo.build("mlp_digits", weights=published_digits, hidden_units=64)
    with pytest.raises(modelzoo.InvalidValueError, match=r"holds weights of 'mlp_digits', not 'cnn_digits'"):
        modelzoo.build("cnn_digits", weights=published_digits)


def test_a_changed_byte_a_missing_file_and_a_newer_format_are_refused(published_digits, tmp_path):
    folder = copy_of(published_digits, tmp_path)
    data = bytearray((folder / "model.weights.h5").read_bytes())
    data[len(data) // 2] ^= 1
    (folder / "model.weights.h5").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"model.weights.h5 does not match its manifest"):
        modelzoo.build("mlp_digits", weights=folder)

    (folder / "model.weights.h5").unlink()
    with pytest.raises(ChecksumError, match=r"model.weights.h5 is missing"):
        modelzoo.build("mlp_digits", weights=folder)

    newer = copy_of(published_digits, tmp_path / "newer")
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "format": weights.FORMAT + 1}))
    with pytest.raises(modelzoo.InvalidValueError, match=r"newer than this modelzoo reads"):
        modelzoo.build("mlp_digits", weights=newer)


def test_publish_refuses_to_overwrite_and_writes_nothing_for_a_foreign_model(
    published_digits, digits_model, tmp_path
):
    with pytest.raises(modelzoo.InvalidValueError, match=r"already exists"):
        publish(digits_model, published_digits)
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(modelzoo.InvalidValueError, match=r"not built by modelzoo.build"):
        publish(plain, tmp_path / "plain")
    assert not (tmp_path / "plain").exists()


class Server(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; under /short/ every body stops halfway though its Content-Length is whole."""

    def log_message(self, *args) -> None:
        pass

    def copyfile(self, source, outputfile) -> None:
        body = source.read()
        outputfile.write(body[: len(body) // 2] if self.path.startswith("/short/") else body)


@pytest.fixture
def http_root(published_digits, tmp_path, monkeypatch):
    """A loopback HTTP server over good/, tampered/ and short/ copies of the published folder,
    with an empty MODELZOO_HOME."""
    root = tmp_path / "www"
    for name in ("good", "tampered", "short"):
        shutil.copytree(published_digits, root / name)
    with open(root / "tampered" / "config.json", "a") as f:
        f.write(" ")
    monkeypatch.setenv("MODELZOO_HOME", str(tmp_path / "home"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Server, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path / "home" / "downloads"
    server.shutdown()
    server.server_close()


def test_download_checks_every_file_and_caches_only_a_whole_folder(http_root, digits_model, pixels):
    base, cache = http_root
    model = modelzoo.build("mlp_digits", weights=f"{base}/good")
    np.testing.assert_allclose(
        model.predict(pixels, verbose=0), digits_model.predict(pixels, verbose=0), atol=1e-6
    )
    cached = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(cached) == 1 and weights.check_folder(cached[0])

    for broken, message in (("tampered", r"config.json does not match"), ("short", r"cut short")):
        with pytest.raises(ChecksumError, match=message):
            modelzoo.build("mlp_digits", weights=f"{base}/{broken}")
    assert [p.name for p in cache.iterdir()] == [cached[0].name]  # nothing of theirs kept

    (cached[0] / "model.weights.h5").write_bytes(b"damaged")  # a damaged cache entry is fetched again
    again = modelzoo.build("mlp_digits", weights=f"{base}/good")
    np.testing.assert_allclose(again.predict(pixels, verbose=0), model.predict(pixels, verbose=0), atol=1e-6)

    pin = weights.sha256(cached[0] / "manifest.json")
    assert modelzoo.build("mlp_digits", weights=f"{base}/good#sha256={pin}") is not None
    with pytest.raises(ChecksumError, match=r"pinned in the URL"):
        modelzoo.build("mlp_digits", weights=f"{base}/good#sha256={'0' * 64}")


def test_unreachable_url_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELZOO_HOME", str(tmp_path / "home"))
    with pytest.raises(
        modelzoo.ModelZooError, match=r"Cannot download http://127.0.0.1:9/w/manifest.json"
    ) as err:
        modelzoo.build("mlp_digits", weights="http://127.0.0.1:9/w")
    assert "\n" not in str(err.value)
    assert not any((tmp_path / "home").rglob("*.json"))


HF_LOAD = """
import json, sys
import modelzoo
x = json.loads(sys.stdin.read())
try:
    model = modelzoo.build("mlp_digits", weights=sys.argv[1])
except modelzoo.ModelZooError as err:
    print(json.dumps({"error": str(err)}))
else:
    predictions = model.predict(__import__("numpy").array(x, "float32"), verbose=0)
    print(json.dumps({"predictions": predictions.tolist()}))
"""


def test_hf_handle_reads_the_hugging_face_cache_offline(published_digits, digits_model, pixels, tmp_path):
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--mlp-digits"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(published_digits, repo / "snapshots" / revision)
    # huggingface_hub reads its cache folder and offline flag when imported: set before the process starts
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HUB_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    answers = []
    for handle in ("hf://someone/mlp-digits", "hf://someone/not-cached"):
        result = subprocess.run(
            [sys.executable, "-c", HF_LOAD, handle], input=json.dumps(pixels.tolist()),
            capture_output=True, text=True, timeout=240, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        answers.append(json.loads(result.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(answers[0]["predictions"], digits_model.predict(pixels, verbose=0), atol=1e-6)
    assert answers[1]["error"].startswith("Cannot get hf://someone/not-cached from Hugging Face")


def test_published_model_exports_and_serves_its_class_names(published_digits, digits_model, pixels, tmp_path):
    model = modelzoo.build("mlp_digits", weights=published_digits)
    path = modelzoo.export(model, export_dir=tmp_path / "sm")
    rows = serve(path, {"instances": pixels[:4].tolist()})["predictions"]
    expected = digits_model.predict(pixels[:4], verbose=0).argmax(axis=1)
    assert [r["labels"] for r in rows] == [str(c) for c in expected]


def test_cli_exports_and_verifies_published_weights_and_refuses_bad_handles(published_digits, tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "modelzoo.cli", *args], capture_output=True, text=True, timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=tmp_path,
        )  # fmt: skip

    done = cli("export", "mlp_digits", "--weights", str(published_digits), "--export-dir", "sm")
    assert done.returncode == 0, done.stderr[-2000:]
    card = json.loads((tmp_path / "sm" / "mlp_digits" / "1" / "assets.extra" / "model_card.json").read_text())
    assert card["metrics"] == {"accuracy": weights.read_manifest(published_digits)["metric"]["value"]}

    checked = cli("verify", "mlp_digits", "--weights", str(published_digits))
    assert checked.returncode == 0 and "verified; same test split" in checked.stdout

    for handle, message in (
        ("nowhere", "not found"),
        (str(published_digits / "config.json"), "not a .keras file"),
    ):
        refused = cli("export", "mlp_digits", "--weights", handle, "--export-dir", "other")
        assert refused.returncode == 2 and message in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "other").exists()


def test_init_from_published_weights_starts_from_every_layer(published_digits, digits_model, pixels):
    model = modelzoo.build("mlp_digits", init_from=published_digits)
    assert model.modelzoo.init.startswith(f"from {published_digits}") and len(model.modelzoo.copied) >= 2
    np.testing.assert_allclose(
        model.predict(pixels, verbose=0), digits_model.predict(pixels, verbose=0), atol=1e-6
    )


@pytest.mark.parametrize("name", weights.shipped())
def test_shipped_weights_load_offline_and_give_their_published_outputs(name):
    folder = weights.shipped_folder(name)
    model = modelzoo.build(name, weights="zoo")
    check_probe(model, folder)  # raises beyond PROBE_TOLERANCE
    probe = json.loads((folder / weights.PROBE).read_text())
    for key, trained in probe["trained_outputs"].items():  # float16 storage moves no class
        if key in ("logits", "probabilities") and np.ndim(trained) == 2 and np.shape(trained)[1] > 1:
            assert np.argmax(probe["outputs"][key], axis=1).tolist() == np.argmax(trained, axis=1).tolist()


def test_the_probe_allows_float_rounding_of_large_outputs_and_nothing_more(tmp_path):
    folder = shutil.copytree(weights.shipped_folder("linear_diabetes"), tmp_path / "linear_diabetes")
    model = modelzoo.build("linear_diabetes", weights="zoo")
    probe = json.loads((folder / weights.PROBE).read_text())
    outputs = np.asarray(probe["outputs"]["prediction"])
    assert np.abs(outputs).max() > 100, "disease progression: outputs in the hundreds"
    for scale, refused in ((1 + 5e-6, False), (1 + 1e-4, True)):
        moved = {**probe, "outputs": {"prediction": (outputs * scale).tolist()}}
        (folder / weights.PROBE).write_text(json.dumps(moved))
        if refused:
            with pytest.raises(modelzoo.ModelZooError, match="outputs differ from the published probe"):
                check_probe(model, folder)
        else:
            assert 1e-5 < check_probe(model, folder) < 1e-2, "off by more than 1e-5, within rounding"


@pytest.mark.parametrize(
    "name", [n for n in ("mlp_digits", "mlp_breast_cancer", "linear_diabetes") if n in weights.shipped()]
)
def test_shipped_weights_of_bundled_data_verify(name):
    result = verify(name)
    assert result.ok, str(result)


def test_init_from_copies_the_head_only_for_the_same_classes(published_digits, tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for names in (list("0123456789"), list("abcdefghij")):
        root = tmp_path / "".join(names[:2])
        for i, (image, label) in enumerate(zip(digits.images[:200], digits.target[:200])):
            (root / names[label]).mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 15).astype(np.uint8)).save(root / names[label] / f"{i}.png")
        model = modelzoo.build("mlp_digits", data=modelzoo.load_files(root), init_from=published_digits)
        assert ("logits" in model.modelzoo.copied) == (names[0] == "0"), model.modelzoo.copied
        assert "dense_0" in model.modelzoo.copied


def test_published_count_is_the_examples_measured_on_a_held_out_test_split(tmp_path):
    """A local IMDB with only a train folder holds out 20% as test: the card, the manifest and the
    verify tolerance (one example) count those 20 reviews, not the catalogue's 25,000."""
    data_dir = tmp_path / "data"
    write_acl_imdb(data_dir, 100, seed=5)
    model = modelzoo.build("bag_imdb", data_dir=data_dir, max_tokens=500, sequence_length=50, epochs=1)
    modelzoo.fit(model, data_dir=data_dir, verbose=0)
    folder = Path(publish(model, tmp_path / "pub", data_dir=data_dir, command="tests"))
    manifest = weights.check_folder(folder)
    assert manifest["data"]["examples"] == 20 and manifest["metric"]["tolerance"] == pytest.approx(1 / 20)
    assert "imdb test (20 examples)" in (folder / "README.md").read_text()
    result = verify("bag_imdb", folder, data_dir=data_dir)
    assert result.ok and result.examples == 20 and "(20 examples)" in str(result)
