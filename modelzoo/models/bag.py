"""Bag of words and word pairs (fastText, Joulin et al. 2016; Keras' `imdb_fasttext` example):
every unigram and bigram of a text is a token, their embeddings are averaged, and a linear head
reads the average. No order beyond pairs, no pretraining: the baseline a sequence model must beat."""

from __future__ import annotations

import keras

from modelzoo.data import DatasetInfo
from modelzoo.models.common import RECIPE_SEARCH, TextModel, head, model_input, vectorize
from modelzoo.recipes import TEXT_CLASSIFIER
from modelzoo.registry import AdaptData, Choice, Float, Target, register, search_space


@keras.saving.register_keras_serializable(package="modelzoo")
class MeanOfTokens(keras.layers.Layer):
    """The mean of a text's token embeddings, padding left out; zeros for a text with no token
    (a phrase of punctuation: `GlobalAveragePooling1D` divides by its zero count and answers NaN)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True  # it takes the mask and uses it up

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, x, mask=None):
        weights = (
            keras.ops.ones(keras.ops.shape(x)[:2], x.dtype) if mask is None else keras.ops.cast(mask, x.dtype)
        )
        total = keras.ops.sum(x * weights[..., None], axis=1)
        return total / keras.ops.maximum(keras.ops.sum(weights, axis=1, keepdims=True), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


# Keras' imdb_fasttext.py with bigrams, trained on all 25,000 reviews and tested on IMDB's test split.
@register("bag_imdb", dataset="imdb", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.9056, 0.01),
          sequence_length=1000)  # fmt: skip
# Socher et al. 2013, SST binary: bigram Naive Bayes (BiNB) 83.1.
@register("bag_sst2", dataset="sst2", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.831, 0.01),
          sequence_length=128)  # fmt: skip
@register("bag", recipe=TEXT_CLASSIFIER, takes=("text",))
@search_space(**RECIPE_SEARCH, embedding_dim=Choice((16, 32, 64, 128)), dropout=Float(0.0, 0.5))
def bag(
    info: DatasetInfo,
    name: str,
    *,
    max_tokens: int = 200_000,
    sequence_length: int = 400,
    ngrams: int = 2,
    embedding_dim: int = 50,
    dropout: float = 0.0,
    padding: str = "longest",
    adapt_data: AdaptData = None,
) -> keras.Model:
    """TextVectorization (words and word pairs) -> Embedding -> mean over the text -> head."""
    inputs = model_input(info)
    x = vectorize(inputs, max_tokens, sequence_length, adapt_data, padding, ngrams=ngrams)
    x = keras.layers.Embedding(max_tokens, embedding_dim, mask_zero=True, name="embed")(x)
    x = MeanOfTokens(name="mean")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return TextModel(inputs, head(x, info), name=name)
