"""Dataset loaders: one call returns a tuned `tf.data` pipeline of `(features, label)` batches.

Sources, in order: local files in `data_dir` (or `$MODELZOO_DATA_DIR`), then TensorFlow Datasets
(downloaded into `data_dir`), or scikit-learn's bundled data, which needs no network at all.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import tensorflow as tf

from modelzoo.data.catalog import DATASETS, Column, DatasetInfo, dataset_info
from modelzoo.data.files import FileData, load_files
from modelzoo.data.sources import find_local, load_sklearn, load_tfds, local_files, split_local
from modelzoo.errors import unknown_name

DEFAULT_BATCH_SIZE = 32
SHUFFLE_BUFFER = 60_000
"""Large enough to hold every dataset here whole, so shuffling is uniform."""

__all__ = [
    "DATASETS",
    "Column",
    "DatasetInfo",
    "FileData",
    "dataset_info",
    "list_datasets",
    "load_dataset",
    "load_files",
    "resolve_data_dir",
]


def unused_data_dir(name: str, data_dir: str | os.PathLike) -> str:
    return (
        f"{name} ships with scikit-learn, so data_dir {data_dir} is not read; leave it out, or train "
        "on your own files with --data PATH (modelzoo.load_files)."
    )


def data_source(info: DatasetInfo, data_dir: str | os.PathLike | None) -> str:
    """Where a run's examples came from, in words, for config.json and model cards."""
    if info.source == "files":
        return info.description
    if info.source == "sklearn":
        return f"scikit-learn's bundled {info.name} (no files read)"
    directory = resolve_data_dir(data_dir)
    files = local_files(info, directory) if directory is not None and directory.is_dir() else []
    if files:
        return f"local files: {', '.join(str(p) for p in files)}"
    return f"tensorflow-datasets {info.tfds_name} in {directory or 'its default folder'}"


def list_datasets() -> list[str]:
    """Names of the datasets `load_dataset` knows."""
    return sorted(DATASETS)


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """`data_dir`, else `$MODELZOO_DATA_DIR`, else None (TFDS's own default folder)."""
    chosen = data_dir if data_dir is not None else os.environ.get("MODELZOO_DATA_DIR")
    return Path(chosen).expanduser() if chosen else None


def load_dataset(
    name: str,
    split: str,
    *,
    batch_size: int | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    download: bool | None = None,
) -> tf.data.Dataset:
    """Batches of `(features, label)` for `split` in {"train", "validation", "test"}.

    The train split is reshuffled every epoch (seeded) and batches are prefetched with AUTOTUNE, so
    the input pipeline keeps up with training. Data in memory (local files, scikit-learn) is
    shuffled as indices and gathered a batch at a time, as Keras does for NumPy arrays; TFDS
    examples are cached once decoded. With `download=False` (default: unless
    `$MODELZOO_NO_DOWNLOAD` is 1), data that is not already local raises DataNotFoundError at once.
    """
    if download is None:
        download = os.environ.get("MODELZOO_NO_DOWNLOAD") != "1"
    info = dataset_info(name)
    if split not in info.splits:
        raise unknown_name("split", split, info.splits)
    directory = resolve_data_dir(data_dir)
    batch_size = batch_size or DEFAULT_BATCH_SIZE
    if info.source == "sklearn" and data_dir is not None:
        logging.getLogger("modelzoo").warning(unused_data_dir(name, data_dir))
    if info.source == "sklearn":
        return batches_of_arrays(load_sklearn(info, split), split, batch_size, seed)
    local = find_local(info, directory) if directory is not None else None
    if local is not None:
        return batches_of_arrays(split_local(info, local, split, origin=directory), split, batch_size, seed)
    examples = load_tfds(info, split, directory, download=download).cache()
    if split == "train":
        examples = examples.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def batches_of_arrays(arrays: tuple, split: str, batch_size: int, seed: int) -> tf.data.Dataset:
    """Batches gathered from in-memory `(features, labels)` by index (features: an array or a dict of
    column arrays), as Keras does for NumPy arrays: each epoch
    draws one seeded permutation in a single op and cuts it into batches, instead of shuffling and
    batching example by example (2.5x less input-pipeline work for MNIST)."""
    features, labels = tf.nest.map_structure(tf.constant, arrays)
    size = len(arrays[1])
    if split == "train":
        epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        orders = epoch_seeds.map(
            lambda s: tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=[s, seed])
        )
    else:
        orders = tf.data.Dataset.from_tensors(tf.range(size, dtype=tf.int64))
    batches = orders.flat_map(lambda order: cut_into_batches(order, batch_size))
    batches = batches.apply(tf.data.experimental.assert_cardinality(math.ceil(size / batch_size)))
    batches = batches.map(
        lambda index: (
            tf.nest.map_structure(lambda f: tf.gather(f, index), features),
            tf.gather(labels, index),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return batches.prefetch(tf.data.AUTOTUNE)


def cut_into_batches(order: tf.Tensor, batch_size: int) -> tf.data.Dataset:
    """The index vector `order` as consecutive batches, the last one possibly smaller."""
    size = order.shape[0]
    full = size - size % batch_size
    batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full], (-1, batch_size)))
    if full < size:
        batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full:]))
    return batches
