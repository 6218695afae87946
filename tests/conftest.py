"""Shared fixtures: small learnable datasets and a tiny pretrained-format BERT, written to disk in the
formats users have."""

from __future__ import annotations

import gzip
import json
import os
import struct
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def blob_images(n: int, shape: tuple[int, ...], classes: int = 10, seed: int = 0):
    """Noisy images whose class is where a bright square sits: easy to learn, not trivial."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    x = rng.integers(0, 60, size=(n, *shape)).astype(np.uint8)
    side = shape[0] // 4
    for i, label in enumerate(y):
        row, col = divmod(int(label), 4)
        x[i, row * side : (row + 1) * side, col * side : (col + 1) * side] = 230
    return x, y.astype(np.uint8)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` (uint8) in the IDX format, gzipped when the name ends with .gz."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.fixture(scope="session")
def mnist_like():
    """600 train and 200 test 28x28 images, as keras.datasets.mnist returns them (no channel axis)."""
    x_train, y_train = blob_images(600, (28, 28), seed=1)
    x_test, y_test = blob_images(200, (28, 28), seed=2)
    return x_train, y_train, x_test, y_test


@pytest.fixture
def idx_dir(tmp_path: Path, mnist_like) -> Path:
    """A data_dir holding the four MNIST IDX files, gzipped, under `fashion_mnist/`."""
    x_train, y_train, x_test, y_test = mnist_like
    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", y_test)
    return tmp_path


@pytest.fixture
def npz_dir(tmp_path: Path, mnist_like) -> Path:
    """A data_dir holding `mnist.npz` in the keras.datasets layout."""
    x_train, y_train, x_test, y_test = mnist_like
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return tmp_path


POSITIVE = ["wonderful", "gripping", "moving", "brilliant", "superb", "delightful", "charming", "masterful"]
NEGATIVE = ["dull", "tedious", "clumsy", "awful", "boring", "lifeless", "messy", "forgettable"]
FILLER = [
    "the",
    "film",
    "plot",
    "acting",
    "was",
    "quite",
    "and",
    "a",
    "story",
    "with",
    "its",
    "cast",
    "ending",
]


def sentiment_corpus(n: int, seed: int) -> tuple[list[str], list[int]]:
    """Short reviews whose label is decided by sentiment words the test controls."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        words = list(rng.choice(FILLER, size=int(rng.integers(4, 9))))
        cues = POSITIVE if label else NEGATIVE
        for _ in range(int(rng.integers(1, 3))):
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cues)))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def write_acl_imdb(parent: Path, n: int, seed: int) -> Path:
    """`parent/aclImdb/train/{pos,neg}/<i>_<rating>.txt`, the layout of IMDB's archive, holding
    `sentiment_corpus(n, seed)`; returns the `aclImdb` folder."""
    texts, labels = sentiment_corpus(n, seed)
    for i, (text, label) in enumerate(zip(texts, labels)):
        folder = parent / "aclImdb" / "train" / ("pos" if label else "neg")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}_{7 if label else 2}.txt").write_text(text)
    return parent / "aclImdb"


@pytest.fixture(scope="session")
def sst2_dir(tmp_path_factory) -> Path:
    """A data_dir with GLUE-style `train.tsv` (600 rows) and `dev.tsv` (200 rows) under `sst2/`."""
    folder = tmp_path_factory.mktemp("text") / "sst2"
    folder.mkdir()
    for name, n, seed in (("train.tsv", 600, 1), ("dev.tsv", 200, 2)):
        texts, labels = sentiment_corpus(n, seed)
        lines = ["label\tsentence", *(f"{y}\t{x}" for x, y in zip(texts, labels))]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder.parent


HIDDEN, INTERMEDIATE, LAYERS, POSITIONS = 32, 64, 2, 64


def hf_bert_weights(vocabulary_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights under the names and shapes of a Hugging Face `BertModel` checkpoint
    (sentence-transformers LayerNorm naming: weight/bias)."""
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def norm(prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.weight": 1.0 + w(HIDDEN), f"{prefix}.bias": w(HIDDEN)}

    tensors = {
        "embeddings.word_embeddings.weight": w(vocabulary_size, HIDDEN),
        "embeddings.position_embeddings.weight": w(POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": w(2, HIDDEN),
        **norm("embeddings.LayerNorm"),
        "pooler.dense.weight": w(HIDDEN, HIDDEN),
        "pooler.dense.bias": w(HIDDEN),
    }
    for i in range(LAYERS):
        layer = f"encoder.layer.{i}"
        for dense in ("self.query", "self.key", "self.value", "output.dense"):
            key = f"{layer}.attention.{dense}"
            tensors |= {f"{key}.weight": w(HIDDEN, HIDDEN), f"{key}.bias": w(HIDDEN)}
        tensors |= {
            f"{layer}.intermediate.dense.weight": w(INTERMEDIATE, HIDDEN),
            f"{layer}.intermediate.dense.bias": w(INTERMEDIATE),
            f"{layer}.output.dense.weight": w(HIDDEN, INTERMEDIATE),
            f"{layer}.output.dense.bias": w(HIDDEN),
            **norm(f"{layer}.attention.output.LayerNorm"),
            **norm(f"{layer}.output.LayerNorm"),
        }
    return tensors


@pytest.fixture(scope="session")
def hf_bert_dir(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """A tiny Hugging Face-format BERT folder, as `save_pretrained` writes one, and its weights."""
    from safetensors.numpy import save_file

    folder = tmp_path_factory.mktemp("hf_bert")
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER]
    weights = hf_bert_weights(len(vocabulary))
    save_file(weights, str(folder / "model.safetensors"))
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(vocabulary),
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 2,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": POSITIONS,
        "type_vocab_size": 2,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder, weights


@pytest.fixture(scope="session")
def digits_model():
    """mlp_digits trained for 5 epochs on the bundled digits: a real, trained model to export."""
    import modelzoo

    model = modelzoo.build("mlp_digits", epochs=5)
    modelzoo.fit(model, verbose=0)
    return model


@pytest.fixture
def cli_here(monkeypatch, capsys):
    """`modelzoo ARGS` run in this process (`cli.main`) from folder `cwd`, its result as `run_cli`
    gives it: for commands refused before training, where a subprocess spends most of its time
    importing TensorFlow (about 6 s). Not for `--import` (it registers entries for the session) or
    `--no-download` (it sets an environment variable): those stay subprocesses."""
    import subprocess

    from modelzoo import cli

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        assert not {"--import", "--no-download"} & set(args), "run these with run_cli"
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            status = cli.main(list(args))
        except SystemExit as exit_:  # argparse's own usage errors
            status = exit_.code
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(["modelzoo", *args], status, captured.out, captured.err)

    return run


@pytest.fixture(scope="session", autouse=True)
def serving_processes():
    """The TF-only processes that answer REST requests (`helpers.serve`) end with the session."""
    yield
    from helpers import stop_servers

    stop_servers()
