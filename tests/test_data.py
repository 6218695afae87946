"""Dataset loaders: split sizes, pipeline behaviour, local files, and failures that explain themselves."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_idx

import modelzoo
from modelzoo.data import batches_of_arrays


def collect(ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in ds))
    return np.concatenate(xs), np.concatenate(ys)


def test_dataset_info_needs_no_data():
    info = modelzoo.dataset_info("mnist")
    assert info.input_shape == (28, 28, 1) and info.num_classes == 10 and info.input_name == "pixels"
    assert dict(info.splits) == {"train": 54_000, "validation": 6_000, "test": 10_000}
    assert modelzoo.dataset_info("cifar10").class_names[0] == "airplane"
    assert modelzoo.dataset_info("diabetes").num_classes == 0
    with pytest.raises(modelzoo.UnknownNameError, match="Did you mean 'mnist'"):
        modelzoo.dataset_info("mnits")


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "diabetes"])
def test_sklearn_splits_have_the_announced_sizes_and_types(name):
    info = modelzoo.dataset_info(name)
    for split, size in info.splits.items():
        x, y = collect(modelzoo.load_dataset(name, split, batch_size=64))
        assert len(x) == len(y) == size
        assert x.shape[1:] == info.input_shape
    if info.is_image:
        assert x.dtype == np.uint8 and x.max() == 255
    assert y.dtype == (np.float32 if info.num_classes == 0 else np.int64)


def test_pipeline_batches_shuffles_train_only_and_is_seeded():
    train = modelzoo.load_dataset("digits", "train", batch_size=50, seed=3)
    assert train.element_spec[0].shape.as_list() == [None, 8, 8, 1]
    first, second = collect(train)[1], collect(train)[1]
    assert not np.array_equal(first, second), "train must be reshuffled every epoch"
    again = collect(modelzoo.load_dataset("digits", "train", batch_size=50, seed=3))[1]
    assert np.array_equal(first, again), "same seed, same order"
    other_seed = collect(modelzoo.load_dataset("digits", "train", batch_size=50, seed=4))[1]
    assert not np.array_equal(first, other_seed)
    assert int(train.cardinality()) == -(-len(first) // 50), "Keras needs the number of steps"
    test_a = collect(modelzoo.load_dataset("digits", "test", batch_size=50))[1]
    test_b = collect(modelzoo.load_dataset("digits", "test", batch_size=50))[1]
    assert np.array_equal(test_a, test_b)
    assert sorted(first) == sorted(collect(modelzoo.load_dataset("digits", "train", batch_size=7))[1])


def test_unknown_split_lists_choices():
    with pytest.raises(modelzoo.UnknownNameError, match="Did you mean 'validation'"):
        modelzoo.load_dataset("digits", "valid")


def test_npz_in_data_dir_is_used_before_any_download_and_trains(npz_dir, mnist_like):
    x_train, y_train, x_test, y_test = mnist_like
    x, y = collect(modelzoo.load_dataset("mnist", "train", data_dir=npz_dir))
    assert x.shape == (540, 28, 28, 1) and x.dtype == np.uint8
    xv, yv = collect(modelzoo.load_dataset("mnist", "validation", data_dir=npz_dir))
    np.testing.assert_array_equal(yv, y_train[540:])
    model = modelzoo.build("mlp_mnist", epochs=10, batch_size=32)
    modelzoo.fit(model, data_dir=npz_dir, verbose=0)
    assert modelzoo.evaluate(model, data_dir=npz_dir)["accuracy"] >= 0.9


def test_idx_files_in_dataset_subfolder_load_and_train(idx_dir, mnist_like):
    _, _, x_test, y_test = mnist_like
    x, y = collect(modelzoo.load_dataset("fashion_mnist", "test", data_dir=idx_dir))
    np.testing.assert_array_equal(x[..., 0], x_test)
    np.testing.assert_array_equal(y, y_test)
    model = modelzoo.build("cnn_fashion_mnist", epochs=6, batch_size=32)
    modelzoo.fit(model, data_dir=idx_dir, verbose=0)
    assert modelzoo.evaluate(model, data_dir=idx_dir)["accuracy"] >= 0.9


def test_data_dir_from_environment(npz_dir, monkeypatch):
    monkeypatch.setenv("MODELZOO_DATA_DIR", str(npz_dir))
    assert collect(modelzoo.load_dataset("mnist", "test"))[0].shape == (200, 28, 28, 1)


def test_truncated_idx_file_is_reported(idx_dir):
    labels = idx_dir / "fashion_mnist" / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels.with_suffix(""), np.zeros(200, np.uint8))
    labels.unlink()
    raw = labels.with_suffix("").read_bytes()
    labels.with_suffix("").write_bytes(raw[:-10])
    with pytest.raises(modelzoo.DataFormatError, match="truncated or corrupt"):
        modelzoo.load_dataset("fashion_mnist", "test", data_dir=idx_dir)


def test_incomplete_idx_set_names_the_missing_layout(idx_dir):
    (idx_dir / "fashion_mnist" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(modelzoo.DataNotFoundError, match="Found only .* fashion_mnist.npz"):
        modelzoo.load_dataset("fashion_mnist", "train", data_dir=idx_dir)


def test_images_of_the_wrong_shape_are_refused(tmp_path):
    x = np.zeros((20, 32, 32, 3), np.uint8)
    y = np.zeros(20, np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(modelzoo.DataFormatError, match=r"shape \(32, 32, 3\), mnist needs \(28, 28, 1\)"):
        modelzoo.load_dataset("mnist", "train", data_dir=tmp_path)


def test_labels_out_of_range_are_refused(tmp_path):
    x = np.zeros((20, 28, 28), np.uint8)
    y = np.full(20, 12, np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(modelzoo.DataFormatError, match="labels range 12..12"):
        modelzoo.load_dataset("mnist", "test", data_dir=tmp_path)


def test_missing_data_dir_is_reported(tmp_path):
    with pytest.raises(modelzoo.DataNotFoundError, match="does not exist"):
        modelzoo.load_dataset("mnist", "train", data_dir=tmp_path / "nope")


def test_failed_download_explains_what_to_put_where_and_leaves_nothing(tmp_path, monkeypatch):
    from tensorflow_datasets.core.download import downloader

    monkeypatch.setattr(downloader, "MAX_RETRIES", 0)  # where the host resolves but the download fails
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(modelzoo.DataNotFoundError) as err:
        modelzoo.load_dataset("fashion_mnist", "train", data_dir=tmp_path)
    message = str(err.value)
    assert "fashion_mnist.npz" in message and "train-images-idx3-ubyte" in message and "--data-dir" in message
    assert err.value.__cause__ is None and (err.value.__suppress_context__ or err.value.__context__ is None)
    assert sorted(tmp_path.rglob("*")) == before


def test_download_false_fails_at_once_when_data_is_not_local(tmp_path):
    with pytest.raises(
        modelzoo.DataNotFoundError, match="downloads are off. Offline, put either cifar10.npz"
    ):
        modelzoo.load_dataset("cifar10", "test", data_dir=tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []


def test_text_batches_are_grouped_by_length_seeded_and_whole():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 60, 3000)
    texts = np.array([" ".join(["w"] * int(n)) + f" #{i}" for i, n in enumerate(words)], dtype=object)
    labels = np.arange(3000) % 2

    def epochs(seed: int) -> list[list[list[str]]]:
        batches = batches_of_arrays((texts, labels), "train", 32, seed)
        return [[[t.decode() for t in x.numpy()] for x, _ in batches] for _ in range(2)]

    first, second = epochs(seed=7)
    assert first == epochs(seed=7)[0] and first != second != epochs(seed=8)[0]
    for epoch in (first, second):
        assert sorted(t for batch in epoch for t in batch) == sorted(texts)  # each text once
        lengths = [[len(t.split()) for t in batch] for batch in epoch]
        computed = sum(max(b) * len(b) for b in lengths)
        assert computed / sum(map(sum, lengths)) < 1.15, "a batch holds texts of similar length"
        assert len(set(max(b) for b in lengths[:20])) > 5, "not short-to-long through the epoch"

    test = batches_of_arrays((texts, labels), "test", 32, 0)
    served = [t.decode() for x, _ in test for t in x.numpy()]
    assert [len(t.split()) for t in served] == sorted(int(n) + 1 for n in words)
    assert [texts[i] for i in test.example_order] == served


def test_a_length_window_of_one_batch_leaves_text_batches_ungrouped():
    lengths = np.random.default_rng(0).integers(1, 61, 3000)
    texts = np.array([" ".join(["w"] * int(n)) + f" #{i}" for i, n in enumerate(lengths)], dtype=object)
    batches = batches_of_arrays((texts, np.zeros(3000)), "train", 32, seed=7, length_window=1)
    served = [[t.decode() for t in x.numpy()] for x, _ in batches]
    assert sorted(t for batch in served for t in batch) == sorted(texts)
    counts = [[len(t.split()) for t in batch] for batch in served]
    assert sum(max(b) * len(b) for b in counts) / sum(map(sum, counts)) > 1.5, "random draws"


def test_large_text_batches_are_grouped_in_narrower_windows():
    """A batch of 128 is the longest of more draws than one of 32, so it is cut from a window of 16
    batches: on SST-2-like lengths (log-normal, median 7 words) 1.19 tokens computed per real one,
    where windows of 8 batches give 1.40."""
    lengths = np.clip(np.round(np.exp(np.random.default_rng(0).normal(2.0, 0.6, 4000))), 1, 64)
    texts = np.array([" ".join(["w"] * int(n)) for n in lengths], dtype=object)
    batches = batches_of_arrays((texts, np.zeros(4000)), "train", 128, seed=0)
    counts = [[len(t.split()) for t in x.numpy()] for x, _ in batches]
    assert sum(max(b) * len(b) for b in counts) / lengths.sum() < 1.3
