"""Image folders: `root/<class>/*` or `root/{train,validation|val,test}/<class>/*`.

Every file is read and fully decoded once, in a parallel `tf.data` pass that also gives its size,
channels and a fingerprint of its bytes: a truncated JPEG is found here, listed as skipped with
TensorFlow's reason, and never reaches training (PIL's `verify` reads headers only, and opened
every file one after the other). More than `MAX_UNREADABLE_SHARE` unreadable or unsupported
images refuses the folder.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from modelzoo.data.catalog import DatasetInfo
from modelzoo.data.files import (
    IN_MEMORY_BYTES,
    FileData,
    Reader,
    ReadOptions,
    Split,
    assign_splits,
    base_report,
    check_known,
    class_folders,
    labels_from,
    register_reader,
    relative,
    suffix,
)
from modelzoo.errors import DataFormatError, InvalidValueError
from modelzoo.tfstartup import DECODER_CHATTER, startup_chatter_hidden

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
"""What `tf.io.decode_image` decodes, in training and in the served graph alike."""
UNSUPPORTED = (".tif", ".tiff", ".heic", ".heif", ".avif", ".jp2", ".jxl", ".ico", ".psd", ".svg")
"""Images of formats the served graph cannot decode: skipped and counted as unreadable."""
MAX_UNREADABLE_SHARE = 0.05
MAX_INFERRED_SIDE = 64
"""The inferred image size (the most common one) is scaled down to this longest side: on a real
folder of 2,000 cat and dog photos, `cnn` learns more at 64 px than at 128 or 191x256, in less
time (finding "image size")."""
MAX_SIDE = 1024
"""The largest side `--image-size` takes: a batch of 32 colour images of 1024x1024 is already
400 MB of float32 activations in the first layer."""
VERIFY_BATCH = 256
"""Files decoded per tf.data element (a batch holding a bad file is retried one file at a time):
elements of 256 decoded MNIST PNGs 1.3-1.4 s for 70,000, of 64 1.5-2.7 s."""


def read(root: Path, options: ReadOptions) -> FileData:
    """An image folder as a `FileData`; see the module docstring."""
    if options.image_size is not None:
        check_size(options.image_size)
    layout, found, others = class_folders(root, SUFFIXES)
    class_names = labels_from(sorted(found.get("train", found.get("all", {}))), root)
    paths, labels, splits_of = [], [], []
    for split, classes in found.items():
        for class_name, files in classes.items():
            label = check_known(class_name, class_names, split, root)
            paths += [str(f) for f in files]
            labels += [label] * len(files)
            splits_of += [split] * len(files)
    with startup_chatter_hidden(DECODER_CHATTER):
        decoding = decode_all(np.array(paths, dtype=object))
    shapes, keys, errors = decoding.shapes, decoding.keys, decoding.errors
    names = [relative(p, root) for p in paths]
    skipped = [{"file": names[i], "why": f"unreadable: {why}"} for i, why in sorted(errors.items())]
    unsupported = [f for f in others if suffix(f) in UNSUPPORTED]
    skipped += [{"file": relative(f, root), "why": f"{suffix(f)} images are not read"} for f in unsupported]
    unread = set(unsupported)
    skipped += [{"file": relative(f, root), "why": "not an image"} for f in others if f not in unread]
    bad = len(errors) + len(unsupported)
    if bad > MAX_UNREADABLE_SHARE * (len(paths) + len(unsupported)):
        raise DataFormatError(
            f"{root}: {bad} of {len(paths) + len(unsupported)} images are unreadable or unsupported "
            f"(more than {MAX_UNREADABLE_SHARE:.0%}), e.g. {skipped[0]['file']}: {skipped[0]['why']}."
        )
    good = np.array([i not in errors for i in range(len(paths))], dtype=bool)
    parts = {}
    for split in found:
        index = np.flatnonzero(good & (np.array(splits_of, dtype=object) == split))
        part = Split(
            np.array([paths[i] for i in index], dtype=object).astype(str),
            np.array([labels[i] for i in index], dtype=np.int64),
            np.array([names[i] for i in index], dtype=object),
            keys[index],
        )
        empty = sorted(set(found[split]) - {class_names[i] for i in set(part.labels.tolist())})
        if empty:
            folder = root / ("" if split == "all" else split) / empty[0]
            raise DataFormatError(f"Class folder {folder} has no readable image; add some or remove it.")
        parts[split] = part
    sizes = Counter((int(h), int(w)) for h, w, _ in shapes[good])
    channels = Counter(int(c) for c in shapes[good][:, 2])
    grey = set(channels) <= {1, 2}
    if options.image_size is not None:
        height, width = options.image_size
        rule = "as asked"
    else:
        (height, width), _ = sizes.most_common(1)[0]
        scale = min(1.0, MAX_INFERRED_SIDE / max(height, width))
        height, width = max(1, round(height * scale)), max(1, round(width * scale))
        rule = "the most common size" + (f", scaled to {MAX_INFERRED_SIDE} px at most" if scale < 1 else "")
    splits, split_rule = assign_splits(parts, options.seed)
    info = DatasetInfo(
        name=options.name,
        task="image_classification",
        input_name="pixels",
        input_shape=(height, width, 1 if grey else 3),
        class_names=class_names,
        splits={},
        source="files",
        description=f"Images from {root}.",
    )
    report = base_report(root, "image", layout, split_rule, skipped)
    report |= {
        "image_sizes": {f"{h}x{w}": n for (h, w), n in sizes.most_common(10)},
        "image_channels": {str(c): n for c, n in sorted(channels.items())},
        "input": "x".join(map(str, info.input_shape)),
        "input_rule": f"{rule}; {'grey' if grey else 'colour'}: "
        + ("every image is grey" if grey else "some images have colour"),
    }
    data = FileData(info, root, "image", splits, report, image_size_given=options.image_size is not None)
    if decoding.shape == info.input_shape:
        index_of = {path: i for i, path in enumerate(paths)}
        for split, part in splits.items():
            array = cached(part, np.array([index_of[p] for p in part.features.tolist()], np.int64), decoding)
            if array is not None:
                data.decoded[(split, info.input_shape)] = array
    return data


def check_size(size: Sequence[int]) -> None:
    height, width = size
    if min(height, width) < 1 or max(height, width) > MAX_SIDE:
        raise InvalidValueError(
            f"image size {height}x{width} is out of range: each side must be 1 to {MAX_SIDE} pixels."
        )


@dataclass
class Decoded:
    """What the one decoding pass found: each file's (height, width, channels) and fingerprint,
    TensorFlow's reason for each file that failed, and the pixels of the files of one shape (the
    first one seen), kept while they fit in `IN_MEMORY_BYTES` as (file indices, images) per
    batch: a folder of images of one size is decoded once, not once to check and again to train."""

    shapes: np.ndarray
    keys: np.ndarray
    errors: dict[int, str]
    pixels: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    shape: tuple[int, ...] | None = None


def decode_all(paths: np.ndarray) -> Decoded:
    """Read and decode every file once, in parallel batches; see `Decoded`. A batch holding a bad
    file is dropped by `ignore_errors` and its files are tried one by one."""
    found = Decoded(np.full((len(paths), 3), -1, np.int64), np.zeros(len(paths), np.int64), {})
    if len(paths) == 0:
        return found
    files = tf.constant(paths.astype(str))
    spec = (tf.TensorSpec([3], tf.int64), tf.TensorSpec([], tf.int64), tf.RaggedTensorSpec([None], tf.uint8))

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow ops: tracing, not conversion
    def one(path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        raw = tf.io.read_file(path)
        image = tf.io.decode_image(raw, channels=0, expand_animations=False)
        key = tf.strings.to_hash_bucket_fast(raw, 2**63 - 1)
        return tf.shape(image, out_type=tf.int64), key, tf.reshape(image, [-1])

    @tf.autograph.experimental.do_not_convert
    def inspect(index: tf.Tensor) -> tuple:
        return index, *tf.map_fn(one, tf.gather(files, index), fn_output_signature=spec)

    batches = (
        tf.data.Dataset.range(len(paths))
        .batch(VERIFY_BATCH)
        .map(inspect, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors()
    )
    kept, fits = 0, False
    for index, shape, key, flat in batches:
        index, shape = index.numpy(), shape.numpy()
        found.shapes[index], found.keys[index] = shape, key.numpy()
        if found.shape is None:  # the first shape seen; none kept if the folder cannot fit anyway
            found.shape = tuple(int(d) for d in shape[0])
            fits = len(paths) * math.prod(found.shape) <= IN_MEMORY_BYTES
        same = (shape == found.shape).all(axis=1)
        size = math.prod(found.shape)
        if fits and same.any() and kept + same.sum() * size <= IN_MEMORY_BYTES:
            values = flat.values.numpy()
            if not same.all():  # the rows of the kept shape, out of the batch's concatenated pixels
                starts = flat.row_splits.numpy()[:-1][same]
                values = np.concatenate([values[start : start + size] for start in starts])
            found.pixels.append((index[same], values.reshape(-1, *found.shape)))
            kept += same.sum() * size
    for i in np.flatnonzero(found.shapes[:, 0] < 0):
        try:
            raw = tf.io.read_file(paths[i])
            found.shapes[i] = tf.shape(tf.io.decode_image(raw, channels=0, expand_animations=False)).numpy()
            found.keys[i] = int(tf.strings.to_hash_bucket_fast(raw, 2**63 - 1))
        except (tf.errors.OpError, ValueError) as err:
            found.errors[int(i)] = reason(err)
    return found


def cached(part: Split, files: np.ndarray, decoded: Decoded) -> np.ndarray | None:
    """The split's pixels for `FileData.decoded`, from those the decoding pass kept (the rest
    decoded now), or None when the split does not fit in memory or fewer than half of its images
    were kept. `files` holds each of the split's examples' index in the decoding pass."""
    shape = decoded.shape
    if len(part) * math.prod(shape) > IN_MEMORY_BYTES:
        return None
    position = np.full(len(decoded.shapes), -1)
    position[files] = np.arange(len(part))
    out = np.empty((len(part), *shape), np.uint8)
    filled = np.zeros(len(part), dtype=bool)
    for index, images in decoded.pixels:
        at = position[index]
        mine = at >= 0
        out[at[mine]] = images[mine]
        filled[at[mine]] = True
    if filled.sum() < len(part) / 2:
        return None
    missing = np.flatnonzero(~filled)
    if len(missing):
        out[missing] = np.concatenate([x.numpy() for x, _ in image_batches(part.take(missing), shape, 256)])
    return out


def reason(err: Exception) -> str:
    """TensorFlow's error as one short line: no `{{function_node ...}}` prefix or `[Op:...]` tail."""
    text = getattr(err, "message", None) or str(err)
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text.splitlines()[0] if text else "")
    return re.sub(r"\s*\[Op:\w+\]$", "", text).strip()[:200] or type(err).__name__


def decode_image(encoded: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """Encoded PNG/JPEG/BMP/GIF/WebP -> uint8 pixels of `shape`, resized only when the size differs."""
    height, width, channels = shape
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    same = tf.logical_and(tf.shape(image)[0] == height, tf.shape(image)[1] == width)
    image = tf.cond(
        same,
        lambda: image,
        lambda: tf.cast(
            tf.clip_by_value(tf.round(tf.image.resize(image, (height, width))), 0, 255), tf.uint8
        ),
    )
    return tf.ensure_shape(image, tuple(shape))


def image_batches(
    part: Split, shape: Sequence[int], batch_size: int, shuffle: bool = False, seed: int = 0
) -> tf.data.Dataset:
    """uint8 pixel batches read from disk: paths shuffled (seeded, every epoch) and batched, then
    each batch read and decoded in parallel: one tf.data element per batch, not per image, costs
    far less per image (finding "image decode batches")."""
    files = tf.data.Dataset.from_tensor_slices((part.features, part.labels))
    if shuffle:
        files = files.shuffle(len(part), seed=seed, reshuffle_each_iteration=True)
    spec = tf.TensorSpec(tuple(shape), tf.uint8)

    def decode_batch(paths: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        pixels = tf.map_fn(
            lambda path: decode_image(tf.io.read_file(path), shape), paths, fn_output_signature=spec
        )
        return pixels, labels

    return (
        files.batch(batch_size)
        .map(decode_batch, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


READER = register_reader(Reader("image", read, SUFFIXES, batches=image_batches))
