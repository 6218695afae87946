"""Messy files as users have them: every one is read right, reported, or refused with one line;
never trained on quietly damaged."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from conftest import sentiment_corpus
from PIL import Image
from test_cli import run_cli
from test_own_data import customers, write_images
from test_trust import one_line_exit_2

import modelzoo
from modelzoo.errors import DataFormatError, InvalidValueError


def test_a_latin1_table_is_refused_naming_file_line_column_and_the_encoding_option(tmp_path, cli_here):
    """Item 3: `Z\\ufffdrich` was trained as a city; a real "Zürich" then scored as unseen."""
    frame = customers(200)
    frame.loc[5, "city"] = "Zürich"
    frame.loc[9, "city"] = "Köln"
    path = tmp_path / "customers.csv"
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    with pytest.raises(
        DataFormatError, match=r"customers.csv:7: column 'city' holds bytes that are not UTF-8 .*--encoding"
    ):
        modelzoo.load_files(path, target="status")
    data = modelzoo.load_files(path, target="status", encoding="latin-1")
    cities = set(np.concatenate([p.features["city"] for p in data.splits.values()]).tolist())
    assert {"Zürich", "Köln", "Paris"} <= cities and not any("\ufffd" in c for c in cities)
    result = cli_here("train", "mlp", "--data", "customers.csv", "--target", "status", cwd=tmp_path)
    one_line_exit_2(result, "customers.csv:7: column 'city' holds bytes that are not UTF-8")
    assert not (tmp_path / "runs").exists()


def test_texts_in_another_encoding_are_counted_when_few_and_refused_when_many(tmp_path):
    texts, labels = sentiment_corpus(200, 3)
    frame = pd.DataFrame({"review": texts, "sentiment": labels})
    frame.loc[0, "review"] = "un film très réussi et émouvant"
    (tmp_path / "few.csv").write_bytes(frame.to_csv(index=False).encode("latin-1"))
    data = modelzoo.load_files(tmp_path / "few.csv")
    assert data.kind == "text"
    assert any(n.startswith("1 texts were not UTF-8; decoded with replacement") for n in data.report["notes"])
    frame.loc[:20, "review"] = "très émouvant, à voir"
    (tmp_path / "many.csv").write_bytes(frame.to_csv(index=False).encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"21 of 200 texts are not UTF-8 \(more than 2%\).*--encoding"):
        modelzoo.load_files(tmp_path / "many.csv")
    read = modelzoo.load_files(tmp_path / "many.csv", encoding="latin-1")
    assert sum("très émouvant" in t for p in read.splits.values() for t in p.features) == 21


def test_one_inf_is_a_missing_value_in_the_files_and_in_the_served_graph(tmp_path):
    """Item 4: one inf made the Normalization mean inf: test accuracy 0.50, loss 0.6931."""
    frame = customers(400)
    frame["age"] = frame["age"].astype(object)
    frame.loc[11, "age"] = "inf"
    frame.to_csv(tmp_path / "customers.csv", index=False)
    data = modelzoo.load_files(tmp_path / "customers.csv", target="status")
    assert any(
        "column 'age': 1 values not finite, read as missing: " in n and ":13 (inf)" in n
        for n in data.report["notes"]
    )
    assert all(np.isfinite(p.features["age"]).all() for p in data.splits.values())
    model = modelzoo.build("mlp", data=data, epochs=30)
    modelzoo.fit(model, verbose=0)
    assert modelzoo.evaluate(model)["accuracy"] >= 0.85
    fill = {c.name: c.fill for c in data.info.columns}["age"]
    row = {"city": tf.constant(["Paris", "Paris"]), "noise": tf.constant([0.0, 0.0])}
    served = tf.saved_model.load(str(modelzoo.export(model, export_dir=tmp_path / "exp"))).signatures
    answers = served["serving_default"](age=tf.constant([np.inf, fill], tf.float32), **row)["probabilities"]
    np.testing.assert_allclose(answers[0], answers[1], atol=1e-6)
    keras_answers = model.predict({"age": np.array([np.nan, fill], np.float32), **row}, verbose=0)
    np.testing.assert_allclose(keras_answers[0], keras_answers[1], atol=1e-6)


def test_a_numeric_column_with_a_few_bad_cells_stays_numeric_and_names_them(tmp_path):
    """Item 5: one `1,234.5` turned income into a 299-value string column."""
    frame = customers(300)
    frame["income"] = (frame["age"].fillna(40) * 1000).round(1).astype(object)
    frame.loc[4, "income"] = "1,234.5"
    frame.to_csv(tmp_path / "customers.csv", index=False)
    data = modelzoo.load_files(tmp_path / "customers.csv", target="status")
    kinds = {c.name: c.kind for c in data.info.columns}
    assert kinds["income"] == "numeric"
    assert any("column 'income': numbers but for 1 cells, read as missing: " in n and ":6 ('1,234.5')" in n
               for n in data.report["notes"])  # fmt: skip
    frame.loc[:40, "income"] = "n/a?"
    frame.to_csv(tmp_path / "mostly.csv", index=False)
    mostly = modelzoo.load_files(tmp_path / "mostly.csv", target="status")
    assert {c.name: c.kind for c in mostly.info.columns}["income"] == "string"
    assert any(
        "column 'income': 86% of its values are numbers, but 41 are not" in n for n in mostly.report["notes"]
    )


def test_a_duplicated_header_is_refused_naming_it(tmp_path):
    (tmp_path / "t.csv").write_text(
        "age,city,age,status\n" + "".join(f"{i},x,{i},{'ab'[i % 2]}\n" for i in range(30))
    )
    with pytest.raises(DataFormatError, match=r"duplicated header 'age' in columns \[1, 3\]"):
        modelzoo.load_files(tmp_path / "t.csv", target="status")


def test_a_class_with_fewer_than_two_training_examples_is_refused(tmp_path):
    """Item 6: one image per class trained on `a 1, b 0, c 0` and reported test accuracy 1.0."""
    for name in ("a", "b", "c"):
        (tmp_path / "one" / name).mkdir(parents=True)
        Image.fromarray(np.full((8, 8), ord(name), np.uint8)).save(tmp_path / "one" / name / "x.png")
    with pytest.raises(
        DataFormatError,
        match=r"3 classes with fewer than 2 training examples: 'a' \(1 of 1 in train\), 'b' \(0 of 1",
    ):
        modelzoo.load_files(tmp_path / "one")
    rng = np.random.default_rng(0)
    labels = np.concatenate([np.arange(200), rng.integers(0, 200, 100)])
    pd.DataFrame({"x": rng.normal(size=300), "label": [f"l{v}" for v in labels]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    with pytest.raises(DataFormatError, match=r"classes with fewer than 2 training examples"):
        modelzoo.load_files(tmp_path / "t.csv")


def test_labels_that_differ_only_in_case_or_spaces_are_reported(tmp_path):
    rng = np.random.default_rng(1)
    label = rng.choice(["yes", "Yes", " yes", "no"], 300)
    pd.DataFrame({"x": rng.normal(size=300), "y2": rng.normal(size=300), "answer": label}).to_csv(
        tmp_path / "t.csv", index=False
    )
    data = modelzoo.load_files(tmp_path / "t.csv", target="answer")
    assert data.info.class_names == (" yes", "Yes", "no", "yes")
    assert (
        "labels ' yes', 'Yes', 'yes' differ only in case or surrounding spaces; they are 3 classes"
        in " ".join(data.report["notes"])
    )


def test_evaluate_refuses_files_that_changed_since_the_run_read_them(tmp_path, cli_here):
    """Item 7: four test images overwritten with another class's: recall 0, and evaluation.json
    overwritten."""
    root = write_images(tmp_path / "photos", n=90, shape=(8, 8))
    data = modelzoo.load_files(root)
    model = modelzoo.build("cnn", data=data, epochs=1)
    modelzoo.fit(model, run_dir=tmp_path / "run", verbose=0)
    tests = [root / i for i in data.splits["test"].ids if i.startswith("cat/")][:4]
    dog = next((root / "dog").iterdir())
    for path in tests:
        shutil.copy(dog, path)
    (tmp_path / "run" / "evaluation.json").write_text("{}")
    result = cli_here("evaluate", "cnn_photos", "--checkpoint", str(tmp_path / "run"), cwd=tmp_path)
    one_line_exit_2(result, "changed since it read them: 4 test examples differ (cat/")
    assert (tmp_path / "run" / "evaluation.json").read_text() == "{}"


def truncated_jpeg(root: Path) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16), np.uint8)).save(buffer, "JPEG")
    path = root / "cat" / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def test_unreadable_hidden_and_unsupported_image_files(tmp_path):
    """A truncated JPEG passed PIL's verify and crashed fit; `._x.png` files refused a folder."""
    root = write_images(tmp_path / "photos", n=90, shape=(16, 16))
    truncated_jpeg(root)
    for path in list(root.rglob("*.png"))[:30]:
        (path.parent / f"._{path.name}").write_bytes(b"\x00\x05\x16\x07AppleDouble")  # macOS metadata
    (root / "__MACOSX" / "cat").mkdir(parents=True)
    (root / "__MACOSX" / "cat" / "x.png").write_bytes(b"junk")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "dog" / "scan.tiff")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "dog" / "new.webp")
    data = modelzoo.load_files(root)
    skipped = {s["file"]: s["why"] for s in data.report["skipped"]}
    assert set(skipped) == {"cat/cut.jpg", "dog/scan.tiff"}
    assert "Invalid JPEG data" in skipped["cat/cut.jpg"] and "object at 0x" not in skipped["cat/cut.jpg"]
    assert sum(data.info.splits.values()) == 91, "the 90 PNGs and the WebP"
    model = modelzoo.build("cnn", data=data, epochs=1)
    modelzoo.fit(model, verbose=0)


@pytest.mark.parametrize(
    "size, message",
    [
        ((100000, 100000), "each side must be 1 to 1024 pixels"),
        ((3, 3), "needs images of at least 4x4 pixels, not 3x3"),
    ],
)
def test_image_sizes_out_of_range_are_one_line(tmp_path, size, message):
    root = write_images(tmp_path / "photos", n=30, shape=(8, 8))
    with pytest.raises(InvalidValueError, match=message):
        modelzoo.build("cnn", data=modelzoo.load_files(root, image_size=size))


def test_photos_over_the_inferred_limit_are_read_smaller_in_their_own_proportions(tmp_path):
    """A user's photos are read at their most common size scaled to the measured limit (finding
    "image size"), not at the size of the files."""
    from modelzoo.data.images import MAX_INFERRED_SIDE

    data = modelzoo.load_files(write_images(tmp_path / "photos", n=30, shape=(90, 120)))
    assert data.info.input_shape == (round(90 * MAX_INFERRED_SIDE / 120), MAX_INFERRED_SIDE, 1)
    rule = f"the most common size, scaled to {MAX_INFERRED_SIDE} px at most;"
    assert data.report["input_rule"].startswith(rule)


def test_an_entrys_report_states_the_input_the_model_takes(tmp_path):
    root = write_images(tmp_path / "photos", n=30, shape=(20, 24))
    model = modelzoo.build("cnn_cifar10", data=modelzoo.load_files(root))
    data = model.modelzoo.data
    assert data.report["input"] == "32x32x1" and "cnn_cifar10's input size" in data.report["input_rule"]
    assert "input 32x32x1 (cnn_cifar10's input size" in data.summary()


def test_all_empty_texts_and_a_huge_field_are_handled(tmp_path):
    pd.DataFrame({"text": [""] * 40, "label": [0, 1] * 20}).to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(DataFormatError, match="every text is empty"):
        modelzoo.load_files(tmp_path / "empty.csv", kind="text")
    texts, labels = sentiment_corpus(60, 1)
    texts[3] = "long " * 40000  # 200,000 characters: Python's csv module stopped at 131,072
    pd.DataFrame({"text": texts, "label": labels}).to_csv(tmp_path / "long.csv", index=False)
    data = modelzoo.load_files(tmp_path / "long.csv")
    assert max(len(t) for p in data.splits.values() for t in p.features) == 200000


def test_similar_column_names_get_distinct_input_names(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a b": rng.normal(size=60), "a_b": rng.normal(size=60), "a-b": rng.normal(size=60),
                          "label": rng.choice(["x", "y"], 60)})  # fmt: skip
    frame.to_csv(tmp_path / "t.csv", index=False)
    data = modelzoo.load_files(tmp_path / "t.csv")
    assert [c.name for c in data.info.columns] == ["a_b", "a_b_", "a_b__"]
    assert "'a b' -> 'a_b', 'a_b' -> 'a_b_', 'a-b' -> 'a_b__'" in " ".join(data.report["notes"])
    modelzoo.build("mlp", data=data)


def test_missing_shares_near_unique_columns_and_raw_values_in_mistakes(tmp_path):
    frame = customers(300)
    frame.loc[::10, "age"] = np.nan
    frame["ticket"] = [f"T{i % 250}" for i in range(300)]
    frame["cabin"] = [None if i % 4 else f"C{i}" for i in range(300)]
    frame.to_csv(tmp_path / "customers.csv", index=False)
    data = modelzoo.load_files(tmp_path / "customers.csv", target="status")
    notes = " ".join(data.report["notes"])
    assert "column 'ticket': 250 distinct values in 300 rows, nearly one per row" in notes
    assert "column 'cabin': 225 of 300 values missing (75%)" in notes
    assert {c["name"]: c["missing"] for c in data.report["columns"]}["cabin"] == 0.75
    model = modelzoo.build("mlp", data=data, epochs=1)
    report = modelzoo.evaluate(model, report=True)
    test = data.splits["test"]
    holes = np.flatnonzero(test.filled["age"]) if test.filled["age"].any() else []
    for mistake in report.mistakes:
        assert (mistake.example["age"] is None) == (mistake.index in holes)


def test_tsv_errors_do_not_advise_quoting(tmp_path):
    (tmp_path / "t.tsv").write_text("text\tlabel\na b\t1\nc\td\t0\n")
    with pytest.raises(
        DataFormatError,
        match=r"t.tsv:3: 3 fields where the header has 2; fix the row \(fields cannot hold tabs",
    ):
        modelzoo.load_files(tmp_path / "t.tsv")


def test_data_dir_runs_are_evaluated_on_their_own_files(tmp_path, idx_dir, monkeypatch):
    trained = run_cli("train", "mlp_fashion_mnist", "--data-dir", str(idx_dir), "--epochs", "1", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert f"Data: fashion_mnist from local files: {idx_dir / 'fashion_mnist'}" in trained.stdout
    (run_dir,) = (tmp_path / "runs" / "mlp_fashion_mnist").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["data_dir"] == str(idx_dir)
    monkeypatch.setenv("MODELZOO_NO_DOWNLOAD", "1")
    evaluated = run_cli("evaluate", "mlp_fashion_mnist", "--checkpoint", str(run_dir), cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]


def test_carving_draws_the_rows_scikit_learn_draws():
    """The split is scikit-learn's train_test_split, made with arrays: runs split before keep their rows."""
    from sklearn.model_selection import train_test_split

    from modelzoo.data.files import carve

    rng = np.random.default_rng(0)
    for _ in range(200):
        size, classes = int(rng.integers(2, 300)), int(rng.integers(1, 6))
        labels = rng.integers(0, classes, size).astype(np.int64)
        fraction, seed = float(rng.choice([0.1, 0.2, 0.33])), int(rng.integers(0, 1000))
        held = max(1, round(size * fraction))
        counts = np.bincount(labels)
        stratify = labels if counts[counts > 0].min() >= 2 and held >= np.count_nonzero(counts) else None
        keep, out = train_test_split(np.arange(size), test_size=held, random_state=seed, stratify=stratify)
        assert [a.tolist() for a in carve(labels, fraction, seed, True)] == [sorted(keep), sorted(out)]


def test_usage_errors_are_two_lines_and_urls_and_blocked_export_dirs_are_refused_first(tmp_path, cli_here):
    result = cli_here("train", "mlp_digits", "--epochs", "many", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 2 and lines[0].startswith("usage: modelzoo train")
    assert lines[1] == "modelzoo train: error: argument --epochs: invalid int value: 'many'"
    with pytest.raises(modelzoo.errors.DataNotFoundError, match="https://example.com/cats.zip is a URL"):
        modelzoo.load_files("https://example.com/cats.zip")
    (tmp_path / "blocker").write_text("a file")
    blocked = cli_here("train", "mlp_digits", "--export-dir", "blocker/models", cwd=tmp_path)
    one_line_exit_2(blocked, "blocker is a file, not a folder")
    assert not (tmp_path / "runs").exists(), "refused before a run folder or an epoch"


def test_api_errors_are_modelzoo_errors(tmp_path):
    model = modelzoo.build("mlp_digits")
    modelzoo.export(model, export_dir=tmp_path, version=1)
    with pytest.raises(modelzoo.ModelZooError, match="already exists; pick another version"):
        modelzoo.export(model, export_dir=tmp_path, version=1)
    from modelzoo import serving

    with pytest.raises(modelzoo.ModelZooError, match="same number of examples"):
        serving.rest_payload({"a": [1, 2], "b": [1]})
    with pytest.raises(modelzoo.ModelZooError, match="answered with an error: no such model"):
        serving.parse_response({"error": "no such model"})


def test_long_class_names_are_turned_on_the_confusion_matrix():
    from modelzoo.evaluation import Report, confusion_figure

    names = ("T-shirt/top", "Trouser", "Ankle boot")
    report = Report(name="m", split="test", examples=3, class_names=names, metrics={}, regression=None,
                    mistakes=(), predictions=None, per_class={}, averages={},
                    confusion_matrix=np.eye(3, dtype=int).tolist(), binary=None)  # fmt: skip
    (ax,) = confusion_figure(report).axes
    assert {label.get_rotation() for label in ax.get_xticklabels()} == {45.0}
