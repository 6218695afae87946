"""A small Transformer encoder over raw strings, from keras-hub layers."""

from __future__ import annotations

import warnings

import keras

from modelzoo.data import DatasetInfo
from modelzoo.models.common import RECIPE_SEARCH, TextModel, head, model_input, vectorize
from modelzoo.recipes import TEXT_CLASSIFIER, TRANSFORMER_SST2
from modelzoo.registry import AdaptData, Choice, Float, Int, Target, register, search_space

# keras-hub's TokenAndPositionEmbedding adds position embeddings to the masked token embeddings;
# the position layer ignores the mask (as it should), and Keras warns that it drops it. The
# embedding's own output keeps the mask, which the encoders and the mean use.
warnings.filterwarnings("ignore", r"Layer 'position_embedding' .* does not support masking", UserWarning)


@keras.saving.register_keras_serializable(package="modelzoo")
class MaskedAverage(keras.layers.Layer):
    """The mean over the unmasked positions (GlobalAveragePooling1D divides by zero for an empty
    text, whose every position is padding: that text averages nothing and gets zeros)."""

    supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return keras.ops.mean(x, axis=1)
        weights = keras.ops.cast(mask, x.dtype)[..., None]
        return keras.ops.sum(x * weights, axis=1) / keras.ops.maximum(keras.ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, x, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


# IMDB reviews average ~230 words: 400 tokens keep most of a review, 200 cut off the ending that often
# holds the verdict (finding "imdb sequence_length" in measured.json).
@register("transformer_imdb", dataset="imdb", recipe=TEXT_CLASSIFIER, target=Target("accuracy", 0.88, 0.01),
          sequence_length=400)  # fmt: skip
@register("transformer_sst2", dataset="sst2", recipe=TRANSFORMER_SST2, target=Target("accuracy", 0.84, 0.01),
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
    padding: str = "longest",
    adapt_data: AdaptData = None,
) -> keras.Model:
    """TextVectorization -> TokenAndPositionEmbedding -> `num_layers` x TransformerEncoder ->
    GlobalAveragePooling -> Dropout -> head."""
    from keras_hub.layers import TokenAndPositionEmbedding, TransformerEncoder  # slow import: only when built

    inputs = model_input(info)
    x = vectorize(inputs, max_tokens, sequence_length, adapt_data, padding)
    # Padding is masked (attention and the mean skip it), so a batch's padding length cannot
    # change a prediction.
    x = TokenAndPositionEmbedding(max_tokens, sequence_length, embedding_dim, mask_zero=True, name="embed")(x)
    for i in range(num_layers):
        x = TransformerEncoder(intermediate_dim, num_heads, dropout=dropout, name=f"encoder_{i}")(x)
    x = MaskedAverage(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    return TextModel(inputs, head(x, info), name=name)
