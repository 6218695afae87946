"""A user's own files as a dataset: an image folder, a table, or text.

`load_files(path, ...)` picks the reader for the layout, which infers the classes, the input and
the splits, checks it all before anything is written, and returns a `FileData`: the same
`DatasetInfo` a built-in dataset has (so build, fit, evaluate and export read one description),
the three splits, and a report. One reader module per layout, each with one entry point
`read(root, options) -> FileData`:

- `images.py`: `root/<class>/*` or `root/{train,validation|val,test}/<class>/*` (PNG, JPEG, BMP,
  GIF, WebP), every file decoded once in a parallel `tf.data` pass;
- `tables.py`: CSV, TSV, JSON lines, JSON and Parquet read by pyarrow: a table (one model input
  per column) or, when a column is prose, text;
- `texts.py`: `root/<class>/*.txt`, one example per file.

What they share lives here: the split rules (given splits kept, missing ones carved out of train,
seeded and stratified: 20% test, 10% of the rest validation), the class checks (at least
`MIN_TRAIN_EXAMPLES` of each class in train), the fingerprints that find one example in two
splits and files that changed since a run read them, and the report.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from modelzoo import atomic
from modelzoo.data.batching import batches_of_arrays
from modelzoo.data.catalog import TEST_FRACTION, VALIDATION_FRACTION, DatasetInfo
from modelzoo.data.sources import SPLIT_SEED
from modelzoo.errors import DataFormatError, DataNotFoundError, unknown_name

TASKS = ("classification", "regression")
SPLIT_NAMES = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}
MIN_TRAIN_EXAMPLES = 2
"""A class with fewer training examples is refused: one example teaches a model nothing it can
be tested on, and a class missing from train is never predicted."""
IN_MEMORY_BYTES = 2 << 30
"""A split whose decoded pixels fit in this many bytes is decoded once (in parallel batches) and
trained on from memory like a built-in dataset; a larger one streams from disk every epoch."""
SYSTEM_FILES = ("__MACOSX", "Thumbs.db", "desktop.ini")
"""Files and folders an operating system leaves beside data (with any name starting with `.`,
such as macOS's `._photo.png`): not data, and not the user's mistake, so skipped without a word."""


@dataclass(frozen=True)
class ReadOptions:
    """How `load_files` was asked to read the files; kept in the report, so a run's data can be
    read again the same way (`load_files_again`)."""

    target: str | None = None
    text_column: str | None = None
    kind: str | None = None
    task: str | None = None
    image_size: tuple[int, int] | None = None
    name: str | None = None
    drop_duplicates: bool = False
    seed: int = SPLIT_SEED
    encoding: str | None = None

    def to_dict(self) -> dict[str, Any]:
        options = asdict(self)
        options["image_size"] = list(self.image_size) if self.image_size is not None else None
        return options


class RowIds:
    """The ids of a table split's rows, `file:line`, made when read: a split of millions of rows
    keeps one file name and an array of line numbers, not millions of strings."""

    def __init__(self, source: str, lines: np.ndarray) -> None:
        self.source, self.lines = source, lines

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (int, np.integer)):
            return f"{self.source}:{self.lines[index]}"
        return RowIds(self.source, self.lines[index])

    def __iter__(self) -> Any:
        return (f"{self.source}:{line}" for line in self.lines.tolist())


@dataclass
class Split:
    """One split's examples: `features` (image paths, texts, or a column -> values dict),
    `labels`, `ids` naming each example in the files (relative paths, or `RowIds` for a table's
    `file:line`), and `keys`, a 64-bit fingerprint of each example's content (bytes, row or text)."""

    features: Any
    labels: np.ndarray
    ids: np.ndarray | RowIds
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    filled: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """Per numeric column, where the files had no usable number (missing, not finite, or not a
    number) and the train median stands in: shown as null where a person reads the example."""

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> Split:
        features = (
            {k: v[index] for k, v in self.features.items()}
            if isinstance(self.features, dict)
            else self.features[index]
        )
        return Split(
            features,
            self.labels[index],
            self.ids[index],
            self.keys[index] if len(self.keys) else self.keys,
            {k: v[index] for k, v in self.filled.items()},
        )

    def raw_example(self, row: int) -> Any:
        """Example `row` as the files hold it (a filled-in number is None)."""
        if not isinstance(self.features, dict):
            return None
        return {
            k: None if k in self.filled and self.filled[k][row] else plain(v[row])
            for k, v in self.features.items()
        }


def plain(value: Any) -> Any:
    """A NumPy scalar as Python has it; a float32 by its shortest decimals (0.541, not 0.5410000086)."""
    if isinstance(value, np.float32):
        return float(str(value))
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class FileData:
    """A user's dataset: its `info` (as a built-in dataset's), the `splits`, and the `report`
    (what was found, inferred, skipped and why) that is printed and kept in the run folder."""

    info: DatasetInfo
    path: Path
    kind: str
    splits: dict[str, Split]
    report: dict[str, Any]
    image_size_given: bool = False
    decoded: dict[tuple, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    """Decoded pixels by (split, input shape), filled on first use."""

    def dataset(
        self,
        split: str,
        batch_size: int = 32,
        seed: int = 0,
        in_memory: bool = True,
        lengths_of=None,
        length_window: int | None = None,
    ) -> tf.data.Dataset:
        """Batches of `(features, label)`; train is reshuffled every epoch (seeded). Images are
        decoded once into memory when they fit (`IN_MEMORY_BYTES`; `in_memory=False` streams, for
        a pass that reads only part of a split), else streamed from disk."""
        if split not in self.splits:
            raise unknown_name("split", split, self.splits)
        part = self.splits[split]
        if self.kind == "image":
            image_batches = READERS["image"].batches
            shape = self.info.input_shape
            if in_memory and len(part) * math.prod(shape) <= IN_MEMORY_BYTES:
                key = (split, shape)
                if key not in self.decoded:
                    self.decoded[key] = np.concatenate(
                        [x.numpy() for x, _ in image_batches(part, shape, 256)]
                        or [np.zeros((0, *shape), np.uint8)]
                    )
                return batches_of_arrays((self.decoded[key], part.labels), split, batch_size, seed)
            return image_batches(part, shape, batch_size, split == "train", seed)
        features = part.features
        if isinstance(features, dict):
            features = {c.name: features[c.name] for c in self.info.columns}
        return batches_of_arrays((features, part.labels), split, batch_size, seed, lengths_of, length_window)

    def with_input_shape(self, shape: Sequence[int], why: str) -> FileData:
        """The same data resized to `shape` (height, width, channels) in the pipeline; the
        report says so (`why`), since the model takes this size, not the files'."""
        shape = tuple(shape)
        if shape == self.info.input_shape:
            return self
        report = {**self.report, "input": "x".join(map(str, shape)), "input_rule": why}
        report["info"] = {**report.get("info", {}), "input_shape": list(shape)}
        return replace(self, info=replace(self.info, input_shape=shape), report=report, decoded={})

    def summary(self) -> str:
        """The lines the CLI prints: what was read, the classes per split, what was left out and
        why, and every note."""
        r = self.report
        counts = ", ".join(f"{s} {n}" for s, n in r["examples"].items())
        lines = [f"Data: {self.path} ({r['layout']}): {counts} ({r['split_rule']})"]
        if self.info.class_names:
            shares = r["classes"]["train"]
            top = ", ".join(f"{name} {n}" for name, n in list(shares.items())[:10])
            more = f" (+{len(shares) - 10} more)" if len(shares) > 10 else ""
            lines.append(
                f"  {self.info.num_classes} classes, train: {top}{more}; imbalance {r['imbalance']:.1f}x"
            )
        else:
            lines.append(f"  regression target {r.get('target')!r}: {r['target_range']}")
        if self.kind == "image":
            lines.append(f"  input {'x'.join(map(str, self.info.input_shape))} ({r['input_rule']})")
        for kind, how in (("numeric", "normalised"), ("string", "looked up in the train vocabulary")):
            names = [c["name"] for c in r.get("columns", []) if c["type"] == kind]
            if names:
                shown = ", ".join(names[:8]) + (f", ... ({len(names) - 8} more)" if len(names) > 8 else "")
                lines.append(f"  {len(names)} {kind} column{'s' * (len(names) > 1)} ({how}): {shown}")
        for dropped in r.get("dropped_columns", []):
            lines.append(f"  column {dropped['name']!r} left out: {dropped['why']}")
        if r["skipped"]:
            shown = "; ".join(f"{s['file']} ({s['why']})" for s in r["skipped"][:5])
            lines.append(
                f"  skipped {len(r['skipped'])} files: {shown}" + (" ..." if len(r["skipped"]) > 5 else "")
            )
        duplicates = r["duplicates"]
        if any(v for k, v in duplicates.items() if k != "dropped"):
            lines.append(f"  same example in two splits: {duplicates}")
        lines += [f"  note: {note}" for note in r["notes"]]
        return "\n".join(lines)

    def write(self, run_dir: Path) -> None:
        """`data_report.json` and `splits.json`: which example went to which split, and each
        one's fingerprint, which `load_files_again` compares with the files as they are then."""
        atomic.write_text(run_dir / "data_report.json", json.dumps(self.report, indent=1) + "\n")
        assignment = {
            "path": str(self.path),
            "resolved_path": str(self.path.resolve()),  # a relative --data, found again from any folder
            **{s: list(part.ids) for s, part in self.splits.items()},
            "fingerprints": {s: hex_fingerprints(part.keys) for s, part in self.splits.items()},
        }
        atomic.write_text(run_dir / "splits.json", json.dumps(assignment) + "\n")

    def examples(self, split: str, n: int) -> dict[str, np.ndarray]:
        """The first `n` examples of `split` as a client sends them: pixels, texts or columns."""
        features, _ = next(iter(self.dataset(split, batch_size=n, in_memory=False)))
        if isinstance(features, dict):
            return {k: v.numpy() for k, v in features.items()}
        return {self.info.input_name: features.numpy()}


@dataclass(frozen=True)
class Reader:
    """One layout of a user's files, registered by its module (`images.py`, `tables.py`,
    `texts.py`) with `register_reader`: `load_files` picks it by `kind`, which `infer_kind`
    finds from the files' suffixes when the user does not say."""

    kind: str
    read: Callable[[Path, ReadOptions], FileData]
    """Reads a folder or file into `FileData`, checked; writes nothing."""
    suffixes: tuple[str, ...]
    batches: Callable[..., tf.data.Dataset] | None = None
    """`(split, shape, batch_size, shuffle, seed)` -> batches streamed from the files, for data
    whose examples are files too large to hold in memory (images); None: the examples are arrays."""

    def files_in(self, folder: Path) -> list[Path]:
        """This reader's files directly in `folder` (not in subfolders), hidden ones left out."""
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in self.suffixes and not p.name.startswith(".")
        )


READERS: dict[str, Reader] = {}


def register_reader(reader: Reader) -> Reader:
    READERS[reader.kind] = reader
    return reader


def load_files(
    path: str | Path,
    *,
    target: str | None = None,
    text_column: str | None = None,
    kind: str | None = None,
    task: str | None = None,
    image_size: Sequence[int] | None = None,
    name: str | None = None,
    drop_duplicates: bool = False,
    seed: int = SPLIT_SEED,
    encoding: str | None = None,
) -> FileData:
    """Read a user's dataset from `path` (a folder or one file) and describe it.

    `kind` ("image", "table", "text") is inferred from the files when left out; `target` names a
    table's label column (a text file's too, when it is not obvious), `text_column` the text;
    `task` ("classification" or "regression") overrides what the target's values suggest;
    `image_size` is (height, width); `encoding` is the text encoding of tables and texts (UTF-8
    by default: other bytes in a table are an error that says to pass it). `drop_duplicates`
    removes from validation and test the examples also found in train (and from test those in
    validation). Nothing is written.
    """
    if "://" in str(path):  # a Path would print https://host/x as https:/host/x
        raise DataNotFoundError(
            f"--data {path} is a URL; download it first and pass the local file or folder."
        )
    root = Path(path).expanduser()
    if not root.exists():
        raise DataNotFoundError(
            f"--data {root} does not exist: pass an image folder, a table or a text file."
        )
    if kind is not None and kind not in READERS:
        raise unknown_name("data kind", kind, READERS)
    if task is not None and task not in TASKS:
        raise unknown_name("task", task, TASKS)
    if encoding is not None:
        check_encoding(encoding)
    options = ReadOptions(
        target=target,
        text_column=text_column,
        kind=kind,
        task=task,
        image_size=tuple(int(v) for v in image_size) if image_size is not None else None,
        name=name or dataset_name(root),
        drop_duplicates=drop_duplicates,
        seed=seed,
        encoding=encoding,
    )
    found = kind or infer_kind(root, READERS["image"].suffixes, READERS["table"].suffixes)
    if found == "text" and (root.is_file() or READERS["table"].files_in(root)):
        found = "table"  # a table file is text or a table by its columns, unless `kind` says
    return finish(READERS[found].read(root, options), options)


def finish(data: FileData, options: ReadOptions) -> FileData:
    """What every reader's data gets: classes checked, duplicates counted, and the report's counts."""
    for split, part in data.splits.items():
        if len(part) == 0:
            raise DataFormatError(
                f"{data.path}: the {split} split has no examples; give it some, or more data."
            )
    find_duplicates(data, options.drop_duplicates)
    data.report["options"] = options.to_dict()
    data.report["examples"] = {s: len(p) for s, p in data.splits.items()}
    if data.info.class_names:
        check_class_counts(data)
    data.info = replace(data.info, splits={s: len(p) for s, p in data.splits.items()})
    data.report["info"] = data.info.to_dict()
    return data


def check_class_counts(data: FileData) -> None:
    """Count each class per split; refuse classes with fewer than `MIN_TRAIN_EXAMPLES` in train
    (the carved splits took the rest), and note classes a held-out split has none of."""
    classes = data.info.class_names
    counts = {s: np.bincount(p.labels, minlength=len(classes)) for s, p in data.splits.items()}
    data.report["classes"] = {s: {classes[i]: int(n) for i, n in enumerate(c)} for s, c in counts.items()}
    few = [classes[i] for i in np.flatnonzero(counts["train"] < MIN_TRAIN_EXAMPLES)]
    if few:
        total = {name: sum(int(c[classes.index(name)]) for c in counts.values()) for name in few}
        shown = ", ".join(
            f"{name!r} ({counts['train'][classes.index(name)]} of {total[name]} in train)" for name in few[:5]
        )
        more = f" and {len(few) - 5} more" if len(few) > 5 else ""
        raise DataFormatError(
            f"{data.path}: {len(few)} class{'es' * (len(few) > 1)} with fewer than {MIN_TRAIN_EXAMPLES} "
            f"training examples: {shown}{more}. Add examples of each class, or remove or merge the rare "
            "ones: a model cannot learn a class from one."
        )
    for split in ("validation", "test"):
        absent = [classes[i] for i in np.flatnonzero(counts[split] == 0)]
        if absent:
            data.report["notes"].append(
                f"the {split} split has no example of {len(absent)} class{'es' * (len(absent) > 1)} "
                f"({', '.join(map(repr, absent[:5]))}{', ...' if len(absent) > 5 else ''}): "
                "their scores there are not measured"
            )
    data.report["imbalance"] = float(counts["train"].max() / max(counts["train"].min(), 1))


def give_back_memory() -> None:
    """Return freed memory to the system between steps: pyarrow's pool keeps what a block used,
    and glibc keeps freed arrays of up to its (rising) mmap threshold in its heap unless trimmed,
    so a column's temporaries would pile up into the next column's."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def check_encoding(encoding: str) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataFormatError(
            f"--encoding {encoding!r} is not a text encoding Python knows; try utf-8, latin-1 or cp1252."
        ) from None


def load_files_again(run_dir: Path) -> FileData | None:
    """The data of a run folder, read again as `data_report.json` says it was read (same files,
    options, seeded split, at the size the model took), or None for a run on a built-in dataset.
    Files whose content changed since (a fingerprint in `splits.json` differs) are refused, naming
    them: a run evaluated on other files than it was tested on would report figures of data it
    never saw."""
    path = run_dir / "data_report.json"
    if not path.is_file():
        return None
    report = json.loads(path.read_text())
    options = dict(report["options"])
    manifest = run_dir / "splits.json"
    held = json.loads(manifest.read_text()) if manifest.is_file() else {}
    where = held.get("resolved_path", report["path"])  # found from any folder
    if not Path(where).exists():  # a project moved whole, run from its new place
        where = report["path"]
    data = load_files(where, **options)
    shape = report.get("info", {}).get("input_shape")
    if data.kind == "image" and shape is not None:  # the size the model took (an entry's, say)
        data = data.with_input_shape(shape, report["input_rule"])
    for split, prints in held.get("fingerprints", {}).items():
        part = data.splits.get(split)
        now = dict(zip(part.ids, hex_fingerprints(part.keys))) if part is not None else {}
        before = dict(zip(held.get(split, []), prints))
        changed = sorted(i for i in before.keys() | now.keys() if before.get(i) != now.get(i))
        if changed:
            shown = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
            raise DataFormatError(
                f"The files of run {run_dir} changed since it read them: {len(changed)} {split} example"
                f"{'s' * (len(changed) != 1)} differ ({shown}). Restore them, or train again on the files as "
                "they are."
            )
    return data


def hex_fingerprints(keys: np.ndarray) -> list[str]:
    return [f"{k & (2**64 - 1):016x}" for k in keys.tolist()]


def dataset_name(root: Path) -> str:
    """A name for exports and run folders: the file or folder name, lower-case, `[a-z0-9_]`."""
    stem = root.resolve().name.split(".")[0] if root.is_file() else root.resolve().name
    return re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_") or "data"


def is_system_file(path: Path, root: Path) -> bool:
    """A hidden or operating-system file anywhere below `root` (see `SYSTEM_FILES`)."""
    return any(part.startswith(".") or part in SYSTEM_FILES for part in path.relative_to(root).parts)


def data_files(folder: Path) -> list[str]:
    """Every file below `folder` (as path strings), system files and folders left out, sorted.
    `os.walk` names files without a `stat` or a `Path` each, which cost seconds for 70,000 images."""
    found = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not (d.startswith(".") or d in SYSTEM_FILES)]
        found += [os.path.join(top, f) for f in files if not (f.startswith(".") or f in SYSTEM_FILES)]
    return sorted(found)


def suffix(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def relative(path: str, root: Path) -> str:
    """`path` below `root`, as the report and splits.json name it."""
    prefix = os.path.join(str(root), "")
    return path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, root)


def infer_kind(root: Path, image_suffixes: Sequence[str], table_suffixes: Sequence[str]) -> str:
    """image, table or text, from what the files are; a mix is refused."""
    if root.is_file():
        if root.suffix.lower() not in table_suffixes:
            raise DataFormatError(
                f"{root}: a {root.suffix or 'suffix-less'} file is not a dataset; give a folder of images "
                f"or of .txt files, or a table ({', '.join(table_suffixes)})."
            )
        return "table"  # the table reader decides between table and text from the columns
    if any(p.is_file() and p.suffix.lower() in table_suffixes for p in root.iterdir()):
        return "table"
    suffixes = [suffix(p) for p in data_files(root)]
    images = sum(s in image_suffixes for s in suffixes)
    texts = suffixes.count(".txt")
    if images and texts:
        raise DataFormatError(
            f"{root} mixes {images} images and {texts} .txt files; keep one kind of data per folder."
        )
    if images:
        return "image"
    if texts:
        return "text"
    raise DataNotFoundError(
        f"{root} holds no images ({', '.join(image_suffixes)}), .txt files or tables "
        f"({', '.join(table_suffixes)}): expected root/<class>/<files> or a table."
    )


def class_folders(
    root: Path, suffixes: Sequence[str]
) -> tuple[str, dict[str, dict[str, list[str]]], list[str]]:
    """`{split: {class: files}}` of `root/<class>/*` (split "all") or `root/<split>/<class>/*`, and
    the files of other suffixes found in class folders (the caller lists them as skipped)."""
    if not root.is_dir():
        raise DataFormatError(f"{root} is a file; this data comes as a folder: root/<class>/<files>.")
    entries = [p for p in root.iterdir() if not is_system_file(p, root)]
    subfolders = sorted(p for p in entries if p.is_dir())
    loose = [p for p in entries if p.is_file() and p.suffix.lower() in suffixes]
    if loose:
        raise DataFormatError(
            f"{root} holds files ({loose[0].name}, ...) beside class folders; expected root/<class>/<files> "
            "or root/{train,validation,test}/<class>/<files>."
        )
    named = [p for p in subfolders if p.name.lower() in SPLIT_NAMES]
    if named and len(named) != len(subfolders):
        others = [p.name for p in subfolders if p not in named]
        raise DataFormatError(
            f"{root} mixes split folders ({', '.join(p.name for p in named)}) with other folders "
            f"({', '.join(others)}); use root/<class>/* or root/{{train,validation,test}}/<class>/*."
        )
    if not subfolders:
        raise DataFormatError(
            f"{root} has no class folders: expected root/<class>/<files>, one folder per class."
        )
    tops = {SPLIT_NAMES[p.name.lower()]: p for p in named} if named else {"all": root}
    if named and "train" not in tops:
        raise DataFormatError(f"{root} has split folders but no train/ folder.")
    layout: dict[str, dict[str, list[str]]] = {}
    others: list[str] = []
    for split, top in tops.items():
        classes = sorted(p for p in top.iterdir() if p.is_dir() and not is_system_file(p, root))
        layout[split] = {}
        for folder in classes:
            files = data_files(folder)
            layout[split][folder.name] = [f for f in files if suffix(f) in suffixes]
            other = [f for f in files if suffix(f) not in suffixes]
            others += other
            if not layout[split][folder.name]:
                held = (
                    f" (it holds {len(other)} other files, e.g. {os.path.basename(other[0])})"
                    if other
                    else ""
                )
                raise DataFormatError(
                    f"Class folder {folder} has no {'/'.join(suffixes)} file{held}; add some or remove it."
                )
    return ("split folders" if named else "class folders"), layout, others


def labels_from(class_names: Sequence[str], root: Path) -> tuple[str, ...]:
    if len(class_names) < 2:
        found = f"only {class_names[0]!r}" if class_names else "none"
        raise DataFormatError(f"{root}: a classifier needs at least two classes, found {found}.")
    return tuple(class_names)


def check_known(class_name: str, class_names: Sequence[str], split: str, root: Path) -> int:
    """The label of `class_name`; a class seen in validation or test but never in train is refused."""
    if class_name not in class_names:
        raise DataFormatError(
            f"{root}: class {class_name!r} is in the {split} split but never in train; "
            "a model cannot learn a class it never sees."
        )
    return class_names.index(class_name)


def look_alike_labels(class_names: Sequence[str]) -> list[str]:
    """Groups of class names that differ only in case or surrounding spaces (` yes`, `Yes`):
    two classes that are likely one; reported, never merged quietly."""
    groups: dict[str, list[str]] = {}
    for name in class_names:
        groups.setdefault(name.strip().casefold(), []).append(name)
    return [
        f"labels {', '.join(map(repr, names))} differ only in case or surrounding spaces; they are "
        f"{len(names)} classes: make them one in the files if they mean the same"
        for names in groups.values()
        if len(names) > 1
    ]


Plan = dict[str, tuple[str, np.ndarray]]
"""Each final split: the given part (`all`, `train`, `validation` or `test`) its examples come
from, and their indices in it."""


def plan_splits(labels: dict[str, np.ndarray], seed: int, stratify: bool = True) -> tuple[Plan, str]:
    """Keep the given splits; carve the missing ones out of train (seeded, stratified), and
    shuffle train (seeded). `labels` holds each given part's labels; only indices move here."""
    given = [s for s in ("train", "validation", "test") if s in labels]
    source = "train" if "train" in labels else "all"
    train = np.arange(len(labels[source]))
    plan: Plan = {s: (s, np.arange(len(labels[s]))) for s in given if s != "train"}
    for split, fraction in (("test", TEST_FRACTION), ("validation", VALIDATION_FRACTION)):
        if split not in plan:
            keep, out = carve(labels[source][train], fraction, seed, stratify)
            plan[split] = (source, train[out])
            train = train[keep]
            give_back_memory()
    shuffled = train[np.random.default_rng(seed).permutation(len(train))]
    plan = {"train": (source, shuffled), "validation": plan["validation"], "test": plan["test"]}
    carved = [s for s in ("validation", "test") if s not in given]
    if source == "all":
        test, validation = f"{TEST_FRACTION:.0%}", f"{VALIDATION_FRACTION:.0%}"
        rule = f"carved: seeded, stratified {test} test, {validation} of the rest validation"
    elif carved:
        rule = f"given: {', '.join(given)}; carved from train: {', '.join(carved)}"
    else:
        rule = "given: train, validation, test"
    return plan, rule


def assign_splits(parts: dict[str, Split], seed: int, stratify: bool = True) -> tuple[dict[str, Split], str]:
    """`plan_splits` for whole `Split`s."""
    plan, rule = plan_splits({s: p.labels for s, p in parts.items()}, seed, stratify)
    return {split: parts[part].take(index) for split, (part, index) in plan.items()}, rule


def carve(labels: np.ndarray, fraction: float, seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Indices to keep and to hold out (`fraction` of them), sorted; stratified by label when
    every class has two examples. The draws are scikit-learn's `train_test_split` (its
    `StratifiedShuffleSplit` or `ShuffleSplit`), made with NumPy arrays where it fills Python lists
    (75 MB of them for 2 million rows): the same rows as before, so earlier runs' splits stand."""
    size = len(labels)
    held = max(1, round(size * fraction)) if size > 1 else 0
    if held == 0:
        return np.arange(size), np.array([], dtype=np.int64)
    counts = np.bincount(labels) if stratify and labels.dtype == np.int64 else None
    can_stratify = counts is not None and counts[counts > 0].min() >= 2 and held >= np.count_nonzero(counts)
    rng = np.random.RandomState(seed)
    if not can_stratify:
        permutation = rng.permutation(size)
        return np.sort(permutation[held:]), np.sort(permutation[:held])
    _, codes, class_counts = np.unique(labels, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(class_counts)[:-1])
    kept = approximate_mode(class_counts, size - held, rng)
    out = approximate_mode(class_counts - kept, held, rng)
    keep, hold = [], []
    for members, k, o in zip(by_class, kept, out):
        drawn = members.take(rng.permutation(len(members)), mode="clip")
        keep.append(drawn[:k])
        hold.append(drawn[k : k + o])
    keep_order, hold_order = rng.permutation(np.concatenate(keep)), rng.permutation(np.concatenate(hold))
    return np.sort(keep_order), np.sort(hold_order)


def approximate_mode(class_counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Examples of each class among `draws` taken in proportion (scikit-learn's `_approximate_mode`):
    the floor of each class's share, then one more for the classes with the largest remainders,
    ties broken at random."""
    continuous = class_counts / class_counts.sum() * draws
    floored = np.floor(continuous)
    missing = int(draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1]:
        if missing <= 0:
            break
        (tied,) = np.where(remainder == value)
        now = min(len(tied), missing)
        floored[rng.choice(tied, size=now, replace=False)] += 1
        missing -= now
    return floored.astype(int)


def find_duplicates(data: FileData, drop: bool) -> None:
    """Count (and with `drop`, remove) validation/test examples that also appear in train
    (test ones in validation too): they would make the held-out figures look better than
    the model is."""
    train_keys = data.splits["train"].keys
    found = {}
    for split, earlier in (("validation", ("train",)), ("test", ("train", "validation"))):
        part = data.splits[split]
        seen = np.sort(np.concatenate([data.splits[s].keys for s in earlier]))
        at = np.minimum(np.searchsorted(seen, part.keys), max(len(seen) - 1, 0))
        repeated = seen[at] == part.keys if len(seen) else np.zeros(len(part), bool)
        del seen, at
        found[f"{split}_in_earlier_splits"] = int(repeated.sum())
        if drop and repeated.any():
            data.splits[split] = part.take(np.flatnonzero(~repeated))
    found["train_repeats"] = len(train_keys) - len(np.unique(train_keys))
    data.report["duplicates"] = {**found, "dropped": drop}


def check_texts(root: Path, texts: np.ndarray, notes: list[str]) -> None:
    """Refuse data whose every text is empty (a model of it learns nothing); note the empty ones."""
    empty = int(sum(not text.strip() for text in texts.tolist()))
    if empty == len(texts):
        raise DataFormatError(f"{root}: every text is empty; give a text column or files with words in them.")
    if empty:
        notes.append(f"{empty} of {len(texts)} texts are empty")


def base_report(root: Path, kind: str, layout: str, split_rule: str, skipped: list) -> dict[str, Any]:
    return {
        "path": str(root),
        "kind": kind,
        "layout": layout,
        "split_rule": split_rule,
        "skipped": skipped,
        "notes": [],
    }


def text_info(name: str, root: Path, class_names: tuple[str, ...]) -> DatasetInfo:
    return DatasetInfo(
        name=name,
        task="text_classification",
        input_name="text",
        input_shape=(),
        class_names=class_names,
        splits={},
        source="files",
        description=f"Text from {root}.",
    )


def fingerprints(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each value (text, bytes or number), as int64."""
    import pandas as pd

    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if len(array) == 0:
        return np.zeros(0, np.int64)
    return pd.util.hash_array(array, categorize=False).view(np.int64)


MAX_UNDECODABLE_SHARE = 0.02
"""Texts whose bytes are not in the file's encoding are decoded with replacement characters and
counted, up to this share of them; above it the encoding is wrong, and the data is refused."""


def check_undecodable(root: Path, count: int, total: int, what: str, encoding: str | None) -> str | None:
    """The note for `count` of `total` texts decoded with replacement, or the refusal above the share."""
    if not count:
        return None
    name = encoding or "UTF-8"
    if count > MAX_UNDECODABLE_SHARE * total:
        raise DataFormatError(
            f"{root}: {count} of {total} {what} are not {name} (more than {MAX_UNDECODABLE_SHARE:.0%}); "
            "pass the files' encoding with --encoding (latin-1, cp1252, ...)."
        )
    return (
        f"{count} {what} were not {name}; decoded with replacement characters (pass --encoding if they "
        "are another encoding)"
    )
