"""Your own data: image folders, tables and text files, inferred, trained on, exported and served
with the user's class names; and one clear error for each bad input, before anything is written."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import blob_images, sentiment_corpus
from helpers import serve
from PIL import Image
from test_cli import run_cli
from test_export import png

import modelzoo
from modelzoo import registry
from modelzoo.errors import DataFormatError, DataNotFoundError, InvalidValueError, UnknownNameError

ANIMALS = ("cat", "dog", "owl")


def write_images(
    root: Path, n: int = 240, shape=(16, 16), split_folders: bool = False, seed: int = 0
) -> Path:
    """`root/<animal>/<i>.png` (or `root/{train,test}/<animal>/...`): the class is where the bright
    square sits, so a small CNN learns it in a few epochs."""
    x, y = blob_images(n, shape, classes=len(ANIMALS), seed=seed)
    for i, (image, label) in enumerate(zip(x, y)):
        split = ("test" if i % 5 == 0 else "train") if split_folders else ""
        folder = root / split / ANIMALS[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    return root


def customers(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Churn decided by age and city together (a string column matters), an id column to leave
    out, a noise column and a few missing values."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(float)
    city = rng.choice(["Paris", "Rome", "Oslo"], n)
    churned = (age > 50) ^ (city == "Rome")
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:04d}" for i in range(n)],
            "age": age,
            "city": city,
            "noise": rng.normal(size=n),
            "status": np.where(churned, "churned", "stayed"),
        }
    )
    frame.loc[[3, 7], "age"] = np.nan
    return frame


def train_and_export(tmp_path_factory, path: Path, architecture: str, epochs: int, **options):
    """load_files -> build -> fit -> export: the data, the trained model and its version folder."""
    data = modelzoo.load_files(path, **options)
    model = modelzoo.build(architecture, data=data, epochs=epochs)
    modelzoo.fit(model, verbose=0)
    return data, model, modelzoo.export(model, export_dir=tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A CNN trained on a class-folder tree of PNGs, and its export."""
    return train_and_export(
        tmp_path_factory, write_images(tmp_path_factory.mktemp("own") / "animals"), "cnn", 8
    )


def test_image_folder_infers_classes_shape_and_a_stratified_split(image_run):
    data, model, _ = image_run
    assert data.info.class_names == ANIMALS and data.info.input_shape == (16, 16, 1)
    assert data.info.splits == {"train": 173, "validation": 19, "test": 48}
    shares = data.report["classes"]
    for split in ("train", "test"):
        counts = np.array(list(shares[split].values()))
        assert counts.min() / counts.sum() > 0.25, "every class in every split (stratified)"
    assert model.name == "cnn_animals" and modelzoo.describe(model).class_names == ANIMALS
    assert modelzoo.evaluate(model)["accuracy"] >= 0.9


def test_image_export_answers_with_the_users_class_names(image_run):
    data, model, export = image_run
    pixels = data.examples("test", 4)["pixels"]
    keras_probabilities = np.asarray(model.predict(pixels, verbose=0))
    rows = serve(export, {"instances": pixels.tolist()})["predictions"]
    served = np.array([row["probabilities"] for row in rows])
    softmax = np.exp(keras_probabilities) / np.exp(keras_probabilities).sum(axis=1, keepdims=True)
    assert np.abs(served - softmax).max() <= 1e-5
    assert [row["labels"] for row in rows] == [ANIMALS[i] for i in softmax.argmax(axis=1)]
    encoded = [{"b64": base64.b64encode(png(x.astype(np.uint8))).decode()} for x in pixels]
    by_bytes = serve(export, {"signature_name": "serving_bytes", "instances": encoded})["predictions"]
    assert [row["labels"] for row in by_bytes] == [row["labels"] for row in rows]
    card = json.loads((export / "assets.extra" / "model_card.json").read_text())
    assert card["class_names"] == list(ANIMALS) and card["data"]["examples"]["test"] == 48


def test_entry_on_user_images_keeps_its_hyperparameters_and_input_size(tmp_path):
    root = write_images(tmp_path / "animals", n=90, shape=(20, 20))
    model = modelzoo.build("cnn_mnist", data=modelzoo.load_files(root))
    spec = modelzoo.describe(model)
    assert spec.name == "cnn_mnist_animals" and spec.class_names == ANIMALS
    assert spec.inputs[0].shape == (None, 28, 28, 1), "the entry's input size, the data's channels"
    assert spec.recipe.name == "classifier_cosine" and spec.outputs[0].shape == (None, 3)
    assert spec.target is None, "the entry's target is for MNIST, not this data"


def test_given_split_folders_are_kept_and_a_class_unseen_in_train_is_refused(tmp_path):
    root = write_images(tmp_path / "split", n=100, split_folders=True)
    data = modelzoo.load_files(root)
    assert data.report["layout"] == "split folders" and data.info.splits["test"] == 20
    assert all(i.startswith("test/") for i in data.splits["test"].ids)
    (root / "test" / "zebra").mkdir()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "test" / "zebra" / "z.png")
    with pytest.raises(DataFormatError, match="class 'zebra' is in the test split but never in train"):
        modelzoo.load_files(root)


def test_corrupt_images_are_skipped_and_listed_then_refused_above_the_share(tmp_path):
    root = write_images(tmp_path / "animals", n=100)
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    data = modelzoo.load_files(root)
    assert [s["file"] for s in data.report["skipped"]] == ["cat/broken.png"]
    assert sum(data.info.splits.values()) == 100
    for i in range(10):
        (root / "dog" / f"bad{i}.jpg").write_bytes(b"nonsense")
    with pytest.raises(
        DataFormatError, match=r"11 of 111 images are unreadable or unsupported \(more than 5%\)"
    ):
        modelzoo.load_files(root)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda r: None, DataNotFoundError, "does not exist"),
        (lambda r: r.mkdir(), DataNotFoundError, "holds no images"),
        (lambda r: write_images(r, n=30, shape=(8, 8), seed=1) and shutil.rmtree(r / "dog")
         or shutil.rmtree(r / "owl"), DataFormatError, "at least two classes, found only 'cat'"),
        (lambda r: write_images(r, n=30, shape=(8, 8)) and (r / "empty").mkdir(), DataFormatError,
         "Class folder .*empty has no"),
        (lambda r: write_images(r, n=30, shape=(8, 8)) and (r / "cat" / "notes.txt").write_text("hi"),
         DataFormatError, "mixes 30 images and 1 .txt files"),
        (lambda r: write_images(r, n=30, shape=(8, 8)) and write_images(r / "train", n=30, shape=(8, 8)),
         DataFormatError, "mixes split folders"),
    ],
)  # fmt: skip
def test_bad_image_folders_get_one_clear_error(tmp_path, make, error, message):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(error, match=message):
        modelzoo.load_files(root)


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("own") / "customers.csv"
    customers().to_csv(path, index=False)
    return train_and_export(tmp_path_factory, path, "mlp", 30, target="status")


def test_table_columns_are_inferred_with_reasons(table_run):
    data, model, _ = table_run
    assert [(c.name, c.kind) for c in data.info.columns] == [("age", "numeric"), ("city", "string"),
                                                              ("noise", "numeric")]  # fmt: skip
    assert data.report["dropped_columns"] == [
        {"name": "customer_id", "why": "a different string in every row (an id)"}
    ]
    assert any("'age': 2 missing values set to the train median" in n for n in data.report["notes"])
    assert data.info.class_names == ("churned", "stayed") and data.info.task == "tabular_classification"
    assert [s.name for s in modelzoo.describe(model).inputs] == ["age", "city", "noise"]
    assert modelzoo.evaluate(model)["accuracy"] >= 0.9, "learns age x city: the string column is used"


def test_table_export_takes_one_input_per_column_and_tf_examples(table_run):
    data, model, export = table_run
    rows = [{"age": 41, "city": "Paris", "noise": 0.5}, {"age": 70.0, "city": "Rome", "noise": -1.0},
            {"age": 30, "city": "Atlantis", "noise": 0.0}]  # fmt: skip
    columns = {
        k: np.array([r[k] for r in rows], dtype=object if k == "city" else np.float32) for k in rows[0]
    }
    expected = np.asarray(model.predict(columns, verbose=0)).reshape(-1)
    predicted = serve(export, {"instances": rows})["predictions"]
    assert np.abs(np.array([p["probabilities"][1] for p in predicted]) - expected).max() <= 1e-5
    labels = [p["labels"] for p in predicted]
    assert set(labels) <= {"churned", "stayed"} and labels[:2] == ["stayed", "stayed"]
    # :classify builds tf.Examples from JSON as the server does: 41 is an int64_list, 70.0 a float_list
    classified = serve(export, {"signature_name": "classify", "examples": rows}, method="classify")
    scores = np.array([[score for _, score in result] for result in classified["results"]])
    assert [[c for c, _ in result] for result in classified["results"]] == [["churned", "stayed"]] * 3
    assert np.abs(scores[:, 1] - expected).max() <= 1e-5
    missing = serve(
        export, {"signature_name": "classify", "examples": [{"city": "Paris"}]}, method="classify"
    )
    fill = {c.name: c.fill for c in data.info.columns}
    assert fill["age"] == float(np.median(data.splits["train"].features["age"]))
    with_fill = model.predict({"age": np.array([fill["age"]]), "city": np.array(["Paris"], dtype=object),
                               "noise": np.array([fill["noise"]])}, verbose=0)  # fmt: skip
    assert abs(missing["results"][0][1][1] - float(np.asarray(with_fill).reshape(-1)[0])) <= 1e-5


def test_regression_table_gets_a_regress_signature(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    frame = pd.DataFrame(
        {"rooms": x[:, 0] * 2 + 5, "area": x[:, 1] * 30 + 90, "price": 3 * x[:, 0] - 2 * x[:, 1] + 10}
    )
    frame.to_csv(tmp_path / "houses.csv", index=False)
    data = modelzoo.load_files(tmp_path / "houses.csv", target="price")
    assert data.info.task == "tabular_regression" and data.info.class_names == ()
    model = modelzoo.build("linear", data=data, epochs=60)
    modelzoo.fit(model, verbose=0)
    assert modelzoo.evaluate(model)["mae"] < 0.5
    export = modelzoo.export(model, export_dir=tmp_path / "export")
    rows = [{"rooms": 5.0, "area": 90}, {"rooms": 7.5, "area": 60.0}]
    results = serve(export, {"signature_name": "regress", "examples": rows}, method="regress")["results"]
    columns = {k: np.array([r[k] for r in rows], np.float32) for k in rows[0]}
    assert np.abs(np.array(results) - np.asarray(model.predict(columns, verbose=0)).reshape(-1)).max() <= 1e-4


@pytest.mark.parametrize(
    "text, options, error, message",
    [
        ("a,b,status\n1,2,x\n3,4,y\n", {"target": "stauts"}, UnknownNameError, "Did you mean 'status'"),
        ("a,b,status\n1,2,x\n3,4\n", {"target": "status"}, DataFormatError,
         r"customers.csv:3: 2 fields where the header has 3"),
        ("a,status\n" + "".join(f"{i},x\n" for i in range(30)), {"target": "status"}, DataFormatError,
         "at least two classes, found only 'x'"),
        ("a,b,status\n", {"target": "status"}, DataFormatError, "has a header but no rows"),
        ("", {"target": "status"}, DataFormatError, "is empty"),
        ("a,b,c\n1,2,3\n", {}, InvalidValueError, "which column is the label"),
    ],
)  # fmt: skip
def test_bad_tables_get_one_clear_error(tmp_path, text, options, error, message):
    path = tmp_path / "customers.csv"
    path.write_text(text)
    with pytest.raises(error, match=message):
        modelzoo.load_files(path, **options)


def write_reviews(path: Path, n: int, seed: int) -> None:
    texts, labels = sentiment_corpus(n, seed)
    pd.DataFrame({"review": texts, "sentiment": ["positive" if y else "negative" for y in labels]}).to_csv(
        path, sep="\t", index=False
    )


def test_text_file_trains_and_serves_raw_strings_with_label_names(tmp_path):
    write_reviews(tmp_path / "reviews.tsv", 500, 1)
    data = modelzoo.load_files(tmp_path / "reviews.tsv")
    assert data.kind == "text" and data.report["text_column"] == "review"
    assert data.info.class_names == ("negative", "positive")
    model = modelzoo.build("rnn", data=data, epochs=4)
    modelzoo.fit(model, verbose=0)
    assert modelzoo.evaluate(model)["accuracy"] >= 0.85
    export = modelzoo.export(model, export_dir=tmp_path / "export")
    texts = ["a wonderful and moving story", "dull tedious plot"]
    predicted = serve(export, {"instances": texts})["predictions"]
    assert [p["labels"] for p in predicted] == ["positive", "negative"]


def test_text_folders_decode_non_utf8_with_a_count(tmp_path):
    texts, labels = sentiment_corpus(60, 2)
    for i, (text, label) in enumerate(zip(texts, labels)):
        folder = tmp_path / "reviews" / ("pos" if label else "neg")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text)
    (tmp_path / "reviews" / "pos" / "latin1.txt").write_bytes("un film très réussi".encode("latin-1"))
    data = modelzoo.load_files(tmp_path / "reviews")
    assert data.kind == "text" and data.info.class_names == ("neg", "pos")
    assert any(n.startswith("1 files were not UTF-8; decoded with replacement") for n in data.report["notes"])


def test_identical_examples_across_splits_are_reported_and_can_be_dropped(tmp_path):
    frame = customers(200)
    pd.concat([frame, frame.iloc[:40]]).to_csv(tmp_path / "customers.csv", index=False)
    kept = modelzoo.load_files(tmp_path / "customers.csv", target="status")
    duplicates = kept.report["duplicates"]
    repeated = duplicates["validation_in_earlier_splits"] + duplicates["test_in_earlier_splits"]
    assert repeated > 0 and duplicates["dropped"] is False
    dropped = modelzoo.load_files(tmp_path / "customers.csv", target="status", drop_duplicates=True)
    assert sum(dropped.info.splits.values()) == sum(kept.info.splits.values()) - repeated
    train_keys = set(dropped.splits["train"].keys)
    assert not train_keys & set(dropped.splits["test"].keys)


def test_wrong_kind_of_data_for_an_architecture_is_refused(tmp_path):
    write_reviews(tmp_path / "reviews.tsv", 40, 0)
    text_architectures = ", ".join(registry.architectures_for("text"))
    assert {"bag", "bert", "rnn", "transformer"} <= set(text_architectures.split(", "))
    match = f"cnn takes image data; .* is text data. Architectures for it: {text_architectures}"
    with pytest.raises(InvalidValueError, match=match):
        modelzoo.build("cnn", data=modelzoo.load_files(tmp_path / "reviews.tsv"))
    with pytest.raises(InvalidValueError, match="'cnn' is an architecture with no dataset of its own"):
        modelzoo.build("cnn")


def test_cli_trains_on_a_table_and_keeps_the_report_and_split_assignment(tmp_path):
    customers().to_csv(tmp_path / "customers.csv", index=False)
    result = run_cli("train", "mlp", "--data", "customers.csv", "--target", "status", "--epochs", "3",
                     "--export-dir", "saved_models", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "column 'customer_id' left out: a different string in every row (an id)" in result.stdout
    (run_dir,) = (tmp_path / "runs" / "mlp_customers").iterdir()
    report = json.loads((run_dir / "data_report.json").read_text())
    splits = json.loads((run_dir / "splits.json").read_text())
    assert report["examples"] == {s: len(splits[s]) for s in ("train", "validation", "test")}
    assert sorted(splits["train"] + splits["validation"] + splits["test"]) == sorted(
        f"customers.csv:{row}" for row in range(2, 402)
    )
    assert json.loads((run_dir / "config.json").read_text())["dataset"]["class_names"] == [
        "churned",
        "stayed",
    ]
    assert (tmp_path / "saved_models" / "mlp_customers" / "1" / "saved_model.pb").is_file()
    again = run_cli("evaluate", "mlp_customers", "--checkpoint", str(run_dir), cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    test_line = next(line for line in result.stdout.splitlines() if line.startswith("Test: "))
    assert again.stdout.splitlines()[0].split(": ", 1)[1] == test_line.split(": ", 1)[1], (
        "same data, same split"
    )


def test_cli_bad_data_is_one_line_exit_2_and_no_run_folder(tmp_path, cli_here):
    (tmp_path / "customers.csv").write_text("a,b,status\n1,2,x\n3,4,y\n")
    result = cli_here("train", "mlp", "--data", "customers.csv", "--target", "stauts", cwd=tmp_path)
    assert result.returncode == 2 and "Did you mean 'status'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


def test_init_from_copies_what_fits_and_freeze_epochs_trains_the_new_head_first(image_run, tmp_path):
    _, source, _ = image_run
    source_file = tmp_path / "animals.keras"
    source.save(source_file)
    root = write_images(tmp_path / "pets", n=120, seed=3)
    shutil.rmtree(root / "owl")
    data = modelzoo.load_files(root)
    model = modelzoo.build("cnn", data=data, init_from=source_file, epochs=4, freeze_epochs=2)
    assert model.modelzoo.copied == ("conv_0", "conv_1"), "the 3-class head does not fit 2 classes"
    for name in ("conv_0", "conv_1"):
        for new, old in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(new, old)
    assert modelzoo.describe(model).weights.startswith(f"from {source_file} (2 layers: conv_0, conv_1)")
    before = model.get_layer("conv_0").get_weights()[0].copy()
    history = modelzoo.fit(model, verbose=0, run_dir=tmp_path / "run")
    assert len(history.history["loss"]) == 4 and history.epoch == [0, 1, 2, 3]
    assert json.loads((tmp_path / "run" / "history.json").read_text())["epoch"] == [1, 2, 3, 4]
    assert not np.array_equal(model.get_layer("conv_0").get_weights()[0], before), "unfrozen after 2 epochs"
    assert modelzoo.evaluate(model)["accuracy"] >= 0.9


def test_init_from_a_text_model_takes_its_vocabulary(tmp_path):
    write_reviews(tmp_path / "first.tsv", 200, 1)
    first = modelzoo.build("rnn", data=modelzoo.load_files(tmp_path / "first.tsv"), max_tokens=200)
    first.save(tmp_path / "first.keras")
    write_reviews(tmp_path / "second.tsv", 100, 2)
    second = modelzoo.build(
        "rnn",
        data=modelzoo.load_files(tmp_path / "second.tsv"),
        max_tokens=200,
        init_from=tmp_path / "first.keras",
    )
    assert "vectorize" in second.modelzoo.copied and "embed" in second.modelzoo.copied
    vocabulary = second.get_layer("vectorize").get_vocabulary()
    assert vocabulary == first.get_layer("vectorize").get_vocabulary()
    customers(100).to_csv(tmp_path / "customers.csv", index=False)
    table = modelzoo.load_files(tmp_path / "customers.csv", target="status")
    with pytest.raises(InvalidValueError, match="No layer of .*first.keras fits mlp_customers"):
        modelzoo.build("mlp", data=table, hidden_units=32, init_from=tmp_path / "first.keras")


def test_a_class_whose_files_are_all_unreadable_is_refused(tmp_path):
    root = write_images(tmp_path / "animals", n=300)
    for path in (root / "owl").iterdir():
        path.unlink()
    (root / "owl" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataFormatError, match="Class folder .*owl has no readable image"):
        modelzoo.load_files(root)


def test_split_files_with_other_header_names_are_read_by_position(tmp_path):
    write_reviews(tmp_path / "train.tsv", 120, 1)
    texts, labels = sentiment_corpus(40, 2)
    dev = pd.DataFrame({"content": texts, "label": ["positive" if y else "negative" for y in labels]})
    dev.to_csv(tmp_path / "dev.tsv", sep="\t", index=False)
    data = modelzoo.load_files(tmp_path, target="sentiment")
    assert data.info.splits["test"] == 40, "dev is the test split when there is no test file (GLUE)"
    assert (
        "the test file's columns ['content', 'label'] were read as train's ['review', 'sentiment']"
        in (data.report["notes"])
    )


def test_column_names_with_spaces_become_valid_input_names(tmp_path):
    frame = customers(120).rename(columns={"age": "age (years)", "city": "home city"})
    frame.to_csv(tmp_path / "customers.csv", index=False)
    data = modelzoo.load_files(tmp_path / "customers.csv", target="status")
    assert [c.name for c in data.info.columns] == ["age__years_", "home_city", "noise"]
    renamed = (
        "2 columns renamed to valid input names: 'age (years)' -> 'age__years_', 'home city' -> 'home_city'"
    )
    assert renamed in data.report["notes"]
    model = modelzoo.build("mlp", data=data, epochs=1)
    path = modelzoo.export(model, export_dir=tmp_path / "export")
    row = {"age__years_": 41, "home_city": "Paris", "noise": 0.0}
    assert serve(path, {"instances": [row]})["predictions"][0]["labels"] in ("churned", "stayed")


def test_a_model_of_user_data_never_takes_an_entrys_name(tmp_path):
    write_images(tmp_path / "digits", n=60, shape=(8, 8))
    model = modelzoo.build("cnn", data=modelzoo.load_files(tmp_path / "digits"))
    assert model.name == "cnn_digits_files" and modelzoo.describe(model).name == "cnn_digits_files"


def write_colour_photos(root: Path, side: int, n: int = 20) -> Path:
    x, y = blob_images(n, (side, side), classes=2)
    for i, (image, label) in enumerate(zip(x, y)):
        folder = root / ANIMALS[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.stack([image, image // 2, 255 - image], axis=-1)).save(folder / f"{i}.png")
    return root


def test_cnn_on_colour_photos_is_the_photo_network_unless_told_otherwise(tmp_path):
    photos = modelzoo.load_files(write_colour_photos(tmp_path / "photos", 32))
    model = modelzoo.build("cnn", data=photos)
    settings = registry.get_entry("cnn").photos
    assert {k: model.modelzoo.hyperparameters[k] for k in ("blocks", "convs", "batch_norm")} == {
        "blocks": 4, "convs": 2, "batch_norm": True
    } == {k: settings[k] for k in ("blocks", "convs", "batch_norm")}  # fmt: skip
    assert (model.modelzoo.recipe.epochs, model.modelzoo.recipe.patience) == (100, 20)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    told = modelzoo.build("cnn", data=photos, blocks=2, batch_norm=False, epochs=3)
    assert told.modelzoo.hyperparameters["blocks"] == 2 and told.modelzoo.recipe.epochs == 3
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in told.layers)
    small = modelzoo.load_files(write_colour_photos(tmp_path / "small", 16))  # too small for 4 halvings
    grey = modelzoo.load_files(write_images(tmp_path / "scans", n=20, shape=(32, 32)))
    for data in (small, grey):
        plain = modelzoo.build("cnn", data=data)
        assert plain.modelzoo.hyperparameters["blocks"] == 2 and plain.modelzoo.recipe.epochs == 60
    assert modelzoo.build("cnn_mnist", data=photos).modelzoo.hyperparameters["blocks"] == 2
    assert "on photos" in str(modelzoo.describe("cnn"))
    assert "on photos" not in str(modelzoo.describe("cnn_mnist"))


def test_colour_photos_train_with_augmentation_that_predict_and_serving_never_see(tmp_path):
    data = modelzoo.load_files(write_colour_photos(tmp_path / "photos", 16, n=60))
    model = modelzoo.build("cnn", data=data, epochs=1)
    augmented = [layer.name for layer in model.layers if layer.name.startswith("augment_")]
    assert augmented == ["augment_flip", "augment_rotation", "augment_zoom", "augment_translation"]
    pixels = data.examples("test", 4)["pixels"]
    np.testing.assert_array_equal(model.predict(pixels, verbose=0), model.predict(pixels, verbose=0))
    assert not np.allclose(model(pixels, training=True), model(pixels, training=False))

    modelzoo.fit(model, verbose=0)
    export = modelzoo.export(model, export_dir=tmp_path / "sm")
    rows = serve(export, {"instances": pixels.tolist()})["predictions"]
    expected = model.predict(pixels, verbose=0)[:, 0]  # two classes: one sigmoid unit
    np.testing.assert_allclose([r["probabilities"][1] for r in rows], expected, atol=1e-5)
    card = json.loads((export / "assets.extra" / "model_card.json").read_text())
    assert card["augmentation"] == ["flip", "rotation", "zoom", "translation"]

    plain = modelzoo.build("cnn", data=data, augment="none")
    assert not [layer for layer in plain.layers if layer.name.startswith("augment_")]
    assert plain.count_params() == model.count_params(), "the transforms have no weights"
    assert not [layer for layer in modelzoo.build("cnn_mnist").layers if layer.name.startswith("augment_")]
    with pytest.raises(UnknownNameError, match=r"Unknown augmentation 'blur'"):
        modelzoo.build("cnn", data=data, augment="flip,blur")


def test_a_run_on_a_relative_data_path_loads_from_any_folder(tmp_path, monkeypatch):
    """`--data customers.csv` names a file in the folder it was run from: the run folder keeps
    where that was, so its checkpoint loads, with its data read again, from anywhere else."""
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    customers(120).to_csv("customers.csv", index=False)
    model = modelzoo.build("mlp", data=modelzoo.load_files("customers.csv", target="status"), epochs=1)
    modelzoo.fit(model, run_dir="run", verbose=0)
    monkeypatch.chdir(tmp_path)
    loaded = modelzoo.load_checkpoint("project/run")
    assert loaded.modelzoo.data.path.resolve() == (tmp_path / "project" / "customers.csv").resolve()
    assert loaded.modelzoo.info == model.modelzoo.info
    assert list(loaded.modelzoo.data.splits["test"].ids) == list(model.modelzoo.data.splits["test"].ids)


def test_a_project_moved_whole_still_finds_its_relative_data(tmp_path, monkeypatch):
    """The resolved path is gone after the move; the path as given, from the new place, is not."""
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    customers(120).to_csv("customers.csv", index=False)
    model = modelzoo.build("mlp", data=modelzoo.load_files("customers.csv", target="status"), epochs=1)
    modelzoo.fit(model, run_dir="run", verbose=0)
    monkeypatch.chdir(tmp_path)
    shutil.move("project", "moved")
    monkeypatch.chdir(tmp_path / "moved")
    loaded = modelzoo.load_checkpoint("run")
    assert loaded.modelzoo.data.path.resolve() == (tmp_path / "moved" / "customers.csv").resolve()
