"""Tables: CSV, TSV, JSON lines, a JSON array of records, or Parquet, read by pyarrow.

A file (or a folder of `train`/`validation|val`/`test` files with one header) is a table, with one
model input per column, or text, when one of its (at most two) feature columns is prose. pyarrow
reads and types the columns (multithreaded, with its null values and encodings); modelzoo's own
rules sit on top and every one of them is reported:

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
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    ReadOptions,
    Split,
    assign_splits,
    base_report,
    check_texts,
    check_undecodable,
    fingerprints,
    labels_from,
    look_alike_labels,
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


def table_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )


@dataclass
class Read:
    """One file as pyarrow read it, and the lines whose bytes were not in its encoding (JSON
    files, which are decoded before parsing)."""

    table: pa.Table
    undecodable: tuple[int, ...] = ()


def read(root: Path, options: ReadOptions) -> FileData:
    """A table or text file, or a folder of split files, as a `FileData`; see the module docstring."""
    if root.is_dir():
        files = table_files(root)
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
    reads = {split: read_file(path, options.encoding) for split, path in paths.items()}
    notes: list[str] = []
    header = check_headers(paths, reads, notes)
    table = Rows.of(paths, reads, header)
    label_column = find_column(root, header, options.target, LABEL_COLUMNS, "target", "label")
    labels_raw = table.values(label_column)
    kind = options.kind
    if kind is None:
        prose = options.text_column is not None or looks_like_text(table, header, label_column)
        kind = "text" if prose else "table"
    missing_label = label_missing(labels_raw)
    if missing_label.any():
        notes.append(f"{int(missing_label.sum())} rows without a usable {label_column!r} value were left out")
        table = table.keep(~missing_label)
        labels_raw = labels_raw[~missing_label]
    if not len(table):
        raise DataFormatError(f"{root} has a header but no rows: the train split has no examples.")
    task = options.task or infer_task(labels_raw, kind)
    if task == "regression" and kind == "text":
        raise InvalidValueError("Text entries classify; a regression target needs a table (kind='table').")
    if task == "classification":
        names = class_names_of(labels_raw)
        class_names = labels_from(sorted(set(names.tolist()), key=class_order), root)
        check_unseen(root, names, table.split, class_names)
        labels = pd.Categorical(names, categories=class_names).codes.astype(np.int64)
        notes += look_alike_labels(class_names)
    else:
        class_names = ()
        labels = numbers_of(root, label_column, labels_raw)
    report_extra: dict[str, Any] = {"target": label_column}
    filled: dict[str, np.ndarray] = {}
    if kind == "text":
        others = [c for c in header if c != label_column]
        text_at = find_column(
            root, others, options.text_column, TEXT_COLUMNS, "text_column", "text", table.string_columns()
        )
        texts, replaced = table.texts(text_at)
        note = check_undecodable(root, replaced, len(texts), "texts", options.encoding)
        notes += [note] if note else []
        check_texts(root, texts, notes)
        features: Any = texts
        keys = fingerprints(texts)
        report_extra["text_column"] = text_at
        info = text_info(options.name, root, class_names)
    else:
        features, spec, filled, dropped, keys = table.features(
            [c for c in header if c != label_column], notes
        )
        report_extra["columns"] = spec
        report_extra["dropped_columns"] = dropped
        info = DatasetInfo(
            name=options.name,
            task=f"tabular_{task}",
            input_name="features",
            input_shape=(len(features),),
            class_names=class_names,
            splits={},
            source="files",
            description=f"Table {root}, target {label_column!r}.",
        )
    ids = table.ids()
    parts = {}
    for split in paths:
        index = np.flatnonzero(table.split == split)
        parts[split] = Split(
            {k: v[index] for k, v in features.items()} if isinstance(features, dict) else features[index],
            labels[index],
            [ids[i] for i in index],
            keys[index],
            {k: v[index] for k, v in filled.items()},
        )
    splits, split_rule = assign_splits(parts, options.seed, stratify=task == "classification")
    if kind == "table":
        info = replace(info, columns=fill_missing(splits, report_extra["columns"], notes))
    if task == "regression":
        values = splits["train"].labels
        report_extra["target_range"] = f"{values.min():.4g} to {values.max():.4g}, mean {values.mean():.4g}"
    report = base_report(root, kind, layout, split_rule, []) | report_extra
    report["notes"] += notes
    return FileData(info, root, kind, splits, report)


def split_of_file(path: Path, has_test: bool) -> str | None:
    stem = path.name.split(".")[0].lower()
    if stem == "dev":
        return "validation" if has_test else "test"
    return SPLIT_NAMES.get(stem)


def read_file(path: Path, encoding: str | None) -> Read:
    """One table file as pyarrow reads it; one clear error for what it cannot read."""
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise DataFormatError(f"{path} is empty: expected a header row, then one row per example.")
    try:
        if suffix == ".parquet":
            read = Read(pq.read_table(path))
        elif suffix in (".jsonl", ".json"):
            read = read_json(path, encoding, lines=suffix == ".jsonl")
        else:
            read = Read(read_delimited(path, "\t" if suffix == ".tsv" else ",", encoding))
        read.table.column_names  # noqa: B018 (pyarrow decodes the header's names here)
        return read
    except UnicodeDecodeError:
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


def read_delimited(path: Path, delimiter: str, encoding: str | None, block_size: int = 1 << 22) -> pa.Table:
    """CSV (quoted fields may hold the delimiter and newlines) or TSV (no quoting, as GLUE's files
    are written: a `"` is part of the text)."""
    import pyarrow.csv as csv

    tsv = delimiter == "\t"
    try:
        return csv.read_csv(
            path,
            read_options=csv.ReadOptions(encoding=encoding or "utf8", block_size=block_size),
            parse_options=csv.ParseOptions(
                delimiter=delimiter, quote_char=False if tsv else '"', newlines_in_values=not tsv
            ),
            convert_options=csv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as err:
        text = str(err)
        if "straddling" in text and block_size < path.stat().st_size + 1:  # a field longer than a block
            return read_delimited(path, delimiter, encoding, min(path.stat().st_size + 1, 2**31 - 1))
        ragged = re.match(
            r"CSV parse error: (?:Row #\d+: )?Expected (\d+) columns, got (\d+): (.*)", text, re.S
        )
        if ragged:
            expected, got, row = ragged.groups()
            line = line_of(path, row.splitlines()[0] if row else "")
            fix = "fields cannot hold tabs in a TSV file" if tsv else f"quote fields that hold '{delimiter}'"
            where = f"{path}:{line}" if line else f"{path}: the row {row[:60]!r}"
            raise DataFormatError(
                f"{where}: {got} fields where the header has {expected}; fix the row ({fix})."
            ) from None
        raise


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
        undecodable: tuple[int, ...] = ()
    except UnicodeDecodeError:
        text = raw.decode(encoding or "utf-8", errors="replace")
        undecodable = tuple(
            i for i, line in enumerate(raw.splitlines(), start=1) if not decodes(line, encoding or "utf-8")
        )
    if lines:
        try:
            return Read(pj.read_json(io.BytesIO(text.encode())), undecodable)
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
    return Read(records_table(path, records), undecodable)


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
    return pa.table(columns) if columns else pa.table({})


def decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def check_headers(paths: dict[str, Path], reads: dict[str, Read], notes: list[str]) -> list[str]:
    """Train's header (the other files are read by position when theirs differ, as long as they
    have as many columns); a duplicated header is refused, naming it."""
    header = reads.get("train", reads.get("all")).table.column_names
    for split, one in reads.items():
        names = one.table.column_names
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            positions = "; ".join(
                f"{n!r} in columns {[i + 1 for i, m in enumerate(names) if m == n]}" for n in repeated
            )
            raise DataFormatError(
                f"{paths[split]}: duplicated header {positions}; give every column its own name."
            )
        if names == header:
            continue
        if len(names) != len(header):
            raise DataFormatError(f"{paths[split]}: the {split} file has columns {names}, train {header}.")
        notes.append(f"the {split} file's columns {names} were read as train's {header}")
    return header


class Rows:
    """The rows of every split file as pyarrow columns, with each row's split and line, and the
    conversions to what the model reads."""

    def __init__(
        self, columns: dict[str, pa.ChunkedArray], split: np.ndarray, row: np.ndarray, files: dict[str, Path],
        undecodable: dict[str, set[int]],
    ) -> None:  # fmt: skip
        self.columns, self.split, self.row, self.files, self.undecodable = (
            columns,
            split,
            row,
            files,
            undecodable,
        )

    @classmethod
    def of(cls, paths: dict[str, Path], reads: dict[str, Read], header: list[str]) -> Rows:
        columns = {}
        for i, name in enumerate(header):
            chunks = [one.table.column(i) for one in reads.values()]
            types = {c.type for c in chunks}
            if len(types) > 1:  # int in one file, double or string in another
                target = (
                    pa.float64() if all(is_number(t) or pa.types.is_null(t) for t in types) else pa.string()
                )
                chunks = [
                    pc.cast(c, target) if not pa.types.is_null(c.type) else pa.nulls(len(c), target)
                    for c in chunks
                ]
            columns[name] = pa.chunked_array([a for c in chunks for a in c.chunks], type=chunks[0].type)
        split = np.concatenate([np.full(one.table.num_rows, s, dtype=object) for s, one in reads.items()])
        row = np.concatenate([np.arange(one.table.num_rows) for one in reads.values()])
        # a CSV's data row r is on line r + 2 (after the header); a JSON file's on line r + 1
        offsets = {s: 1 if paths[s].suffix.lower() in (".jsonl", ".json") else 2 for s in reads}
        undecodable = {s: {line - offsets[s] for line in one.undecodable} for s, one in reads.items()}
        return cls(columns, split, row, {s: paths[s] for s in reads}, undecodable)

    def __len__(self) -> int:
        return len(self.split)

    def keep(self, mask: np.ndarray) -> Rows:
        index = pa.array(np.flatnonzero(mask))
        return Rows({k: v.take(index) for k, v in self.columns.items()}, self.split[mask], self.row[mask],
                    self.files, self.undecodable)  # fmt: skip

    def line(self, i: int) -> str:
        """`file:line` of row `i`."""
        split = self.split[i]
        path = self.files[split]
        return f"{path}:{int(self.row[i]) + (1 if path.suffix.lower() in ('.jsonl', '.json') else 2)}"

    def ids(self) -> list[str]:
        """`file:line` of every row, the file by its name (as splits.json and reports name them)."""
        offset = {s: 1 if p.suffix.lower() in (".jsonl", ".json") else 2 for s, p in self.files.items()}
        return [
            f"{self.files[s].name}:{r + offset[s]}" for s, r in zip(self.split.tolist(), self.row.tolist())
        ]

    def values(self, name: str) -> np.ndarray:
        """A column as NumPy: float64 (NaN for null) for numbers, else objects (str, None for null)."""
        column = self.columns[name]
        self.check_flat(name)
        if is_number(column.type) or pa.types.is_boolean(column.type) or pa.types.is_null(column.type):
            return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        return self.strings(name)[0]

    def check_flat(self, name: str) -> None:
        kind = self.columns[name].type
        if pa.types.is_nested(kind):
            raise DataFormatError(f"Column {name!r} holds {kind} values; give one value per cell.")

    def strings(self, name: str, replace: bool = False) -> tuple[np.ndarray, int]:
        """A column as strings (None for null), built from its distinct values so that a repeated
        value is one Python object; bytes not in the encoding are an error naming the cell, or with
        `replace`, replacement characters, counted."""
        column = self.columns[name]
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            return self.decoded(name, replace)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            column = pc.cast(column, pa.string())
        encoded = (
            column.combine_chunks().dictionary_encode()
            if len(column)
            else pa.array([], pa.string()).dictionary_encode()
        )
        distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        values = np.append(distinct, None)[codes]
        bad = self.undecodable_rows() & (values != None)  # noqa: E711
        if bad.any() and not replace:
            self.refuse_undecodable(name, int(np.flatnonzero(bad)[0]))
        return values, int(bad.sum())

    def undecodable_rows(self) -> np.ndarray:
        """Rows of JSON files whose line held bytes not in the encoding (decoded with replacement)."""
        bad = np.zeros(len(self), dtype=bool)
        for split, rows in self.undecodable.items():
            if rows:
                bad |= (self.split == split) & np.isin(self.row, list(rows))
        return bad

    def decoded(self, name: str, replace: bool) -> tuple[np.ndarray, int]:
        raw = self.columns[name].to_pylist()
        values = np.empty(len(raw), dtype=object)
        bad = 0
        for i, cell in enumerate(raw):
            if cell is None:
                values[i] = None
                continue
            try:
                values[i] = cell.decode("utf-8")
            except UnicodeDecodeError:
                if not replace:
                    self.refuse_undecodable(name, i, cell)
                values[i] = cell.decode("utf-8", errors="replace")
                bad += 1
        return values, bad

    def refuse_undecodable(self, name: str, i: int, cell: bytes | None = None) -> None:
        shown = f" ({cell[:40]!r})" if cell is not None else ""
        raise DataFormatError(
            f"{self.line(i)}: column {name!r} holds bytes that are not UTF-8{shown}; pass the file's "
            "encoding with --encoding (latin-1, cp1252, ...), or save it as UTF-8."
        )

    def string_columns(self) -> list[str]:
        return [n for n, c in self.columns.items() if not (is_number(c.type) or pa.types.is_boolean(c.type))]

    def texts(self, name: str) -> tuple[np.ndarray, int]:
        values, replaced = self.strings(name, replace=True)
        values[values == None] = ""  # noqa: E711 (an elementwise comparison)
        return values, replaced

    def features(
        self, names: list[str], notes: list[str]
    ) -> tuple[
        dict[str, np.ndarray], list[dict[str, Any]], dict[str, np.ndarray], list[dict[str, str]], np.ndarray
    ]:
        """Each kept column by its input name (float32 numbers with NaN where missing, or strings
        with "" where missing), its kind and why, where its numbers are missing, the columns
        left out and why, and each row's fingerprint."""
        kept: dict[str, np.ndarray] = {}
        spec: list[dict[str, Any]] = []
        missing: dict[str, np.ndarray] = {}
        dropped: list[dict[str, str]] = []
        keys = np.zeros(len(self), np.uint64)
        rows = len(self)
        inputs = input_names(names, notes)
        for name in names:
            self.check_flat(name)
            column = self.columns[name]
            kind, why, values = self.classify(name, column, notes)
            holes = np.isnan(values) if kind == "numeric" else values == None  # noqa: E711
            share = float(holes.mean()) if rows else 0.0
            distinct = (
                len(np.unique(values[~holes])) if kind == "numeric" else len(set(values[~holes].tolist()))
            )
            if distinct == 0:
                dropped.append({"name": name, "why": "no values"})
                continue
            if distinct == 1:
                dropped.append({"name": name, "why": "one value in every row" if not holes.any() else
                                f"one value where it has any ({share:.0%} missing)"})  # fmt: skip
                continue
            if rows >= 20 and distinct == rows and kind == "string":
                dropped.append({"name": name, "why": "a different string in every row (an id)"})
                continue
            if (
                rows >= 20 and distinct == rows and kind == "numeric" and is_integer_valued(column.type)
                and np.nanmax(values) - np.nanmin(values) == rows - 1
            ):  # fmt: skip
                dropped.append({"name": name, "why": "consecutive integers, one per row (a row id)"})
                continue
            keys = keys * np.uint64(1000003) ^ fingerprints(values).view(np.uint64)
            if kind == "string":
                if distinct > NEAR_UNIQUE_SHARE * rows:
                    notes.append(
                        f"column {name!r}: {distinct} distinct values in {rows} rows, nearly one per row: "
                        "little a model can learn from it"
                    )
                values = values.copy()
                values[holes] = ""
            else:
                missing[inputs[name]] = holes
                values = values.astype(np.float32)
            kept[inputs[name]] = values
            spec.append({"name": inputs[name], "type": kind, "why": why, "missing": round(share, 4)})
            if holes.any() and kind == "string":
                notes.append(
                    f"column {name!r}: {int(holes.sum())} of {rows} values missing ({share:.0%}), read as ''"
                )
        if not kept:
            raise DataFormatError(
                "No column is left to learn from: "
                + "; ".join(f"{d['name']}: {d['why']}" for d in dropped)
                + "."
            )
        return kept, spec, missing, dropped, keys.view(np.int64)

    def classify(self, name: str, column: pa.ChunkedArray, notes: list[str]) -> tuple[str, str, np.ndarray]:
        """(numeric or string, why, values): numbers stay numbers (not finite ones become NaN);
        strings that are numbers but for a few cells become numbers, those cells reported."""
        if is_number(column.type) or pa.types.is_boolean(column.type) or pa.types.is_null(column.type):
            values = self.values(name)
            infinite = np.isinf(values)
            if infinite.any():
                where = ", ".join(f"{self.line(i)} ({values[i]:g})" for i in np.flatnonzero(infinite)[:SHOWN])
                notes.append(
                    f"column {name!r}: {int(infinite.sum())} values not finite, read as missing: {where}"
                )
                values = np.where(infinite, np.nan, values)
            return "numeric", f"{column.type} values, normalised with the train mean and variance", values
        strings, _ = self.strings(name)
        present = strings != None  # noqa: E711
        numbers = as_numbers(strings)
        bad = present & np.isnan(numbers)
        parsed = present & ~bad
        if bad.any() and parsed.sum() and bad.sum() <= MAX_BAD_NUMBER_SHARE * present.sum():
            where = ", ".join(f"{self.line(i)} ({strings[i]!r})" for i in np.flatnonzero(bad)[:SHOWN])
            notes.append(
                f"column {name!r}: numbers but for {int(bad.sum())} cells, read as missing: {where}"
                + (" ..." if bad.sum() > SHOWN else "")
            )
            infinite = np.isinf(numbers)
            numbers[infinite] = np.nan
            return (
                "numeric",
                f"numbers in {parsed.mean():.0%} of rows, normalised with the train mean and variance",
                numbers,
            )
        if parsed.sum() > 0.5 * present.sum() and bad.any():
            example = strings[np.flatnonzero(bad)[0]]
            notes.append(
                f"column {name!r}: {parsed.sum() / present.sum():.0%} of its values are numbers, but "
                f"{int(bad.sum())} are not (e.g. {example!r}), so it is read as strings"
            )
        distinct = len(set(strings[present].tolist()))
        return "string", f"{distinct} distinct values, looked up in the train vocabulary", strings


def is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def is_integer_valued(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind)


def as_numbers(strings: np.ndarray) -> np.ndarray:
    """Each string as a float (NaN where it is not a number), parsing each distinct value once."""
    present = strings != None  # noqa: E711
    out = np.full(len(strings), np.nan)
    if present.any():
        distinct, codes = np.unique(strings[present].astype(str), return_inverse=True)
        out[present] = pd.to_numeric(pd.Series(distinct), errors="coerce").to_numpy(np.float64)[codes]
    return out


def label_missing(values: np.ndarray) -> np.ndarray:
    """Rows whose label is empty, or for numbers NaN or not finite."""
    if values.dtype == object:
        return np.array(
            [v is None or (isinstance(v, str) and not v.strip()) for v in values.tolist()], dtype=bool
        )
    return ~np.isfinite(values)


def class_names_of(values: np.ndarray) -> np.ndarray:
    """Labels as class names: strings as they are, integral numbers without a decimal point."""
    if values.dtype != object:
        return np.array(
            [f"{v:g}" if float(v).is_integer() else repr(float(v)) for v in values.tolist()], dtype=object
        )
    return values


def check_unseen(root: Path, names: np.ndarray, split: np.ndarray, class_names: Sequence[str]) -> None:
    train = set(names[(split == "train") | (split == "all")].tolist())
    for held in ("validation", "test"):
        unseen = sorted(set(names[split == held].tolist()) - train)
        if unseen:
            raise DataFormatError(
                f"{root}: label {unseen[0]!r} is in the {held} file but never in train; "
                "a model cannot learn a class it never sees."
            )


def numbers_of(root: Path, column: str, values: np.ndarray) -> np.ndarray:
    """A regression target as float32; a value that is not a number is refused."""
    numbers = as_numbers(values) if values.dtype == object else values
    if np.isnan(numbers).any():
        bad = values[np.isnan(numbers)][0]
        raise DataFormatError(
            f"{root}: regression target {column!r} has values that are not numbers, e.g. {bad!r}; "
            "pass task='classification' for labels."
        )
    return numbers.astype(np.float32)


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


def looks_like_text(table: Rows, columns: list[str], label_column: str) -> bool:
    """A table whose features are one or two columns, one of them prose (several words a row)."""
    features = [c for c in columns if c != label_column]
    if len(features) > 2:
        return False
    for name in [c for c in features if c in table.string_columns()]:
        column = table.columns[name]
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            column = pa.array([v for v in table.strings(name, replace=True)[0].tolist()], pa.string())
        words = pc.mean(pc.list_value_length(pc.utf8_split_whitespace(pc.cast(column, pa.string())))).as_py()
        if words is not None and words >= TEXT_MIN_WORDS:
            return True
    return False


def infer_task(labels: np.ndarray, kind: str) -> str:
    """classification for strings and few distinct integers; regression otherwise."""
    if kind == "text" or labels.dtype == object:
        return "classification"
    integral = bool(np.all(np.mod(labels, 1) == 0))
    return (
        "classification" if integral and len(np.unique(labels)) <= MAX_CLASSES_FROM_NUMBERS else "regression"
    )


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


def fill_missing(
    splits: dict[str, Split], spec: list[dict[str, Any]], notes: list[str]
) -> tuple[Column, ...]:
    """Replace missing numbers by the train median (strings are already ""); the fills become
    the columns' defaults in the served graph too."""
    columns = []
    for column in spec:
        name = column["name"]
        if column["type"] == "string":
            columns.append(Column(name, "string", ""))
            continue
        train = splits["train"].features[name]
        median = float(np.nanmedian(train)) if not np.all(np.isnan(train)) else 0.0
        missing = 0
        for part in splits.values():
            values = part.features[name]
            holes = np.isnan(values)
            missing += int(holes.sum())
            values[holes] = median
        if missing:
            notes.append(f"column {name!r}: {missing} missing values set to the train median {median:.4g}")
        columns.append(Column(name, "numeric", median))
    return tuple(columns)
