"""Bag of words and word pairs (fastText, Joulin et al. 2016; Keras' `imdb_fasttext` example):
every unigram and bigram of a text is a token, their embeddings are averaged, and a linear head
reads the average. No order beyond pairs, no pretraining: the baseline a sequence model must beat.
With `naive_bayes`, the head also reads each class's mean Naive-Bayes log-probability of the
text's tokens, counted on the training split as the model is built (NBSVM's features, Wang and
Manning 2012; Socher et al. 2013's BiNB)."""

from __future__ import annotations

import keras
import numpy as np

from modelzoo.data import DatasetInfo
from modelzoo.models.common import RECIPE_SEARCH, TextModel, head, model_input, vectorize
from modelzoo.recipes import BAG_CLASSIFIER, TEXT_CLASSIFIER
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


def naive_bayes_log_probabilities(
    ids_of: keras.Model, adapt_data: AdaptData, max_tokens: int, num_classes: int
) -> np.ndarray:
    """[max_tokens, classes]: log P(token | class) from the training split's counts, add-one
    smoothed over the vocabulary, centred over the classes so a token seen equally in every class
    says nothing; rows of padding, out-of-vocabulary and unused ids 0, and all 0 when there is
    nothing to count (a saved model's weights are loaded next)."""
    table = np.zeros((max_tokens, num_classes), np.float32)
    if adapt_data is None:
        return table
    size = ids_of.get_layer("vectorize").vocabulary_size()
    counts = np.ones((size, num_classes))
    for texts, labels in adapt_data(labelled=True):
        ids, labels = ids_of(texts).numpy(), labels.numpy().reshape(-1)
        for label in range(num_classes):
            counts[:, label] += np.bincount(ids[labels == label].ravel(), minlength=size)[:size]
    log_p = np.log(counts[2:] / counts[2:].sum(axis=0, keepdims=True))
    table[2:size] = log_p - log_p.mean(axis=1, keepdims=True)
    return table


# Keras' imdb_fasttext.py with bigrams, trained on all 25,000 reviews and tested on IMDB's test split.
@register("bag_imdb", dataset="imdb", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.9056, 0.01),
          sequence_length=1000)  # fmt: skip
# Socher et al. 2013, SST binary: bigram Naive Bayes (BiNB) 83.1. The 50,000 most frequent words and
# word pairs score as 200,000 do, at a quarter of the size and half the time (finding "bag_sst2 levers").
@register("bag_sst2", dataset="sst2", recipe=BAG_CLASSIFIER, target=Target("accuracy", 0.831, 0.01),
          max_tokens=50_000, sequence_length=128, dropout=0.5)  # fmt: skip
@register("bag", recipe=TEXT_CLASSIFIER, takes=("text",))
@search_space(**RECIPE_SEARCH, embedding_dim=Choice((16, 32, 64, 128)), dropout=Float(0.0, 0.5),
              naive_bayes=Choice((False, True)))  # fmt: skip
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
    naive_bayes: bool = False,
    adapt_data: AdaptData = None,
) -> keras.Model:
    """TextVectorization (words and word pairs) -> Embedding -> mean over the text -> head; with
    `naive_bayes`, beside the mean, the mean of a fixed table of the tokens' NB log-probabilities."""
    if naive_bayes and info.num_classes < 2:
        raise ValueError("naive_bayes counts tokens per class; this data has no classes (regression)")
    inputs = model_input(info)
    ids = vectorize(inputs, max_tokens, sequence_length, adapt_data, padding, ngrams=ngrams)
    x = keras.layers.Embedding(max_tokens, embedding_dim, mask_zero=True, name="embed")(ids)
    x = keras.layers.Dropout(dropout, name="dropout")(MeanOfTokens(name="mean")(x))
    if naive_bayes:
        # Set after building, not as a Constant initializer: a table in the config would be saved
        # as JSON text in every .keras file.
        table = keras.layers.Embedding(
            max_tokens, info.num_classes, mask_zero=True, trainable=False, name="naive_bayes"
        )
        nb = MeanOfTokens(name="naive_bayes_mean")(table(ids))
        ids_of = keras.Model(inputs, ids)
        table.set_weights([naive_bayes_log_probabilities(ids_of, adapt_data, max_tokens, info.num_classes)])
        x = keras.layers.Concatenate(name="features")([x, nb])
    return TextModel(inputs, head(x, info), name=name)
