"""A small Transformer encoder over raw strings, from keras-hub layers."""

from __future__ import annotations

import keras

from modelzoo.data import DatasetInfo
from modelzoo.models.common import RECIPE_SEARCH, TextModel, head, model_input, vectorize
from modelzoo.recipes import TEXT_CLASSIFIER
from modelzoo.registry import AdaptData, Choice, Float, Int, Target, register, search_space


# IMDB reviews average ~230 words: 400 tokens keep most of a review, 200 cut off the ending that often
# holds the verdict (held-out accuracy 0.8786 at 400, 0.8692 at 200).
@register("transformer_imdb", dataset="imdb", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.88, 0.01),
          sequence_length=400)  # fmt: skip
@register("transformer_sst2", dataset="sst2", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.84, 0.01),
          sequence_length=64)  # fmt: skip
@register("transformer", recipe=TEXT_CLASSIFIER, takes=("text",))
@search_space(**RECIPE_SEARCH, embedding_dim=Choice((32, 64, 128)), num_heads=Choice((1, 2, 4)),
              intermediate_dim=Choice((64, 128, 256)), num_layers=Int(1, 2),
              dropout=Float(0.0, 0.4))  # fmt: skip
def transformer(
    info: DatasetInfo,
    name: str,
    *,
    max_tokens: int = 20_000,
    sequence_length: int = 200,
    embedding_dim: int = 64,
    num_heads: int = 2,
    intermediate_dim: int = 128,
    num_layers: int = 1,
    dropout: float = 0.1,
    adapt_data: AdaptData = None,
) -> keras.Model:
    """TextVectorization -> TokenAndPositionEmbedding -> `num_layers` x TransformerEncoder ->
    GlobalAveragePooling -> Dropout -> head."""
    from keras_hub.layers import TokenAndPositionEmbedding, TransformerEncoder  # slow import: only when built

    inputs = model_input(info)
    x = vectorize(inputs, max_tokens, sequence_length, adapt_data)
    # No padding mask: an empty string would mask every position and turn attention and the
    # masked mean into 0/0 (NaN). Attending to padding is harmless at this size (keras.io does too).
    x = TokenAndPositionEmbedding(max_tokens, sequence_length, embedding_dim, name="embed")(x)
    for i in range(num_layers):
        x = TransformerEncoder(intermediate_dim, num_heads, dropout=dropout, name=f"encoder_{i}")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return TextModel(inputs, head(x, info), name=name)
