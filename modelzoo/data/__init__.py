"""Dataset loaders: one call returns a tuned `tf.data` pipeline of `(features, label)` batches.

Sources, in order: local files in `data_dir` (or `$MODELZOO_DATA_DIR`), then TensorFlow Datasets
(downloaded into `data_dir`), or scikit-learn's bundled data, which needs no network at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from modelzoo.data.catalog import DATASETS, DatasetInfo, dataset_info
from modelzoo.data.sources import find_local, load_sklearn, load_tfds, split_local
from modelzoo.errors import unknown_name

DEFAULT_BATCH_SIZE = 32
SHUFFLE_BUFFER = 60_000
"""Large enough to hold every dataset here whole, so shuffling is uniform."""

__all__ = ["DATASETS", "DatasetInfo", "dataset_info", "list_datasets", "load_dataset", "resolve_data_dir"]


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
    download: bool = True,
) -> tf.data.Dataset:
    """Batches of `(features, label)` for `split` in {"train", "validation", "test"}.

    Decoded examples are cached, the train split is reshuffled every epoch (seeded), and batches
    are prefetched with AUTOTUNE, so the input pipeline keeps up with training. With
    `download=False`, data that is not already local raises DataNotFoundError at once.
    """
    info = dataset_info(name)
    if split not in info.splits:
        raise unknown_name("split", split, info.splits)
    directory = resolve_data_dir(data_dir)
    if info.source == "sklearn":
        examples = tf.data.Dataset.from_tensor_slices(load_sklearn(info, split))
    else:
        local = find_local(info, directory) if directory is not None else None
        if local is not None:
            arrays = split_local(info, local, split, origin=directory)
            examples = tf.data.Dataset.from_tensor_slices(arrays)
        else:
            examples = load_tfds(info, split, directory, download=download)
    examples = examples.cache()
    if split == "train":
        examples = examples.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
    return examples.batch(batch_size or DEFAULT_BATCH_SIZE).prefetch(tf.data.AUTOTUNE)
