"""Bidirectional LSTM/GRU text classifiers that take raw strings (keras.io's IMDB BiLSTM)."""

from __future__ import annotations

import keras

from modelzoo.data import DatasetInfo
from modelzoo.models.common import RECIPE_SEARCH, MaxOverWords, TextModel, head, model_input, vectorize
from modelzoo.recipes import GRU_SST2, TEXT_CLASSIFIER
from modelzoo.registry import AdaptData, Choice, Float, Target, register, search_space

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
POOLINGS = ("last", "max")


# Dai and Le 2015 (Semi-supervised Sequence Learning, table 1): an LSTM trained from random weights
# on IMDB, "with tuning and dropout", 13.50% test error. keras.io's BiLSTM example prints no test
# figure; Keras 2's imdb_bidirectional_lstm.py reports about 81%. 400 tokens, as transformer_imdb
# (finding "imdb sequence_length" in measured.json).
@register("rnn_imdb", dataset="imdb", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.865, 0.01),
          sequence_length=400)  # fmt: skip
@register("rnn_sst2", dataset="sst2", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.84, 0.01),
          sequence_length=64)  # fmt: skip
@register("gru_sst2", dataset="sst2", recipe=GRU_SST2, target=Target("accuracy", 0.84, 0.01),
          family="rnn", cell="gru", sequence_length=64, dropout=0.32)  # fmt: skip
@register("gru", recipe=TEXT_CLASSIFIER, family="rnn", takes=("text",), cell="gru")
@register("rnn", recipe=TEXT_CLASSIFIER, takes=("text",))
@search_space(**RECIPE_SEARCH, embedding_dim=Choice((32, 64, 128)), units=Choice((32, 64, 128)),
              dropout=Float(0.0, 0.5), pooling=Choice(POOLINGS))  # fmt: skip
def rnn(
    info: DatasetInfo,
    name: str,
    *,
    max_tokens: int = 20_000,
    sequence_length: int = 200,
    embedding_dim: int = 64,
    units: int = 64,
    cell: str = "lstm",
    dropout: float = 0.3,
    padding: str = "longest",
    pooling: str = "max",
    adapt_data: AdaptData = None,
) -> keras.Model:
    """TextVectorization -> Embedding -> Bidirectional(LSTM|GRU) -> max over words -> Dropout -> head.

    Each state's maximum over the words (Conneau et al. 2017's BiLSTM-max) keeps a strong word seen
    early in a long review in view; `pooling="last"` takes the two directions' last states instead,
    as keras.io's example does (finding "rnn pooling" in measured.json)."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}.")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    inputs = model_input(info)
    ids = vectorize(inputs, max_tokens, sequence_length, adapt_data, padding)
    x = keras.layers.Embedding(max_tokens, embedding_dim, mask_zero=True, name="embed")(ids)
    x = keras.layers.Bidirectional(CELLS[cell](units, return_sequences=pooling == "max"), name=f"bi{cell}")(x)
    if pooling == "max":
        x = MaxOverWords(name="max_over_words")([x, ids])
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return TextModel(inputs, head(x, info), name=name)
