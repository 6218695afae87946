"""Tables: CSV, TSV, JSON lines, a JSON array of records, or Parquet, read by pyarrow.

A file (or a folder of `train`/`validation|val`/`test` files with one header) is a table, with one
model input per column, or text, when one of its (at most two) feature columns is prose. pyarrow
reads and types the columns (its parser, null values and encodings); a CSV is read as a stream of
blocks, numbers going to NumPy as they come and strings staying in pyarrow's compact arrays, so a
table is never held twice. modelzoo's own rules sit on top, and every one of them is reported:

- bytes that are not in the file's encoding (UTF-8 unless `encoding=`) are an error naming the
  file, line and column in a table; in a text column they become replacement characters and are
  counted, up to `files.MAX_UNDECODABLE_SHARE` of the texts;
- a column of numbers but for a few cells (`1,234.5`, `n/a?`) is numeric, those cells named
  and treated as missing, when they are at most `MAX_BAD_NUMBER_SHARE` of its values; else it is a
  string column, and a note says it is mostly numbers;
- a number that is not finite (`inf`) is missing, like an empty cell: the train median stands in,
  in the files and, through the model's own fill layer, in the served graph;
- a column with one value, a different string in every row (an id) or consecutive integers (a
  row id) is left out; near-unique string columns and every column's missing share are reported;
- duplicated headers are an error naming them; headers become input names of `[A-Za-z0-9_]`.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelzoo.data.catalog import Column, DatasetInfo
from modelzoo.data.files import (
    SPLIT_NAMES,
    FileData,
    Reader,
    ReadOptions,
    RowIds,
    Split,
    base_report,
    check_texts,
    check_undecodable,
    fingerprints,
    give_back_memory,
    labels_from,
    look_alike_labels,
    plan_splits,
    register_reader,
    text_info,
)
from modelzoo.data.sources import TEXT_COLUMNS as GLUE_TEXT_COLUMNS
from modelzoo.errors import DataFormatError, InvalidValueError, unknown_name

SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".json")
LABEL_COLUMNS = ("label", "labels", "target", "class", "category", "sentiment", "y")
TEXT_COLUMNS = (*GLUE_TEXT_COLUMNS, "body", "document")
MAX_CLASSES_FROM_NUMBERS = 20
"""A numeric target with at most this many distinct integer values is a class label."""
TEXT_MIN_WORDS = 4.0
"""A file whose string column averages this many words is text, else a table (when not told)."""
MAX_BAD_NUMBER_SHARE = 0.05
"""A column whose values are numbers but for at most this share is numeric (the others missing)."""
NEAR_UNIQUE_SHARE = 0.5
"""A string column with more distinct values than this share of rows is reported as near-unique."""
SHOWN = 5
"""Cells and names quoted in a note or an error, at most."""
BLOCK = 1 << 20
"""Bytes of a CSV parsed at a time (a field longer than this is read with a larger block): small
blocks keep the reader's own buffers small at the same speed (finding "table reader block size")."""


@dataclass
class Read:
    """One file's columns, by position: numbers (and booleans, and columns with no value) as
    float64 arrays with NaN where missing, anything else as pyarrow arrays; their pyarrow types;
    and the rows whose line held bytes not in the encoding (JSON, decoded before parsing)."""

    path: Path
    names: list[str]
    columns: list[np.ndarray | pa.ChunkedArray]
    types: list[pa.DataType]
    undecodable: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.columns[0]) if self.columns else 0

    @property
    def rows(self) -> int:
        return self.count

    @property
    def first_line(self) -> int:
        """The line of the first row: after the header in a CSV, the first line in JSON."""
        return 1 if self.path.suffix.lower() in (".jsonl", ".json") else 2


def read(root: Path, options: ReadOptions) -> FileData:
    """A table or text file, or a folder of split files, as a `FileData`; see the module docstring."""
    if root.is_dir():
        files = READER.files_in(root)
        has_test = any(p.name.split(".")[0].lower() == "test" for p in files)
        named = {p: split_of_file(p, has_test) for p in files}
        if any(s is None for s in named.values()) or "train" not in named.values():
            raise DataFormatError(
                f"{root}: a folder of tables holds train.*, and optionally validation|val.* and test.*|dev.* "
                f"(found {', '.join(p.name for p in files)})."
            )
        paths = {split: p for p, split in named.items()}
        layout = "split files"
    else:
        paths = {"all": root}
        layout = "one file"
    notes: list[str] = []
    table = Rows.of({split: read_file(path, options.encoding) for split, path in paths.items()}, notes)
    header = table.names
    label_at = header.index(find_column(root, header, options.target, LABEL_COLUMNS, "target", "label"))
    label_column = header[label_at]
    kind = options.kind
    if kind is None:
        prose = options.text_column is not None or looks_like_text(table, label_at)
        kind = "text" if prose else "table"
    labels, class_names, task = table.labels(label_at, kind, options.task, notes)
    table.columns[label_at] = None
    give_back_memory()
    split_codes = table.kept_split()
    given = {s: np.flatnonzero(split_codes == code) for code, s in enumerate(table.parts)}
    plan, split_rule = plan_splits(
        {s: labels[i] for s, i in given.items()}, options.seed, task == "classification"
    )
    rows = {split: given[part][index] for split, (part, index) in plan.items()}  # kept rows of each split
    del given
    give_back_memory()
    lines = table.kept_lines()
    ids = {split: RowIds(paths[part].name, lines[rows[split]]) for split, (part, _) in plan.items()}
    report_extra: dict[str, Any] = {"target": label_column}
    if kind == "text":
        others = [c for i, c in enumerate(header) if i != label_at]
        strings = [c for i, c in enumerate(header) if i != label_at and not table.is_numeric(i)]
        text_at = header.index(
            find_column(root, others, options.text_column, TEXT_COLUMNS, "text_column", "text", strings)
        )
        texts, replaced = table.texts(text_at)
        note = check_undecodable(root, replaced, len(texts), "texts", options.encoding)
        notes += [note] if note else []
        check_texts(root, texts, notes)
        keys = fingerprints(texts)
        splits = {s: Split(texts[r], labels[r], ids[s], keys[r]) for s, r in rows.items()}
        report_extra["text_column"] = header[text_at]
        info = text_info(options.name, root, class_names)
    else:
        columns, report_extra["columns"], report_extra["dropped_columns"] = table.features(
            label_at, rows, notes
        )
        keys = table.keys
        splits = {
            s: Split(
                {c.name: c.parts[s] for c in columns},
                labels[r],
                ids[s],
                keys[r],
                {c.name: c.holes[s] for c in columns if c.kind == "numeric"},
            )
            for s, r in rows.items()
        }
        info = DatasetInfo(
            name=options.name,
            task=f"tabular_{task}",
            input_name="features",
            input_shape=(len(columns),),
            class_names=class_names,
            splits={},
            source="files",
            description=f"Table {root}, target {label_column!r}.",
            columns=tuple(Column(c.name, c.kind, c.fill) for c in columns),
        )
    if task == "regression":
        values = splits["train"].labels
        report_extra["target_range"] = f"{values.min():.4g} to {values.max():.4g}, mean {values.mean():.4g}"
    report = base_report(root, kind, layout, split_rule, []) | report_extra
    report["notes"] += notes
    del table
    give_back_memory()
    return FileData(info, root, kind, splits, report)


def split_of_file(path: Path, has_test: bool) -> str | None:
    stem = path.name.split(".")[0].lower()
    if stem == "dev":
        return "validation" if has_test else "test"
    return SPLIT_NAMES.get(stem)


def read_file(path: Path, encoding: str | None) -> Read:
    """One table file; one clear error for what it cannot read."""
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path} is empty: expected a header row, then one row per example.")
    try:
        if suffix == ".parquet":
            table = pq.read_table(path)
            return columns_of(path, table.schema, table.to_batches(), table.num_rows)
        if suffix in (".jsonl", ".json"):
            return read_json(path, encoding, lines=suffix == ".jsonl")
        return read_delimited(path, "\t" if suffix == ".tsv" else ",", encoding)
    except UnicodeDecodeError:  # pyarrow decodes the header's names when asked for them
        raise DataFormatError(
            f"{path}:1: the header holds bytes that are not {encoding or 'UTF-8'}; pass the file's "
            "encoding with --encoding (latin-1, cp1252, ...), or save it as UTF-8."
        ) from None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OSError) as err:
        if isinstance(err, DataFormatError):
            raise
        raise DataFormatError(f"Cannot read {path} as a {suffix} table: {first_line(err)}") from None


def first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:300]


def columns_of(
    path: Path, schema: pa.Schema, batches: Any, expected: int, undecodable: Sequence[int] = ()
) -> Read:
    """Record batches as one file's columns: numbers written block by block into one array per
    column (`Floats`, sized for `expected` rows, grown if more come), anything else kept as
    pyarrow arrays. A block's buffers go back to the system once it is converted."""
    names = list(schema.names)
    types = [f.type for f in schema]
    numbers = {i: Floats(expected, kind) for i, kind in enumerate(types) if numeric_type(kind)}
    chunks: dict[int, list] = {i: [] for i in range(len(names)) if i not in numbers}
    for batch in batches:
        for i, array in enumerate(batch.columns):
            if i in numbers:
                numbers[i].add(as_float(array))
            else:
                chunks[i].append(array)
        del batch
        pa.default_memory_pool().release_unused()
    columns = [
        numbers[i].array() if i in numbers else pa.chunked_array(chunks[i], type=types[i])
        for i in range(len(names))
    ]
    give_back_memory()
    return Read(path, names, columns, types, np.asarray(undecodable, np.int64))


class Floats:
    """A column of numbers filled block by block into one array: no chunks, no copy to join them.
    Integers (labels, ids, counts) stay exact as float64; a column of floats is kept as float32,
    the precision the model computes in, which halves the table's largest part."""

    def __init__(self, expected: int, kind: pa.DataType) -> None:
        self.dtype = np.float32 if pa.types.is_floating(kind) or pa.types.is_decimal(kind) else np.float64
        self.data = np.empty(max(expected, 1024), self.dtype)
        self.size = 0

    def add(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        if end > len(self.data):  # more rows than the file's size suggested
            grown = np.empty(max(end, int(len(self.data) * 1.5)), self.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = values
        self.size = end

    def array(self) -> np.ndarray:
        return self.data[: self.size]


def numeric_type(kind: pa.DataType) -> bool:
    """Columns read as numbers: integers, floats, decimals, booleans (0/1), and no value at all."""
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def as_float(array: pa.Array) -> np.ndarray:
    if pa.types.is_null(array.type):
        return np.full(len(array), np.nan)
    return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def read_delimited(path: Path, delimiter: str, encoding: str | None) -> Read:
    """A CSV (quoted fields may hold the delimiter and line breaks) or a TSV (no quoting, as GLUE
    writes them: a `"` is part of the text), streamed block by block. pyarrow types a column from
    the first block; a later block that does not fit (a word in a column of numbers) reads the
    file again with that column as strings."""
    import pyarrow.csv as csv

    tsv = delimiter == "\t"
    strings: dict[str, pa.DataType] = {}
    block = BLOCK
    while True:
        try:
            with pa.OSFile(
                str(path)
            ) as source:  # read, not memory-mapped: its pages stay out of this process
                reader = csv.open_csv(
                    source,
                    read_options=csv.ReadOptions(
                        encoding=encoding or "utf8", block_size=block, use_threads=False
                    ),
                    parse_options=csv.ParseOptions(
                        delimiter=delimiter, quote_char=False if tsv else '"', newlines_in_values=not tsv
                    ),
                    convert_options=csv.ConvertOptions(strings_can_be_null=True, column_types=strings),
                )
                try:
                    first = [reader.read_next_batch()]
                except StopIteration:  # a header and no rows
                    first = []
                rows = first[0].num_rows if first else 0
                expected = int(rows * path.stat().st_size / block * 1.05)  # from the first block's rows
                return columns_of(path, reader.schema, itertools.chain(first, reader), expected)
        except pa.ArrowInvalid as err:
            text = str(err)
            drift = re.search(r"In CSV column #(\d+): CSV conversion error to \w+", text)
            if drift:
                strings[reader.schema.names[int(drift[1])]] = pa.string()
                continue
            if "straddling" in text and block < path.stat().st_size + 1:  # a field longer than a block
                block = min(path.stat().st_size + 1, 2**31 - 1)
                continue
            raise refusal(path, text, delimiter) from None


def refusal(path: Path, text: str, delimiter: str) -> Exception:
    """pyarrow's parse error as one line naming the file and line; other errors as they are."""
    ragged = re.search(r"Expected (\d+) columns, got (\d+): (.*)", text, re.S)
    if not ragged:
        return pa.ArrowInvalid(text)
    expected, got, row = ragged.groups()
    line = line_of(path, row.splitlines()[0] if row else "")
    fix = (
        "fields cannot hold tabs in a TSV file"
        if delimiter == "\t"
        else f"quote fields that hold '{delimiter}'"
    )
    where = f"{path}:{line}" if line else f"{path}: the row {row[:60]!r}"
    return DataFormatError(f"{where}: {got} fields where the header has {expected}; fix the row ({fix}).")


def line_of(path: Path, text: str) -> int | None:
    """The first line of `path` that is `text` (pyarrow names a bad row by its content only)."""
    wanted = text.encode("utf-8", "replace").rstrip(b"\r")
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if line.rstrip(b"\r\n") == wanted:
                return number
    return None


def read_json(path: Path, encoding: str | None, lines: bool) -> Read:
    """JSON lines (one object a line) or a JSON array of objects. Bytes that do not decode become
    replacement characters; their lines are kept, for the caller to refuse or count. pyarrow reads
    JSON lines whose columns keep one type; others (a number in one row, a string in the next;
    `NaN`, which Python writes) are read by Python's json module, a mixed column as strings."""
    import pyarrow.json as pj

    raw = path.read_bytes()
    try:
        text = raw.decode(encoding or "utf-8")
        undecodable: list[int] = []
    except UnicodeDecodeError:
        text = raw.decode(encoding or "utf-8", errors="replace")
        lines_of = raw.splitlines() if lines else []
        undecodable = [i for i, line in enumerate(lines_of) if not decodes(line, encoding or "utf-8")]
    if lines:
        try:
            table = pj.read_json(io.BytesIO(text.encode()))
            return columns_of(path, table.schema, table.to_batches(), table.num_rows, undecodable)
        except pa.ArrowInvalid:
            records = []
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except ValueError as err:
                        raise DataFormatError(f"{path}:{number}: not a JSON object ({err}).") from None
    else:
        try:
            records = json.loads(text)
        except ValueError as err:
            raise DataFormatError(f"{path}: not JSON ({err}).") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFormatError(f"{path}: expected JSON objects, one per example (an array, or one a line).")
    table = records_table(path, records)
    return columns_of(path, table.schema, table.to_batches(), table.num_rows, undecodable)


def records_table(path: Path, records: list[dict[str, Any]]) -> pa.Table:
    """JSON objects as a table, typed by column: numbers (booleans) where every value is one, else
    strings, a number as the file writes it."""
    names = list(dict.fromkeys(name for record in records for name in record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in records]
        present = [v for v in values if v is not None]
        if any(isinstance(v, (list, dict)) for v in present):
            raise DataFormatError(f"{path}: column {name!r} holds lists or objects; give one value per cell.")
        if present and all(isinstance(v, bool) for v in present):
            columns[name] = pa.array(values, pa.bool_())
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            columns[name] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        else:
            columns[name] = pa.array(
                [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
            )
    return pa.table(columns)


def decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


@dataclass
class Feature:
    """A kept column: its input name, kind, fill (train median or ""), and each split's values and
    (numbers) where the files had none."""

    name: str
    kind: str
    fill: float | str
    parts: dict[str, np.ndarray]
    holes: dict[str, np.ndarray]


class Rows:
    """The rows of every split file: each column (NumPy numbers or pyarrow strings), each row's
    file and line, and which rows are kept (those with a label). Features are made from it one
    column at a time, so the table and its features are never all in memory twice."""

    def __init__(
        self, reads: dict[str, Read], names: list[str], columns: list, types: list[pa.DataType]
    ) -> None:
        self.reads, self.names, self.columns, self.types = reads, names, columns, types
        self.parts = list(reads)  # the split each file is, by code
        self.split = np.concatenate([np.full(r.rows, code, np.int8) for code, r in enumerate(reads.values())])
        self.line = np.concatenate([np.arange(r.rows, dtype=np.int32) + r.first_line for r in reads.values()])
        self.undecodable = np.zeros(len(self.split), dtype=bool)
        start = 0
        for one in reads.values():
            self.undecodable[start + one.undecodable] = True
            start += one.rows
        self.keep: np.ndarray | None = None
        self.keys = np.zeros(0, np.uint64)

    @classmethod
    def of(cls, reads: dict[str, Read], notes: list[str]) -> Rows:
        """Train's header (the other files are read by position when theirs differ, as long as they
        have as many columns); a duplicated header is refused, naming it."""
        header = reads.get("train", reads.get("all")).names
        for split, one in reads.items():
            repeated = sorted({n for n in one.names if one.names.count(n) > 1})
            if repeated:
                places = "; ".join(
                    f"{n!r} in columns {[i + 1 for i, m in enumerate(one.names) if m == n]}" for n in repeated
                )
                raise DataFormatError(
                    f"{one.path}: duplicated header {places}; give every column its own name."
                )
            if one.names == header:
                continue
            if len(one.names) != len(header):
                raise DataFormatError(
                    f"{one.path}: the {split} file has columns {one.names}, train {header}."
                )
            notes.append(f"the {split} file's columns {one.names} were read as train's {header}")
        columns, types = [], []
        for i in range(len(header)):
            parts = [one.columns[i] for one in reads.values()]
            kinds = [one.types[i] for one in reads.values()]
            if all(numeric_type(k) for k in kinds):
                columns.append(parts[0] if len(parts) == 1 else np.concatenate(parts))
                types.append(kinds[0] if len(set(kinds)) == 1 else pa.float64())
                continue
            if len(parts) == 1:
                columns.append(parts[0])
                types.append(kinds[0])
                continue
            strings = [
                pc.cast(pa.array(p, from_pandas=True), pa.string()) if isinstance(p, np.ndarray) else p
                for p in parts
            ]
            kind = pa.string() if len({s.type for s in strings}) > 1 else strings[0].type
            columns.append(pa.chunked_array([c.cast(kind) for s in strings for c in as_chunks(s)], type=kind))
            types.append(kind)
        for one in reads.values():  # the columns live on in `columns` alone
            one.columns = []
        return cls(reads, header, columns, types)

    @property
    def kept(self) -> int:
        return int(self.keep.sum()) if self.keep is not None else len(self.split)

    def kept_split(self) -> np.ndarray:
        """The split (code in `parts`) of each kept row."""
        return self.split if self.keep is None else self.split[self.keep]

    def path_of(self, row: int) -> Path:
        return self.reads[self.parts[self.split[row]]].path

    def kept_lines(self) -> np.ndarray:
        return self.line if self.keep is None else self.line[self.keep]

    def where(self, k: int) -> str:
        """`file:line` of kept row `k`."""
        row = k if self.keep is None else int(np.flatnonzero(self.keep)[k])
        return f"{self.path_of(row)}:{self.line[row]}"

    def is_numeric(self, i: int) -> bool:
        return isinstance(self.columns[i], np.ndarray)

    def numbers(self, i: int) -> np.ndarray:
        """Column `i` of the kept rows as numbers (float64, or float32 for floats), NaN where missing."""
        values = self.columns[i]
        return values if self.keep is None else values[self.keep]

    def strings(self, i: int, replace: bool = False) -> tuple[np.ndarray, int]:
        """Column `i` of the kept rows as strings (None where missing), built from its distinct
        values so that a repeated value is one Python object, and how many hold replacement
        characters (see `encoded`)."""
        distinct, codes, replaced = self.encoded(i, replace)
        return np.append(distinct, None)[codes], replaced

    def encoded(self, i: int, replace: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
        """Column `i` of the kept rows as its distinct values (objects), a code per row (-1 for
        missing), and how many kept rows held bytes not in the encoding: refused, naming the cell,
        or with `replace`, decoded with replacement characters and counted."""
        column = self.columns[i]
        self.replaced = 0
        if isinstance(column, np.ndarray):
            column = pc.cast(pa.array(column, from_pandas=True), pa.string())
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            column = self.decoded(i, column, replace)
        elif not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = pc.cast(column, pa.string())
        column = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
        encoded = column.dictionary_encode().chunks  # one dictionary, shared by every chunk
        codes = np.concatenate(
            [chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False) for chunk in encoded] or [np.zeros(0)]
        ).astype(np.int32, copy=False)
        bad = self.undecodable & (codes >= 0)  # JSON lines decoded with replacement before parsing
        if self.keep is not None:
            codes, bad = codes[self.keep], bad[self.keep]
        if bad.any() and not replace:
            self.refuse_undecodable(i, int(np.flatnonzero(bad)[0]))
        dictionary = encoded[0].dictionary if encoded else pa.array([], pa.string())
        return dictionary.to_numpy(zero_copy_only=False).astype(object), codes, int(bad.sum()) + self.replaced

    def decoded(self, i: int, column: pa.ChunkedArray, replace: bool) -> pa.Array:
        """Bytes of another encoding (pyarrow types such a CSV column as binary): refused, naming
        the first cell, or decoded with replacement characters and counted."""
        values = []
        for row, cell in enumerate(column.to_pylist()):
            if cell is None:
                values.append(None)
                continue
            try:
                values.append(cell.decode("utf-8"))
            except UnicodeDecodeError:
                if not replace:
                    self.refuse_undecodable(i, row, cell, kept=False)
                values.append(cell.decode("utf-8", errors="replace"))
                self.replaced += bool(self.keep is None or self.keep[row])
        return pa.array(values, pa.string())

    def refuse_undecodable(self, i: int, k: int, cell: bytes | None = None, kept: bool = True) -> None:
        where = self.where(k) if kept else f"{self.path_of(k)}:{self.line[k]}"
        shown = f" ({cell[:40]!r})" if cell is not None else ""
        raise DataFormatError(
            f"{where}: column {self.names[i]!r} holds bytes that are not UTF-8{shown}; pass the file's "
            "encoding with --encoding (latin-1, cp1252, ...), or save it as UTF-8."
        )

    def labels(
        self, i: int, kind: str, task: str | None, notes: list[str]
    ) -> tuple[np.ndarray, tuple[str, ...], str]:
        """Column `i` as labels: class indices and the class names (numbers in numeric order,
        then strings), or regression targets; the task, as given or inferred (strings and at
        most `MAX_CLASSES_FROM_NUMBERS` distinct integers are classes). Rows without a label
        (empty, blank, not a finite number) are left out, which `keep` records."""
        name, root = self.names[i], self.reads[self.parts[0]].path
        if self.is_numeric(i):
            values = self.columns[i]
            missing = ~np.isfinite(values)
        else:
            distinct, codes, _ = self.encoded(i)
            blank = np.array([not value.strip() for value in distinct.tolist()] + [True], dtype=bool)
            missing = blank[codes]
        if missing.any():
            notes.append(f"{int(missing.sum())} rows without a usable {name!r} value were left out")
            self.keep = ~missing
        if not self.kept:
            raise DataFormatError(f"{root} has a header but no rows: the train split has no examples.")
        if self.is_numeric(i):
            values = values[~missing]
            distinct, codes = np.unique(values, return_inverse=True)
            integral = bool(np.all(np.mod(distinct, 1) == 0))
            guessed = (
                "classification" if integral and len(distinct) <= MAX_CLASSES_FROM_NUMBERS else "regression"
            )
            names = [f"{v:g}" if float(v).is_integer() else repr(float(v)) for v in distinct.tolist()]
        else:
            codes, guessed = codes[~missing], "classification"
            names = distinct.tolist()
        task = task or ("classification" if kind == "text" else guessed)
        if task == "regression":
            if kind == "text":
                raise InvalidValueError(
                    "Text entries classify; a regression target needs a table (kind='table')."
                )
            if not self.is_numeric(i):
                values = np.append(as_numbers(distinct), np.nan)[codes]
                if np.isnan(values).any():
                    bad = distinct[codes[np.flatnonzero(np.isnan(values))[0]]]
                    raise DataFormatError(
                        f"{root}: regression target {name!r} has values that are not numbers, e.g. {bad!r}; "
                        "pass task='classification' for labels."
                    )
            return values.astype(np.float32), (), task
        used = np.flatnonzero(np.bincount(codes, minlength=len(names)))
        class_names = labels_from(sorted({names[c] for c in used}, key=class_order), root)
        lookup = np.array([class_names.index(n) if n in class_names else -1 for n in names], dtype=np.int64)
        labels = lookup[codes]
        split = self.kept_split()
        train = set(
            np.unique(labels[split == self.parts.index("train" if "train" in self.parts else "all")]).tolist()
        )
        for code, held in enumerate(self.parts):
            unseen = sorted(set(np.unique(labels[split == code]).tolist()) - train)
            if unseen:
                raise DataFormatError(
                    f"{root}: label {class_names[unseen[0]]!r} is in the {held} file but never in train; "
                    "a model cannot learn a class it never sees."
                )
        notes += look_alike_labels(class_names)
        return labels, class_names, task

    def texts(self, i: int) -> tuple[np.ndarray, int]:
        values, replaced = self.strings(i, replace=True)
        values[values == None] = ""  # noqa: E711 (an elementwise comparison)
        return values, replaced

    def features(
        self, label_at: int, rows: dict[str, np.ndarray], notes: list[str]
    ) -> tuple[list[Feature], list[dict[str, Any]], list[dict[str, str]]]:
        """The kept feature columns, split as `rows` says, with each one's kind and why, and the
        columns left out and why; `self.keys` becomes each kept row's fingerprint. Each column is
        converted, checked, split and filled, then its whole form is dropped."""
        inputs = input_names([n for i, n in enumerate(self.names) if i != label_at], notes)
        self.keys = np.zeros(self.kept, np.uint64)
        kept: list[Feature] = []
        spec: list[dict[str, Any]] = []
        dropped: list[dict[str, str]] = []
        for i, name in enumerate(self.names):
            if i == label_at:
                continue
            self.check_flat(i)
            made = self.feature(i, inputs[name], rows, notes)
            self.columns[i] = None  # its features are made: free the column
            give_back_memory()
            if isinstance(made, str):
                dropped.append({"name": name, "why": made})
                continue
            feature, why, share = made
            kept.append(feature)
            spec.append({"name": feature.name, "type": feature.kind, "why": why, "missing": round(share, 4)})
        if not kept:
            raise DataFormatError(
                "No column is left to learn from: "
                + "; ".join(f"{d['name']}: {d['why']}" for d in dropped)
                + "."
            )
        self.keys = self.keys.view(np.int64)
        return kept, spec, dropped

    def feature(
        self, i: int, input_name: str, rows: dict[str, np.ndarray], notes: list[str]
    ) -> tuple[Feature, str, float] | str:
        """Column `i` as a `Feature` (with why and its missing share), or why it is left out."""
        if self.is_numeric(i):
            values = self.finite(i, self.numbers(i), notes)
            return self.numeric(i, input_name, values, f"{self.types[i]} values", rows, notes)
        distinct, codes, _ = self.encoded(i)
        counts = np.bincount(codes + 1, minlength=len(distinct) + 1)[1:]  # rows of each distinct value
        parsed_values = as_numbers(distinct)
        not_number = np.isnan(parsed_values)
        present, bad = int(counts.sum()), int(counts[not_number].sum())
        share = f"{(present - bad) / max(present, 1):.0%}"
        name = self.names[i]
        if bad and bad < present and bad <= MAX_BAD_NUMBER_SHARE * present:
            cells = np.flatnonzero(np.append(not_number, False)[codes])
            shown = ", ".join(f"{self.where(k)} ({distinct[codes[k]]!r})" for k in cells[:SHOWN])
            more = " ..." if bad > SHOWN else ""
            notes.append(f"column {name!r}: numbers but for {bad} cells, read as missing: {shown}{more}")
            values = self.finite(i, np.append(parsed_values, np.nan)[codes], notes)
            return self.numeric(i, input_name, values, f"numbers in {share} of its values", rows, notes)
        if bad and bad < 0.5 * present:
            example = distinct[np.flatnonzero(not_number & (counts > 0))[0]]
            notes.append(
                f"column {name!r}: {share} of its values are numbers, but {bad} are not "
                f"(e.g. {example!r}), so it is read as strings"
            )
        return self.string(i, input_name, distinct, codes, counts, rows, notes)

    def finite(self, i: int, values: np.ndarray, notes: list[str]) -> np.ndarray:
        """`values` with infinities as missing values, noted with where they are."""
        infinite = np.isinf(values)
        if not infinite.any():
            return values
        where = ", ".join(f"{self.where(k)} ({values[k]:g})" for k in np.flatnonzero(infinite)[:SHOWN])
        notes.append(
            f"column {self.names[i]!r}: {int(infinite.sum())} values not finite, read as missing: {where}"
        )
        return np.where(infinite, np.nan, values)

    def numeric(
        self,
        i: int,
        input_name: str,
        values: np.ndarray,
        what: str,
        rows: dict[str, np.ndarray],
        notes: list[str],
    ) -> tuple[Feature, str, float] | str:
        """A numeric feature: split, its missing values filled with the train median."""
        holes = np.isnan(values)
        if holes.all():
            return "no values"
        low, high = np.nanmin(values), np.nanmax(values)
        if low == high:
            return constant(holes)
        total = len(values)
        if (
            total >= 20 and not holes.any() and pa.types.is_integer(self.types[i])
            and high - low == total - 1 and len(np.unique(values)) == total
        ):  # fmt: skip
            return "consecutive integers, one per row (a row id)"
        bits = values.astype(np.float64).view(np.uint64)
        bits[holes] = 1  # every missing value alike (NaN has many bit patterns)
        mix(self.keys, bits)
        del bits
        values = values.astype(np.float32, copy=False)
        parts = {s: values[r] for s, r in rows.items()}
        del values
        gaps = {s: holes[r] for s, r in rows.items()}
        train = parts["train"][~gaps["train"]]
        median = float(np.median(train)) if len(train) else 0.0
        for s in parts:
            parts[s][gaps[s]] = median
        if holes.any():
            notes.append(
                f"column {input_name!r}: {int(holes.sum())} missing values set to the train median "
                f"{median:.4g}"
            )
        why = f"{what}, normalised with the train mean and variance"
        return Feature(input_name, "numeric", median, parts, gaps), why, float(holes.mean())

    def string(
        self,
        i: int,
        input_name: str,
        distinct: np.ndarray,
        codes: np.ndarray,
        counts: np.ndarray,
        rows: dict[str, np.ndarray],
        notes: list[str],
    ) -> tuple[Feature, str, float] | str:
        """A string feature: split, missing values as "" (an unseen value to the model's lookup)."""
        holes, name, total = codes < 0, self.names[i], len(codes)
        count = int(np.count_nonzero(counts))
        if count == 0:
            return "no values"
        if count == 1:
            return constant(holes)
        if total >= 20 and count == total:
            return "a different string in every row (an id)"
        if count > NEAR_UNIQUE_SHARE * total:
            notes.append(
                f"column {name!r}: {count} distinct values in {total} rows, nearly one per row: "
                "little to learn"
            )
        if holes.any():
            notes.append(
                f"column {name!r}: {int(holes.sum())} of {total} values missing ({holes.mean():.0%}), "
                "read as ''"
            )
        mix(self.keys, np.append(fingerprints(distinct).view(np.uint64), np.uint64(0))[codes])
        values = np.append(distinct, "")[codes]
        why = f"{count} distinct values, looked up in the train vocabulary"
        return (
            Feature(input_name, "string", "", {s: values[r] for s, r in rows.items()}, {}),
            why,
            float(holes.mean()),
        )

    def check_flat(self, i: int) -> None:
        kind = self.types[i]
        if pa.types.is_nested(kind):
            raise DataFormatError(f"Column {self.names[i]!r} holds {kind} values; give one value per cell.")


def constant(holes: np.ndarray) -> str:
    return (
        "one value in every row"
        if not holes.any()
        else f"one value where it has any ({holes.mean():.0%} missing)"
    )


def as_chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def mix(keys: np.ndarray, values: np.ndarray) -> None:
    """Fold one column's 64-bit values into each row's fingerprint, in place (FNV-style, wrapping)."""
    np.bitwise_xor(keys, values, out=keys)
    np.multiply(keys, np.uint64(1099511628211), out=keys)


def as_numbers(strings: np.ndarray) -> np.ndarray:
    """Each string as a float (NaN where it is not a number)."""
    if len(strings) == 0:
        return np.zeros(0)
    return pd.to_numeric(pd.Series(strings, dtype=object), errors="coerce").to_numpy(np.float64)


def class_order(label: str) -> tuple:
    """Numbers in numeric order ("2" before "10"), then strings."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def find_column(
    root: Path,
    columns: list[str],
    given: str | None,
    usual: Sequence[str],
    option: str,
    what: str,
    strings: Sequence[str] | None = None,
) -> str:
    """The column named `given` (close matches listed when it is not there), else the one
    usual name present, else (for text) the only string column left."""
    if given is not None:
        if given not in columns:
            raise unknown_name("column", given, columns, where=f"in {root} (--{option.replace('_', '-')})")
        return given
    present = [c for c in columns if c.strip().lower() in usual]
    if len(present) == 1:
        return present[0]
    candidates = [c for c in columns if c in strings] if strings is not None else []
    if len(candidates) == 1:
        return candidates[0]
    raise InvalidValueError(
        f"{root}: which column is the {what}? Columns: {', '.join(columns)}; "
        f"pass {option}=NAME (--{option.replace('_', '-')} NAME)."
    )


def looks_like_text(table: Rows, label_at: int) -> bool:
    """A table whose features are one or two columns, one of them prose (several words a row)."""
    features = [i for i in range(len(table.names)) if i != label_at]
    if len(features) > 2:
        return False
    for i in features:
        if table.is_numeric(i):
            continue
        distinct, codes, _ = table.encoded(i, replace=True)
        words = np.array([len(str(v).split()) for v in distinct.tolist()], dtype=np.float64)
        present = codes[codes >= 0]
        if len(present) and words[present].mean() >= TEXT_MIN_WORDS:
            return True
    return False


def input_names(headers: list[str], notes: list[str]) -> dict[str, str]:
    """Header -> a model input name of `[A-Za-z0-9_]`, unique (the layers built for a column take
    its name too): other characters become `_` ("mean radius" -> "mean_radius"); the renames are
    noted, naming every header that became a similar name."""
    names: dict[str, str] = {}
    for header in headers:
        name = re.sub(r"[^A-Za-z0-9_]", "_", str(header).strip()) or "column"
        name = name if re.match(r"[A-Za-z0-9]", name) else f"c{name}"
        while name in names.values():
            name += "_"
        names[header] = name
    changed = [f"{h!r} -> {n!r}" for h, n in names.items() if h != n]
    if changed:
        notes.append(f"{len(changed)} columns renamed to valid input names: {', '.join(changed)}")
    return names


READER = register_reader(Reader("table", read, SUFFIXES))
