"""Dataset loaders: one call returns a tuned `tf.data` pipeline of `(features, label)` batches.

Sources, in order: local files in `data_dir` (or `$MODELZOO_DATA_DIR`), then TensorFlow Datasets
(downloaded into `data_dir`), or scikit-learn's bundled data, which needs no network at all.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from modelzoo.data import images, tables, texts  # noqa: F401  (each registers its reader)
from modelzoo.data.batching import LengthsOf, batches_of_arrays
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
    lengths_of: LengthsOf = None,
    length_window: int | None = None,
) -> tf.data.Dataset:
    """Batches of `(features, label)` for `split` in {"train", "validation", "test"}.

    The train split is reshuffled every epoch (seeded) and batches are prefetched with AUTOTUNE, so
    the input pipeline keeps up with training. Data in memory (local files, scikit-learn) is
    shuffled as indices and gathered a batch at a time, as Keras does for NumPy arrays; TFDS
    examples are cached once decoded. With `download=False` (default: unless
    `$MODELZOO_NO_DOWNLOAD` is 1), data that is not already local raises DataNotFoundError at once.
    Texts are batched by length (see `batches_of_arrays`), measured by `lengths_of` if given, in
    windows of `length_window` batches.
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
        arrays = split_local(info, local, split, origin=directory)
        return batches_of_arrays(arrays, split, batch_size, seed, lengths_of, length_window)
    examples = load_tfds(info, split, directory, download=download)
    if info.is_text:  # in memory, as local text, so batches can be grouped by length
        texts, labels = zip(*examples.as_numpy_iterator()) if examples.cardinality() else ((), ())
        arrays = (np.array(texts, object), np.array(labels, np.int64))
        return batches_of_arrays(arrays, split, batch_size, seed, lengths_of, length_window)
    examples = examples.cache()
    if split == "train":
        examples = examples.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)
