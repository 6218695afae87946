"""Property-based tests of the three readers on generated messy files: every table, image folder
and text folder either reads into a `FileData` whose report accounts for every row and file, or
raises exactly one `ModelZooError`. Never another exception, never a row or file silently lost,
never bytes decoded into other characters without a note.

The examples are derandomized (the same ones every run, so CI cannot turn red by chance); a
failure prints the example that broke; `MODELZOO_EXPLORE=500 pytest tests/test_reader_properties.py`
draws others.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

import modelzoo
from modelzoo.data import tables
from modelzoo.errors import ModelZooError

EXPLORE = int(os.environ.get("MODELZOO_EXPLORE", "0"))
"""MODELZOO_EXPLORE=N: N random examples a property (another draw each run) instead of the fixed 100."""
SETTINGS = settings(
    derandomize=not EXPLORE,
    max_examples=EXPLORE or 100,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NULLS = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "N/A",
         "NA", "NULL", "NaN", "n/a", "nan", "null"}  # fmt: skip
"""pyarrow's (and pandas') missing-value spellings: such a cell is missing, not a string."""

cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=10
)
number = st.one_of(
    st.integers(-10_000, 10_000),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
)


def refused(err: ModelZooError) -> str:
    """The kind of refusal, for the statistics (`--hypothesis-show-statistics`)."""
    text = re.sub(r"\d+", "N", re.sub(r"\S*/\S*", "PATH", str(err))).removeprefix("PATH: ")
    return "refused: " + re.sub(r"['\"(].*", "", text)[:60].strip()


@st.composite
def table_files(draw) -> tuple[str, list[str], list[list]]:
    """A format, a header (odd and repeated names included), and rows of mixed, missing and
    non-finite cells, with a label column of a few classes (some rows without one)."""
    fmt = draw(st.sampled_from(["csv", "tsv", "jsonl"]))
    pool = st.sampled_from(["age", "city", "a b", "a-b", "a_b", "é", " x ", ""])
    names = draw(st.lists(pool, min_size=1, max_size=4, unique=True))
    if draw(st.integers(0, 7)) == 0:  # an eighth of the tables repeat a header
        names.append(names[0])
    kinds = [
        draw(st.sampled_from(["int", "float", "float", "text", "text", "mixed", "empty"])) for _ in names
    ]
    rare = st.sampled_from([" yes", "Yes", "maybe", None])
    odd = draw(st.integers(0, 3)) == 0  # a quarter of the tables have rare and look-alike labels
    rows = []
    for _ in range(draw(st.sampled_from([30, 60, 30, 60, 30, 60, 5, 2, 1]))):
        row = []
        for kind in kinds:
            if kind == "empty" or draw(st.integers(0, 9)) == 0:
                row.append(None)
            elif kind == "int":
                row.append(draw(st.integers(-1000, 1000)))
            elif kind == "float":
                row.append(draw(number))
            elif kind == "text":
                row.append(draw(cell_text))
            else:
                row.append(draw(st.one_of(number, cell_text)))
        row.append(
            draw(rare) if odd and draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(["yes", "no"]))
        )
        rows.append(row)
    return fmt, [*names, "label"], rows


def write_table(folder: Path, fmt: str, header: list[str], rows: list[list], encoding: str) -> Path:
    path = folder / f"table.{fmt}"
    text = io.StringIO()
    if fmt == "jsonl":
        unique = list(dict.fromkeys(header))
        for row in rows:
            record = dict(zip(header, row))
            text.write(json.dumps({k: record[k] for k in unique}) + "\n")
    elif fmt == "tsv":  # GLUE's TSV: no quoting, so cells cannot hold tabs or line breaks
        breaks = r"[\t\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]"
        clean = [["" if v is None else re.sub(breaks, " ", str(v)) for v in r] for r in rows]
        text.write("\n".join("\t".join(r) for r in [header, *clean]) + "\n")
    else:
        writer = csv.writer(text)  # lines end in \r\n, so a field holding \r is quoted
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in r] for r in rows])
    path.write_bytes(text.getvalue().encode(encoding, errors="replace"))
    return path


@settings(SETTINGS, max_examples=EXPLORE or 300)
@given(table_files(), st.sampled_from(["utf-8", "latin-1"]), st.booleans())
def test_a_table_is_read_whole_or_refused_with_one_error(files, encoding, told):
    fmt, header, rows = files
    with tempfile.TemporaryDirectory() as tmp:
        path = write_table(Path(tmp), fmt, header, rows, encoding)
        try:
            given = encoding if told else None
            data = modelzoo.load_files(path, target="label", kind="table", encoding=given)
        except ModelZooError as err:
            return event(refused(err))
        event("read")
        notes = " ".join(data.report["notes"])
        dropped = re.search(r"(\d+) rows without a usable 'label' value were left out", notes)
        kept = sum(len(p) for p in data.splits.values())
        assert kept + (int(dropped[1]) if dropped else 0) == len(rows), "every row read or reported"
        ids = [i for p in data.splits.values() for i in p.ids]
        assert len(set(ids)) == len(ids)
        for column in data.info.columns:
            values = np.concatenate([p.features[column.name] for p in data.splits.values()])
            if column.kind == "numeric":
                assert np.isfinite(values).all(), "missing and infinite numbers are filled"
            else:
                assert not any("\ufffd" in v for v in values.tolist()), "no bytes decoded as other characters"
        assert all("\ufffd" not in name for name in data.info.class_names)


@st.composite
def image_folders(draw) -> dict[str, list[tuple]]:
    """Class folders of images of random sizes, modes and formats, with corrupt, truncated,
    hidden and unsupported files among them."""
    classes = ["cat", "dog", "owl"][: draw(st.sampled_from([2, 3, 2, 3, 1]))]
    kinds = st.sampled_from(["good"] * 60 + ["hidden", "hidden", "tiff", "corrupt", "truncated"])
    files = {}
    for name in classes:
        files[name] = [
            (
                draw(kinds),
                draw(st.integers(1, 24)),
                draw(st.integers(1, 24)),
                draw(st.sampled_from(["L", "RGB", "RGBA", "P", "LA"])),
                draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "WEBP"])),
            )
            for _ in range(draw(SIZES))
        ]
    return files


SIZES = st.sampled_from([6, 12, 6, 12, 6, 12, 6, 12, 2, 1, 0])
"""Files in a class folder: mostly enough for a split, sometimes too few."""
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp"}


def encoded(height: int, width: int, mode: str, fmt: str, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    if fmt in ("JPEG", "BMP") and mode in ("RGBA", "P", "LA"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@SETTINGS
@given(image_folders())
def test_an_image_folder_is_read_whole_or_refused_with_one_error(folders):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        expected = set()
        for name, files in folders.items():
            (root / name).mkdir(parents=True)
            for i, (kind, height, width, mode, fmt) in enumerate(files):
                data = encoded(height, width, mode, fmt, i)
                path = root / name / f"{i}{SUFFIX[fmt]}"
                if kind == "hidden":
                    path = path.with_name(f"._{path.name}")
                    data = b"\x00\x05\x16\x07 AppleDouble"
                elif kind == "tiff":
                    path = path.with_suffix(".tiff")
                elif kind == "corrupt":
                    data = bytes(np.random.default_rng(i).integers(0, 255, 40, np.uint8))
                elif kind == "truncated":
                    data = data[: len(data) // 2]
                path.write_bytes(data)
                if kind != "hidden":
                    expected.add(str(path.relative_to(root)))
        try:
            data = modelzoo.load_files(root)
        except ModelZooError as err:
            return event(refused(err))
        event("read")
        read = [i for p in data.splits.values() for i in p.ids]
        skipped = [s["file"] for s in data.report["skipped"]]
        assert sorted(read + skipped) == sorted(expected), "every file read or listed, hidden ones neither"
        assert all("object at 0x" not in s["why"] for s in data.report["skipped"])
        for split in data.splits:  # every file that reached the pipeline decodes there too
            for batch, _ in data.dataset(split, batch_size=8):
                assert batch.shape[1:] == data.info.input_shape


@st.composite
def text_folders(draw) -> dict[str, list[tuple[str, bool]]]:
    """Class folders of .txt files: any text, some empty, some in latin-1."""
    classes = ["neg", "pos", "mixed"][: draw(st.sampled_from([2, 3, 2, 3, 1]))]
    return {
        name: [(draw(st.text(max_size=30)), draw(st.integers(0, 24)) == 0) for _ in range(draw(SIZES))]
        for name in classes
    }


@settings(SETTINGS, max_examples=EXPLORE or 300)
@given(text_folders())
def test_a_text_folder_is_read_whole_or_refused_with_one_error(folders):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "reviews"
        written = {}
        for name, files in folders.items():
            (root / name).mkdir(parents=True)
            for i, (text, latin1) in enumerate(files):
                raw = (
                    text.encode("latin-1", errors="replace")
                    if latin1
                    else text.encode("utf-8", "surrogatepass")
                )
                (root / name / f"{i}.txt").write_bytes(raw)
                written[f"{name}/{i}.txt"] = raw
        try:
            data = modelzoo.load_files(root)
        except ModelZooError as err:
            return event(refused(err))
        event("read")
        read = {i: t for p in data.splits.values() for i, t in zip(p.ids, p.features.tolist())}
        assert sorted(read) == sorted(written), "every file read once"
        replaced = sum(not tables.decodes(raw, "utf-8") for raw in written.values())
        if replaced:
            assert f"{replaced} files were not UTF-8" in " ".join(data.report["notes"])
        for file, text in read.items():
            if tables.decodes(written[file], "utf-8"):
                assert text == written[file].decode("utf-8"), "UTF-8 files read as they are"


@pytest.mark.parametrize("cell", sorted(NULLS - {""}))
def test_missing_value_spellings_are_reported_as_missing(tmp_path, cell):
    rows = "".join(f"{i},{cell if i % 3 == 0 else 'c' + str(i % 4)},{'ab'[i % 2]}\n" for i in range(30))
    (tmp_path / "t.csv").write_text("x,city,label\n" + rows)
    data = modelzoo.load_files(tmp_path / "t.csv")
    assert "column 'city': 10 of 30 values missing (33%), read as ''" in " ".join(data.report["notes"])
