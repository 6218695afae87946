"""The evaluation report: scikit-learn's numbers on the model's own predictions, for a multi-class, a
binary, a regression and a text entry and a user's table, written as the files a person opens."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics

import modelzoo
from modelzoo.evaluation import Report, classification_scores


def test_scores_are_the_ones_worked_out_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    scores = classification_scores(labels, predicted, ("cat", "dog", "owl"))
    assert scores["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    cat, dog, owl = (scores["per_class"][k] for k in ("cat", "dog", "owl"))
    assert (cat["precision"], cat["recall"], cat["support"]) == (0.5, 0.5, 2)
    assert dog["precision"] == pytest.approx(2 / 3) and dog["recall"] == 1.0
    assert owl["precision"] == 1.0 and owl["recall"] == 0.5 and owl["f1-score"] == pytest.approx(2 / 3)
    assert scores["binary"] is None

    positive = np.array([0.1, 0.6, 0.4, 0.8])
    binary = classification_scores(
        np.array([0, 0, 1, 1]), np.stack([1 - positive, positive], 1), ("no", "yes")
    )
    assert binary["binary"]["roc_auc"] == pytest.approx(
        0.75
    )  # 3 of the 4 (positive, negative) pairs in order
    assert binary["binary"]["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert binary["binary"]["positive"] == "yes" and binary["binary"]["threshold"] == 0.5
    one_class = classification_scores(np.array([1, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]), ("no", "yes"))
    assert one_class["binary"]["roc_auc"] is None and one_class["per_class"]["yes"]["recall"] == 0.5


def test_multi_class_report_equals_scikit_learn_on_the_models_predictions(tmp_path):
    model = modelzoo.build("mlp_digits", epochs=2)
    modelzoo.fit(model, verbose=0)
    report = modelzoo.evaluate(model, report=True)
    assert isinstance(report, Report) and report.split == "test" and report.examples == 359

    batches = list(modelzoo.load_dataset("digits", "test", batch_size=64))
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(y, predicted, labels=range(10))
    np.testing.assert_allclose([report.per_class[str(d)]["precision"] for d in range(10)], precision)
    np.testing.assert_allclose([report.per_class[str(d)]["recall"] for d in range(10)], recall)
    np.testing.assert_allclose([report.per_class[str(d)]["f1-score"] for d in range(10)], f1)
    assert [report.per_class[str(d)]["support"] for d in range(10)] == support.tolist()
    assert report.averages["macro avg"]["f1-score"] == pytest.approx(
        metrics.f1_score(y, predicted, average="macro")
    )
    assert report.confusion_matrix == metrics.confusion_matrix(y, predicted).tolist()
    assert report.accuracy == pytest.approx(report.metrics["accuracy"], abs=1e-6)  # Keras agrees

    wrong = np.flatnonzero(predicted != y)
    assert len(report.mistakes) == min(16, len(wrong))
    assert all(m.true != m.predicted and m.index in wrong for m in report.mistakes)
    assert [m.score for m in report.mistakes] == sorted((m.score for m in report.mistakes), reverse=True)
    mistake = report.mistakes[0]
    np.testing.assert_array_equal(mistake.example, x[mistake.index])
    assert mistake.true == str(y[mistake.index])

    written = report.write(tmp_path)
    assert sorted(p.name for p in written) == ["confusion_matrix.png", "evaluation.json", "mistakes.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written if p.suffix == ".png")
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert (
        saved["class_names"] == [str(d) for d in range(10)] and saved["mistakes"][0]["true"] == mistake.true
    )
    again = Report.from_dict(saved)
    assert again.summary()["macro_f1"] == report.summary()["macro_f1"] and again.table() == report.table()
    assert report.table().splitlines()[1].split() == ["class", "precision", "recall", "f1", "support"]


def test_binary_report_has_auc_threshold_and_the_rows_it_got_wrong(tmp_path):
    model = modelzoo.build("mlp_breast_cancer", epochs=3)
    modelzoo.fit(model, verbose=0)
    report = modelzoo.evaluate(model, report=True)
    batches = list(modelzoo.load_dataset("breast_cancer", "test", batch_size=64))
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches]).reshape(-1)
    positive = model.predict(x, verbose=0)[:, 0]
    assert report.binary["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, positive), abs=1e-6)
    assert report.binary["pr_auc"] == pytest.approx(metrics.average_precision_score(y, positive), abs=1e-6)
    assert set(report.per_class) == {"malignant", "benign"} and report.binary["positive"] == "benign"
    assert "ROC-AUC=" in report.table() and "malignant" in report.table()
    for m in report.mistakes:
        assert m.true != m.predicted and m.score >= 0.5
        np.testing.assert_allclose(m.example["features"], x[m.index], rtol=1e-6)
    written = report.write(tmp_path)
    assert sorted(p.name for p in written) == ["confusion_matrix.png", "evaluation.json", "mistakes.json"]


def test_regression_report_equals_scikit_learn_and_plots_predicted_against_true(tmp_path):
    model = modelzoo.build("linear_diabetes", epochs=5)
    modelzoo.fit(model, verbose=0)
    report = modelzoo.evaluate(model, report=True, split="validation")
    batches = list(modelzoo.load_dataset("diabetes", "validation", batch_size=64))
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches]).reshape(-1)
    predicted = model.predict(x, verbose=0)[:, 0]
    assert report.regression["mae"] == pytest.approx(metrics.mean_absolute_error(y, predicted), rel=1e-5)
    assert report.regression["r2"] == pytest.approx(metrics.r2_score(y, predicted), rel=1e-5, abs=1e-6)
    errors = np.sort(np.abs(y - predicted))[::-1][:16]
    np.testing.assert_allclose([m.score for m in report.mistakes], errors, rtol=1e-5)
    assert "mae=" in report.table() and report.class_names == ()
    written = report.write(tmp_path)
    assert sorted(p.name for p in written) == [
        "evaluation-validation.json",
        "predicted_vs_true-validation.png",
    ]


def test_text_mistakes_are_the_sentences(sst2_dir, tmp_path):
    model = modelzoo.build("rnn_sst2", data_dir=sst2_dir, epochs=1)
    modelzoo.fit(model, data_dir=sst2_dir, verbose=0)
    report = modelzoo.evaluate(model, data_dir=sst2_dir, report=True)
    dev = (sst2_dir / "sst2" / "dev.tsv").read_text().splitlines()[1:]
    sentences = {line.split("\t", 1)[1]: line.split("\t", 1)[0] for line in dev}
    assert report.examples == 200 and report.mistakes, "one epoch on 600 phrases leaves mistakes"
    for m in report.mistakes:  # served sorted by length, reported by their row in dev.tsv
        assert sentences[m.example] == str(["negative", "positive"].index(m.true)) and m.predicted != m.true
        assert dev[m.index].split("\t", 1)[1] == m.example
    report.write(tmp_path)
    saved = json.loads((tmp_path / "mistakes.json").read_text())
    assert saved[0]["example"] == report.mistakes[0].example


def test_a_users_table_reports_mistakes_as_rows_with_its_columns(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    size = rng.normal(size=n)
    colour = rng.choice(["red", "green"], size=n)
    kind = np.where(size + (colour == "red") + rng.normal(scale=0.8, size=n) > 0.5, "big", "small")
    lines = ["size,colour,kind", *(f"{s:.3f},{c},{k}" for s, c, k in zip(size, colour, kind))]
    (tmp_path / "things.csv").write_text("\n".join(lines) + "\n")
    data = modelzoo.load_files(tmp_path / "things.csv", target="kind")
    model = modelzoo.build("mlp", data=data, epochs=3)
    modelzoo.fit(model, data=data, verbose=0)
    report = modelzoo.evaluate(model, report=True)
    assert set(report.per_class) == {"big", "small"} and report.mistakes
    row = report.mistakes[0].example
    assert set(row) == {"size", "colour"} and row["colour"] in ("red", "green")
    assert isinstance(row["size"], float) and len(str(row["size"])) < 10  # as written, not float32 noise
