"""Batches of in-memory arrays, the way Keras batches NumPy arrays, with texts grouped by length.

Every in-memory dataset (local files of a built-in dataset, scikit-learn's, a user's table, texts,
and images decoded into memory) goes through `batches_of_arrays`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

LengthsOf = Callable[[np.ndarray], np.ndarray] | None
"""Texts -> their lengths in a model's tokens (`TextBatches.token_lengths`)."""

LENGTH_GROUP_BATCHES = 8
"""Text train batches are cut from windows of this many batches of shuffled examples (more for
large batches: `default_length_window`), sorted by length inside the window (Hugging Face's
`group_by_length` megabatches): a batch holds texts of similar length, so padding it to its longest
wastes little, and each epoch's batches still differ. Too wide a window (every batch one length)
costs accuracy; 8 costs none measurable (finding "length_window" in measured.json)."""


def batches_of_arrays(
    arrays: tuple,
    split: str,
    batch_size: int,
    seed: int,
    lengths_of: LengthsOf = None,
    length_window: int | None = None,
) -> tf.data.Dataset:
    """Batches gathered from in-memory `(features, labels)` by index (features: an array or a dict of
    column arrays), as Keras does for NumPy arrays: each epoch
    draws one seeded permutation in a single op and cuts it into batches, instead of shuffling and
    batching example by example (finding "batches by index").

    Texts are grouped by length (`grouped_by_length`), so a text model pads each batch to its
    longest member and computes little padding: lengths in the model's own tokens when
    `lengths_of` (a text model's `token_lengths`) is given, else in words; train batches are cut
    from windows of `length_window` batches (default: `default_length_window`). Evaluation splits are
    sorted by length; the dataset's `example_order` then maps the n-th example served back to its
    row in the split."""
    features, labels = tf.nest.map_structure(tf.constant, arrays)
    size = len(arrays[1])
    lengths = text_lengths(arrays[0], lengths_of)
    if split == "train":
        epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
        orders = epoch_seeds.map(
            lambda s: tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=[s, seed])
        )
        if lengths is not None:
            window = length_window or default_length_window(batch_size)
            orders = tf.data.Dataset.zip(orders, epoch_seeds).map(
                lambda order, s: grouped_by_length(order, lengths, batch_size, window, seed=[s, seed + 1])
            )
        example_order = None
    else:
        example_order = np.arange(size) if lengths is None else np.argsort(lengths, kind="stable")
        orders = tf.data.Dataset.from_tensors(tf.constant(example_order, tf.int64))
    batches = orders.flat_map(lambda order: cut_into_batches(order, batch_size))
    batches = batches.apply(tf.data.experimental.assert_cardinality(math.ceil(size / batch_size)))
    batches = batches.map(
        lambda index: (
            tf.nest.map_structure(lambda f: tf.gather(f, index), features),
            tf.gather(labels, index),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    batches = batches.prefetch(tf.data.AUTOTUNE)
    if lengths is not None and example_order is not None:
        batches.example_order = example_order
    return batches


def text_lengths(features, lengths_of: LengthsOf = None) -> np.ndarray | None:
    """Length of each example when `features` is one text per example, else None: `lengths_of`'s
    (tokens), else whitespace-separated words, which a model's tokens follow roughly."""
    if not isinstance(features, np.ndarray) or features.ndim != 1 or features.dtype.kind not in "OSU":
        return None
    if lengths_of is not None:
        return np.asarray(lengths_of(features), np.int64)
    return np.fromiter((len(text.split()) for text in features), np.int64, len(features))


def grouped_by_length(
    order: tf.Tensor, lengths: np.ndarray, batch_size: int, window: int, seed: list
) -> tf.Tensor:
    """`order` (a shuffled permutation) rearranged so consecutive `batch_size` runs hold texts of
    similar length: sorted by length inside windows of `window` batches (1: each batch a random
    draw, only sorted inside, so padded to its longest as it comes), then the
    whole batches shuffled (seeded) so an epoch does not run short-to-long; a partial last batch
    stays last."""
    size = order.shape[0]
    slot = tf.range(size, dtype=tf.int64) // (batch_size * window)  # each position's window
    key = slot * (int(lengths.max(initial=0)) + 1) + tf.gather(tf.constant(lengths), order)
    order = tf.gather(order, tf.argsort(key, stable=True))
    full = size - size % batch_size
    rows = tf.reshape(order[:full], (-1, batch_size))
    rows = tf.gather(rows, tf.random.experimental.stateless_shuffle(tf.range(full // batch_size), seed=seed))
    return tf.concat([tf.reshape(rows, [-1]), order[full:]], axis=0)


def default_length_window(batch_size: int) -> int:
    """Batches per length-sorted window: `LENGTH_GROUP_BATCHES` for batches of up to 32, twice that
    or batch_size / 8 (whichever is more) for larger ones. A batch's longest text is the maximum of
    more draws when the batch is larger, so a larger batch needs a narrower band of lengths
    (finding "length_window")."""
    if batch_size <= 32:
        return LENGTH_GROUP_BATCHES
    return max(2 * LENGTH_GROUP_BATCHES, batch_size // 8)


def cut_into_batches(order: tf.Tensor, batch_size: int) -> tf.data.Dataset:
    """The index vector `order` as consecutive batches, the last one possibly smaller."""
    size = order.shape[0]
    full = size - size % batch_size
    batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:full], (-1, batch_size)))
    if full < size:
        batches = batches.concatenate(tf.data.Dataset.from_tensors(order[full:]))
    return batches
