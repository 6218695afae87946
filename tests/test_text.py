"""Text entries: raw strings in, the tokenizer inside the model, learning on a corpus the test writes."""

from __future__ import annotations

import json
import tarfile
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import sentiment_corpus, write_acl_imdb

import modelzoo
from modelzoo.export import graph_ops
from modelzoo.training import split_of
from modelzoo.zoo import load_keras

TEXT_ENTRIES = modelzoo.list_models(task="text_classification")


def strings(values) -> np.ndarray:
    return np.array(values, dtype=object)


@pytest.mark.parametrize("name", ["rnn_sst2", "gru_sst2", "transformer_sst2"])
def test_text_entry_learns_sentiment_from_raw_strings(name, sst2_dir):
    model = modelzoo.build(name, data_dir=sst2_dir, epochs=6)
    modelzoo.fit(model, data_dir=sst2_dir, verbose=0)
    assert modelzoo.evaluate(model, data_dir=sst2_dir)["accuracy"] >= 0.80
    tricky = strings(["", "dull " * 5000, "a gripping and moving film", "the dull and tedious plot"])
    probabilities = model.predict(tricky, verbose=0)
    assert probabilities.shape == (4, 1) and np.isfinite(probabilities).all()
    assert probabilities[2, 0] > 0.5 > probabilities[3, 0]


@pytest.mark.parametrize("name", ["transformer_sst2", "bert_sst2"])
def test_text_entry_keras_file_goes_on_training_where_it_stopped(name, tmp_path):
    """transformer_sst2's LazyAdam and BERT's AdamW (keras-hub's tasks override compile(), which
    Keras then skips on load) come back with their schedules and moments."""
    texts, labels = sentiment_corpus(200, seed=3)
    model = modelzoo.build(name, adapt_data=tf.data.Dataset.from_tensor_slices(texts).batch(64))
    model.fit(strings(texts[:16]), np.array(labels[:16]), batch_size=16, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations) == 1
    for kept, trained in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(kept), np.asarray(trained))


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_text_entry_predicts_on_lists_string_arrays_and_empty_batches(name):
    texts, _ = sentiment_corpus(60, seed=4)
    model = modelzoo.build(name, adapt_data=tf.data.Dataset.from_tensor_slices(texts).batch(64))
    expected = np.asarray(model.predict(strings(texts[:3]), verbose=0))
    for given in (texts[:3], np.array(texts[:3])):  # a list, a <U... array
        np.testing.assert_allclose(np.asarray(model.predict(given, verbose=0)), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(tuple(texts[:3]), verbose=0), expected, atol=1e-6)
    assert model.predict(strings([]), verbose=0).shape == (0, *expected.shape[1:])


def token_ids(model: keras.Model, texts: np.ndarray) -> np.ndarray:
    """The token ids a text model computes on for `texts`: its preprocessor's (BERT), else its
    in-model vectorizer's, after the padding is trimmed."""
    if getattr(model, "preprocessor", None) is not None:
        return np.asarray(model.preprocessor(tf.constant(texts))["token_ids"])
    ids = next(
        model.get_layer(n) for n in ("trim_padding", "vectorize") if n in [x.name for x in model.layers]
    )
    return np.asarray(keras.Model(model.inputs, ids.output)(tf.constant(texts)))


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_a_batch_padded_to_its_longest_text_predicts_as_one_padded_to_sequence_length(name):
    texts, _ = sentiment_corpus(200, seed=5)
    adapt = tf.data.Dataset.from_tensor_slices(texts).batch(64)
    model = modelzoo.build(name, adapt_data=adapt)
    length = model.modelzoo.hyperparameters["sequence_length"]
    short = strings(["", "dull", *texts[:6]])
    full = np.append(short, " ".join(texts))  # one text beyond sequence_length: the batch pads to it
    longest = token_ids(model, short).shape[1]
    assert longest < length / 2 and token_ids(model, full).shape[1] == length
    assert token_ids(model, strings([""])).shape[1] >= 1
    predicted = model.predict(short, verbose=0)
    np.testing.assert_allclose(predicted, model.predict(full, verbose=0)[:-1], atol=1e-5, rtol=0)
    fixed = modelzoo.build(name, adapt_data=adapt, padding="max_length")  # every batch at sequence_length
    fixed.set_weights(model.get_weights())
    assert token_ids(fixed, short).shape[1] == length
    np.testing.assert_allclose(predicted, fixed.predict(short, verbose=0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["transformer_sst2", "bert_sst2"])
def test_training_batches_are_grouped_by_the_models_own_tokens(name, sst2_dir):
    model = modelzoo.build(name, data_dir=sst2_dir)
    ungrouped = modelzoo.build(name, data_dir=sst2_dir, length_window=1)  # the recipe's field

    def share(model: keras.Model) -> float:
        train = split_of(model.modelzoo, "train", 32, sst2_dir, seed=0, model=model)
        computed = real = 0
        for texts, _ in train:
            ids = token_ids(model, texts.numpy())
            computed, real = computed + ids.size, real + np.count_nonzero(ids)
        assert real == model.token_lengths(np.array([t.numpy() for t, _ in train.unbatch()], object)).sum()
        return computed / real

    grouped = share(model)
    assert grouped < 1.15, "each batch holds texts of about the same number of tokens"
    assert share(ungrouped) > grouped + 0.1, "length_window=1: random batches, each padded to its longest"


@pytest.mark.parametrize("name", ["rnn_sst2", "bert_sst2"])
def test_non_string_batch_is_refused(name, sst2_dir):
    model = modelzoo.build(name, data_dir=sst2_dir)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        model.predict(np.ones((2, 3), np.float32), verbose=0)


def test_tsv_layouts_and_bad_headers(tmp_path):
    (tmp_path / "train.tsv").write_text("label\tcontent\n1\tfine film\n0\tbad film\n")
    (tmp_path / "dev.tsv").write_text("label\tcontent\n1\tgood\n")
    x, y = next(iter(modelzoo.load_dataset("sst2", "test", data_dir=tmp_path)))
    assert x.numpy().tolist() == [b"good"] and y.numpy().tolist() == [1]
    (tmp_path / "train.tsv").write_text("score\tcontent\n1\tfine\n")
    with pytest.raises(modelzoo.DataFormatError, match="needs a 'label' column"):
        modelzoo.load_dataset("sst2", "train", data_dir=tmp_path)


def test_acl_imdb_archive_is_extracted_once_into_the_cache_and_split(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELZOO_CACHE_DIR", str(tmp_path / "cache"))
    source = write_acl_imdb(tmp_path / "build", 100, seed=4)
    data = tmp_path / "data"
    data.mkdir()
    with tarfile.open(data / "aclImdb_train.tar.gz", "w:gz") as tar:
        tar.add(source, arcname="aclImdb")
    sizes = {
        s: sum(len(b[1]) for b in modelzoo.load_dataset("imdb", s, data_dir=data))
        for s in ("train", "validation", "test")
    }
    assert sizes == {"train": 72, "validation": 8, "test": 20}
    assert sorted(p.name for p in (tmp_path / "cache").iterdir())[0].startswith("aclImdb_train-")
    assert sorted(p.name for p in data.iterdir()) == ["aclImdb_train.tar.gz"], (
        "nothing written beside the data"
    )


@pytest.mark.parametrize("name", ["rnn_sst2", pytest.param("bert_sst2", marks=pytest.mark.slow)])
def test_text_export_takes_strings_in_a_tensorflow_only_process(name, sst2_dir, tmp_path):
    from test_export import replay_warmup, saved_model_cli_show, serve, tensor_info

    model = modelzoo.build(name, data_dir=sst2_dir, epochs=3)
    modelzoo.fit(model, data_dir=sst2_dir, verbose=0)
    path = modelzoo.export(model, export_dir=tmp_path, data_dir=sst2_dir)
    texts = ["a superb and charming story", "the plot was tedious", "", "dull " * 2000]
    outputs = model.predict(strings(texts), verbose=0)
    logits = outputs.shape[-1] == 2
    expected = tf.nn.softmax(outputs).numpy()[:, 1] if logits else outputs[:, 0]
    rows = serve(path, {"instances": texts}, text_ops=True)["predictions"]
    np.testing.assert_allclose([r["probabilities"][1] for r in rows], expected, atol=1e-5)
    assert [r["labels"] for r in rows] == [("negative", "positive")[int(p > 0.5)] for p in expected]
    if logits:
        np.testing.assert_allclose([r["logits"] for r in rows], outputs, atol=1e-5)
    columns = serve(path, {"inputs": {"text": texts}}, text_ops=True)["outputs"]
    np.testing.assert_allclose(np.array(columns["probabilities"])[:, 1], expected, atol=1e-5)
    assert replay_warmup(path, name) == {"serving_default"}
    assert tensor_info("inputs", "text", "DT_STRING", "(-1)") in saved_model_cli_show(path)
    assert ("FastWordpieceTokenizeWithOffsets" in graph_ops(path)) == (name == "bert_sst2")
    card = json.loads((path / "assets.extra" / "model_card.json").read_text())
    if name == "bert_sst2":
        assert "FastWordpieceTokenizeWithOffsets" in card["ops_outside_core_tensorflow"]
    else:
        assert card["ops_outside_core_tensorflow"] == []


@pytest.mark.parametrize("name, overrides", [("rnn_imdb", {}), ("bag_imdb", {"max_tokens": 1000})])
def test_tokens_holding_line_breaks_do_not_break_a_saved_model(name, overrides, tmp_path):
    """IMDB's reviews hold U+0085: Keras writes a vocabulary a token a line and reads it back with
    splitlines, so such a token made every saved model of that data fail to load."""
    texts = ["a great\x85 film", "dull\u2028 and long", "so good\r", "bad bad"] * 10
    model = modelzoo.build(name, adapt_data=tf.data.Dataset.from_tensor_slices(texts).batch(8), **overrides)
    vocabulary = next(layer for layer in model.layers if layer.name == "vectorize").get_vocabulary()
    assert "bad" in vocabulary and not [t for t in vocabulary if len(t.splitlines()) > 1 or "\x85" in t]
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "folder", zipped=False)
    batch = np.array(texts[:4], dtype=object)
    for saved in (tmp_path / "m.keras", tmp_path / "folder"):
        again = load_keras(saved)
        np.testing.assert_allclose(
            again.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-6
        )


def test_naive_bayes_bag_counts_the_training_labels_into_a_fixed_table(sst2_dir, tmp_path):
    """bag's naive_bayes: each class's add-one-smoothed log P(token | class) from the train split,
    centred over classes, read by the head beside the mean embedding and never trained."""
    from conftest import NEGATIVE, POSITIVE

    data = modelzoo.load_files(sst2_dir / "sst2" / "train.tsv")
    model = modelzoo.build("bag", data=data, naive_bayes=True, max_tokens=5000)
    table = model.get_layer("naive_bayes").get_weights()[0]
    vocabulary = model.get_layer("vectorize").get_vocabulary()
    assert model.get_layer("naive_bayes").trainable is False
    assert table.shape == (model.modelzoo.hyperparameters["max_tokens"], 2) and len(vocabulary) > 40
    assert not table[:2].any() and not table[len(vocabulary) :].any(), "padding, OOV and unused ids: 0"
    for word in POSITIVE:
        assert table[vocabulary.index(word), 1] > 1.0 > -1.0 > table[vocabulary.index(word), 0]
    for word in NEGATIVE:
        assert table[vocabulary.index(word), 0] > 1.0
    np.testing.assert_allclose(table.sum(axis=1), 0.0, atol=1e-5)
    before = table.copy()
    modelzoo.fit(model, epochs=10, verbose=0)
    np.testing.assert_array_equal(model.get_layer("naive_bayes").get_weights()[0], before)
    assert modelzoo.evaluate(model)["accuracy"] >= 0.9
    model.save(tmp_path / "m.keras")
    batch = strings(["a superb film", "a dull plot", ""])
    np.testing.assert_allclose(
        load_keras(tmp_path / "m.keras").predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-6
    )
    texts, labels = sentiment_corpus(60, seed=5)
    unlabelled = tf.data.Dataset.from_tensor_slices(texts).batch(8)
    with pytest.raises(modelzoo.InvalidValueError, match=r"pass adapt_data= as \(text, label\) batches"):
        modelzoo.build("bag_sst2", naive_bayes=True, adapt_data=unlabelled)
    labelled = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(8)
    assert modelzoo.build("bag_sst2", naive_bayes=True, adapt_data=labelled).get_layer("naive_bayes")


def test_rnn_pools_by_the_maximum_over_words_unless_told_and_an_unknown_pooling_is_refused():
    """Each state's maximum over the words, and the embedding's mask ends there without Keras'
    warning that a layer destroyed it; `pooling="last"` keeps the last states."""
    texts, _ = sentiment_corpus(60, seed=6)
    adapt = tf.data.Dataset.from_tensor_slices(texts).batch(64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pooled = modelzoo.build("rnn_sst2", adapt_data=adapt)
    last = modelzoo.build("rnn_sst2", adapt_data=adapt, pooling="last")
    assert "max_over_words" in [layer.name for layer in pooled.layers]
    assert "max_over_words" not in [layer.name for layer in last.layers]
    assert last.count_params() == pooled.count_params()
    short = strings(texts[:4])
    padded = np.append(short, " ".join(texts))  # padded to sequence_length, past the short texts' ends
    alone = last.predict(short, verbose=0)
    np.testing.assert_allclose(alone, last.predict(padded, verbose=0)[:-1], atol=1e-5)
    refused = r"pooling must be one of \('last', 'max'\), got 'mean'"
    with pytest.raises(modelzoo.InvalidValueError, match=refused):
        modelzoo.build("rnn_sst2", adapt_data=adapt, pooling="mean")
