"""Where examples come from: local files, TensorFlow Datasets, scikit-learn's bundled data.

Local files in `data_dir` win over any download, so a machine without internet trains on files a
user copied there in the layout they already have (Keras `.npz`, MNIST IDX files).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from modelzoo.atomic import partial_path as atomic_partial
from modelzoo.data.catalog import TEST_FRACTION, VALIDATION_FRACTION, DatasetInfo
from modelzoo.errors import DataFormatError, DataNotFoundError

SPLIT_SEED = 0
"""Seed of the scikit-learn train/validation/test split; fixed so reported numbers are comparable."""

DIGITS_MAX = 16.0
"""scikit-learn's digits count set pixels of a 4x4 block: 0-16, scaled here to 0-255."""

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_PREFIXES = {"train": "train", "test": "t10k"}

Arrays = tuple[np.ndarray, np.ndarray]


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataFormatError(f"Cannot read IDX file {path}: {err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DataFormatError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()}).")
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataFormatError(
            f"{path} is truncated or corrupt: header says shape {shape} ({expected} bytes), "
            f"file has {len(raw)} bytes."
        )
    return np.frombuffer(raw[header:], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def expected_files(info: DatasetInfo) -> str:
    """The file layouts `find_local` accepts, for error messages and docs."""
    if info.is_text:
        return (
            f"train.tsv or train.csv (a header with 'label' and one of {', '.join(TEXT_COLUMNS)}; "
            "optionally dev.tsv or test.tsv beside it), or an aclImdb folder or aclImdb*.tar.gz "
            f"(aclImdb/train/{{pos,neg}}/*.txt), in DATA_DIR or DATA_DIR/{info.name}/"
        )
    idx = ", ".join(
        f"{p}-{kind}-idx{n}-ubyte[.gz]"
        for p in IDX_PREFIXES.values()
        for kind, n in (("images", 3), ("labels", 1))
    )
    return (
        f"either {info.name}.npz holding x_train, y_train, x_test, y_test (the keras.datasets "
        f"layout) or the four IDX files {idx}, in DATA_DIR or DATA_DIR/{info.name}/"
    )


def local_files(info: DatasetInfo, data_dir: Path) -> list[Path]:
    """The files `find_local` would read in `data_dir`, found by name only (nothing is read)."""
    found = []
    for folder in (data_dir / info.name, data_dir):
        if info.is_text:
            names = (*TEXT_TRAIN_FILES, *TEXT_TEST_FILES, "aclImdb")
            found += [folder / n for n in names if (folder / n).exists()] + sorted(
                folder.glob("aclImdb*.tar.gz")
            )
        else:
            found += [folder / f"{info.name}.npz"] if (folder / f"{info.name}.npz").is_file() else []
            found += [
                p
                for prefix in IDX_PREFIXES.values()
                for kind, n in (("images", 3), ("labels", 1))
                if (p := _idx_file(folder, prefix, kind, n)) is not None
            ]
        if found:
            return found
    return found


def _idx_file(folder: Path, prefix: str, kind: str, ndim: int) -> Path | None:
    for sep in ("-", "."):
        for suffix in ("", ".gz"):
            path = folder / f"{prefix}-{kind}{sep}idx{ndim}-ubyte{suffix}"
            if path.is_file():
                return path
    return None


def find_local(info: DatasetInfo, data_dir: Path) -> dict[str, Arrays] | None:
    """The original train/test arrays from files in `data_dir`, or None when there are none."""
    if not data_dir.is_dir():
        raise DataNotFoundError(f"data_dir {data_dir} does not exist or is not a folder.")
    if info.is_text:
        return find_local_text(info, data_dir)
    for folder in (data_dir / info.name, data_dir):
        npz = folder / f"{info.name}.npz"
        if npz.is_file():
            return _read_npz(npz)
        images = {s: _idx_file(folder, p, "images", 3) for s, p in IDX_PREFIXES.items()}
        labels = {s: _idx_file(folder, p, "labels", 1) for s, p in IDX_PREFIXES.items()}
        found = [p for p in (*images.values(), *labels.values()) if p is not None]
        if len(found) == 4:
            return {s: (read_idx(images[s]), read_idx(labels[s])) for s in IDX_PREFIXES}
        if found:
            raise DataNotFoundError(
                f"Found only {', '.join(p.name for p in found)} in {folder}; "
                f"{info.name} needs {expected_files(info)}."
            )
    return None


def _read_npz(path: Path) -> dict[str, Arrays]:
    try:
        with np.load(path) as npz:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(npz.files)
            if missing:
                raise DataFormatError(
                    f"{path} lacks {sorted(missing)}; a keras.datasets .npz holds "
                    f"x_train, y_train, x_test, y_test (it has {sorted(npz.files)})."
                )
            return {s: (npz[f"x_{s}"], npz[f"y_{s}"]) for s in ("train", "test")}
    except (OSError, ValueError, EOFError) as err:
        raise DataFormatError(f"Cannot read {path} as a .npz archive: {err}") from None


TEXT_TRAIN_FILES = ("train.tsv", "train.csv")
TEXT_TEST_FILES = ("dev.tsv", "test.tsv", "dev.csv", "test.csv")
TEXT_COLUMNS = ("sentence", "text", "content", "review")


def read_labelled_table(path: Path) -> Arrays:
    """A TSV/CSV file with a header naming a `label` column and a text column (sentence, text,
    content or review), as GLUE and most exports have it."""
    import csv

    delimiter = "\t" if path.suffix == ".tsv" else ","
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(
            f, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        )
        header = [h.strip().lower() for h in next(reader, [])]
        text_column = next((c for c in TEXT_COLUMNS if c in header), None)
        if "label" not in header or text_column is None:
            raise DataFormatError(
                f"{path}: header {header} needs a 'label' column and one of {list(TEXT_COLUMNS)}."
            )
        label_at, text_at = header.index("label"), header.index(text_column)
        texts, labels = [], []
        for line, row in enumerate(reader, start=2):
            try:
                labels.append(int(row[label_at]))
                texts.append(row[text_at])
            except (IndexError, ValueError):
                raise DataFormatError(
                    f"{path}:{line}: expected an integer label and a text, got {row}."
                ) from None
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int64)


def read_review_folder(folder: Path) -> Arrays:
    """An aclImdb-style split folder: `neg/*.txt` (label 0) and `pos/*.txt` (label 1)."""
    texts, labels = [], []
    for label, sub in enumerate(("neg", "pos")):
        for path in sorted((folder / sub).glob("*.txt")):
            texts.append(path.read_text(encoding="utf-8"))
            labels.append(label)
    return np.array(texts, dtype=object), np.array(labels, dtype=np.int64)


def cache_dir_for(archive: Path) -> Path:
    """Where an archive is extracted: `$MODELZOO_CACHE_DIR` or `~/.cache/modelzoo`, never beside
    the archive (data folders are often read-only or shared), keyed by the archive's identity."""
    root = Path(os.environ.get("MODELZOO_CACHE_DIR", "~/.cache/modelzoo")).expanduser()
    stat = archive.stat()
    key = hashlib.sha256(f"{archive.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return root / f"{archive.name.removesuffix('.tar.gz')}-{key}"


def extract_once(archive: Path, cache: Path) -> Path:
    """Extract a `.tar.gz` into `cache` once; an interrupted extraction never counts as done."""
    import tarfile

    if cache.is_dir():
        return cache
    try:
        with atomic_partial(cache) as tmp:
            tmp.mkdir()
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise DataFormatError(
            f"{archive} is truncated or not a .tar.gz archive ({err or type(err).__name__}); "
            "download it again, or extract it into the data folder yourself."
        ) from None
    return cache


def find_local_text(info: DatasetInfo, data_dir: Path) -> dict[str, Arrays] | None:
    """Text files in `data_dir` (or its `<dataset>/`): train/dev TSV or CSV files, or an
    aclImdb folder or archive. A missing test split is carved from train (seeded) and said."""
    for folder in (data_dir / info.name, data_dir):
        train = next((folder / n for n in TEXT_TRAIN_FILES if (folder / n).is_file()), None)
        if train is not None:
            test = next((folder / n for n in TEXT_TEST_FILES if (folder / n).is_file()), None)
            arrays = {"train": read_labelled_table(train)}
            if test is not None:
                arrays["test"] = read_labelled_table(test)
            return _with_test_split(info, arrays, folder)
        archive = next(iter(sorted(folder.glob("aclImdb*.tar.gz"))), None)
        root = folder / "aclImdb"
        if not root.is_dir() and archive is not None:
            root = extract_once(archive, cache_dir_for(archive)) / "aclImdb"
        if (root / "train").is_dir():
            arrays = {"train": read_review_folder(root / "train")}
            if (root / "test").is_dir():
                arrays["test"] = read_review_folder(root / "test")
            return _with_test_split(info, arrays, folder)
    return None


_HELD_OUT_SAID: set[tuple[Path, str]] = set()
"""Folders whose held-out test split was announced: once a process, not once per split loaded."""


def _with_test_split(info: DatasetInfo, arrays: dict[str, Arrays], folder: Path) -> dict[str, Arrays]:
    """Shuffle train (seeded: files come sorted by class) and, when there is no test file,
    hold out a seeded 20% of it as test."""
    x, y = arrays["train"]
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    x, y = x[order], y[order]
    if "test" not in arrays:
        cut = len(x) - round(len(x) * TEST_FRACTION)
        if (folder, info.name) not in _HELD_OUT_SAID:
            _HELD_OUT_SAID.add((folder, info.name))
            logging.getLogger("modelzoo").warning(
                "%s has no test split for %s; holding out a seeded %d%% of train (%d examples) as test.",
                folder, info.name, round(100 * TEST_FRACTION), len(x) - cut,
            )  # fmt: skip
        arrays["test"] = (x[cut:], y[cut:])
        x, y = x[:cut], y[:cut]
    arrays["train"] = (x, y)
    return arrays


def conform_images(info: DatasetInfo, x: np.ndarray, y: np.ndarray, origin: str) -> Arrays:
    """Check shapes and labels of image arrays against `info`; add the channel axis."""
    if x.ndim == len(info.input_shape):
        x = x[..., np.newaxis]
    if tuple(x.shape[1:]) != info.input_shape:
        raise DataFormatError(
            f"{origin}: images have shape {tuple(x.shape[1:])}, {info.name} needs "
            f"{info.input_shape} (height, width, channels)."
        )
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise DataFormatError(f"{origin}: {len(x)} images but {len(y)} labels.")
    if len(y) and (y.min() < 0 or y.max() >= info.num_classes):
        raise DataFormatError(
            f"{origin}: labels range {y.min()}..{y.max()}, {info.name} has classes 0..{info.num_classes - 1}."
        )
    return x.astype(np.uint8), y.astype(np.int64)


def conform_text(info: DatasetInfo, x: np.ndarray, y: np.ndarray, origin: str) -> Arrays:
    """Check text labels against `info`'s classes."""
    if len(y) and (y.min() < 0 or y.max() >= info.num_classes):
        raise DataFormatError(
            f"{origin}: labels range {y.min()}..{y.max()}, {info.name} has classes 0..{info.num_classes - 1}."
        )
    return x.astype(str), y


def split_local(info: DatasetInfo, arrays: dict[str, Arrays], split: str, origin: Path) -> Arrays:
    """The requested split of local arrays; validation is the last 10% of train."""
    conform = conform_text if info.is_text else conform_images
    x, y = conform(info, *arrays["test" if split == "test" else "train"], origin=str(origin))
    if split != "test":
        cut = len(x) - int(len(x) * VALIDATION_FRACTION)
        x, y = (x[:cut], y[:cut]) if split == "train" else (x[cut:], y[cut:])
    if len(x) == 0:
        raise DataFormatError(
            f"{origin}: the {split} split of {info.name} has no examples; {info.name} needs "
            f"{expected_files(info)}, with examples in them."
        )
    return x, y


def tfds_split(info: DatasetInfo, split: str) -> str:
    """TFDS slicing that matches `split_local`: validation is the last 10% of train."""
    percent = round(100 * (1 - VALIDATION_FRACTION))
    return {
        "train": f"train[:{percent}%]",
        "validation": f"train[{percent}%:]",
        "test": info.tfds_test_split,
    }[split]


def load_tfds(info: DatasetInfo, split: str, data_dir: Path | None, download: bool = True) -> tf.data.Dataset:
    """The split through the real `tfds.load`, after downloading and preparing it if needed."""
    import tensorflow_datasets as tfds

    directory = str(data_dir) if data_dir else None
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # TFDS' "Variant folder ... has no dataset_info.json" before our own line
    try:
        builder = tfds.builder(info.tfds_name, data_dir=directory)
        prepared = builder.is_prepared()
    finally:
        absl.setLevel(level)
    if not prepared:
        offline = (
            f"Offline, put {expected_files(info)} and pass --data-dir DATA_DIR "
            "(or data_dir=..., or set MODELZOO_DATA_DIR)."
        )
        if not download:
            raise DataNotFoundError(
                f"{info.name!r} is not prepared in {builder.data_dir_root} and downloads are off. {offline}"
            )
        unreachable = unresolvable(info.download_host)
        if unreachable:
            raise DataNotFoundError(f"Cannot download {info.name!r}: {unreachable}. {offline}")
        _download_and_prepare(builder, info)
    return tfds.load(
        info.tfds_name,
        split=tfds_split(info, split),
        data_dir=directory,
        download=False,
        as_supervised=True,
        shuffle_files=False,
    )


DNS_TIMEOUT_S = 5.0


def unresolvable(host: str | None) -> str | None:
    """Why `host` cannot be reached, when its name does not resolve within `DNS_TIMEOUT_S` (a
    machine without internet); None otherwise. TFDS would retry ~40 times over 3.5 minutes."""
    if host is None:
        return None
    import concurrent.futures
    import socket

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        pool.submit(socket.getaddrinfo, host, 443).result(timeout=DNS_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        return f"the host {host} did not resolve within {DNS_TIMEOUT_S:.0f} s (no internet?)"
    except OSError as err:
        return f"the host {host} does not resolve ({err.strerror or err}; no internet?)"
    finally:
        pool.shutdown(wait=False)
    return None


def _download_and_prepare(builder, info: DatasetInfo) -> None:
    """Download into a temporary folder; on failure remove every folder this call created.

    TFDS retries and then raises deep inside `requests`; what a user needs is which files to put
    where, and a data_dir that the next attempt finds as clean as before.
    """
    root = Path(builder.data_dir_root)
    created = [p for p in (Path(builder.data_dir), *Path(builder.data_dir).parents) if not p.exists()]
    created = [p for p in created if p == root or root in p.parents]
    root.mkdir(parents=True, exist_ok=True)
    downloads = Path(tempfile.mkdtemp(prefix=".modelzoo-download-", dir=root))
    try:
        builder.download_and_prepare(download_dir=str(downloads))
    except Exception as err:
        for path in sorted(created, key=lambda p: len(p.parts)):
            shutil.rmtree(path, ignore_errors=True)
        reason = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
        raise DataNotFoundError(
            f"Could not download {info.name!r} with tensorflow-datasets ({reason}). "
            f"Offline, put {expected_files(info)} and pass --data-dir DATA_DIR "
            f"(or data_dir=..., or set MODELZOO_DATA_DIR)."
        ) from None
    finally:
        shutil.rmtree(downloads, ignore_errors=True)


@functools.cache
def _sklearn_splits(name: str, classification: bool, test: int, validation: int) -> dict[str, Arrays]:
    """Seeded (stratified, for classes) splits of exactly the sizes `dataset_info` announces."""
    import sklearn.datasets
    from sklearn.model_selection import train_test_split

    x, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
    stratify = y if classification else None
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test, random_state=SPLIT_SEED, stratify=stratify
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest,
        y_rest,
        test_size=validation,
        random_state=SPLIT_SEED,
        stratify=y_rest if classification else None,
    )
    return {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}


def load_sklearn(info: DatasetInfo, split: str) -> Arrays:
    """A split of scikit-learn's bundled data: images as 0-255 uint8, tables as float32."""
    splits = _sklearn_splits(info.name, info.num_classes > 0, info.splits["test"], info.splits["validation"])
    x, y = splits[split]
    if info.is_image:
        pixels = np.rint(x * (255.0 / DIGITS_MAX)).reshape((-1, *info.input_shape))
        return pixels.astype(np.uint8), y.astype(np.int64)
    labels = y.astype(np.int64) if info.num_classes else y.astype(np.float32)
    return x.astype(np.float32), labels
