"""Serving latency: the exported `serving_default` signature against a direct call of the Keras model.

For one entry per family it exports the model, loads the SavedModel with `tf.saved_model.load` (as the
model server does) and times both on the same inputs, interleaved, at batch 1 and batch 256:

    python benchmarks/serving.py              # the entries of ENTRIES
    python benchmarks/serving.py --quick      # fewer repeats, under a minute
    python benchmarks/serving.py mlp_digits   # one entry
    python benchmarks/serving.py bert_sst2 --padding max_length --padding longest --set preset=minilm_l6

The baseline is the Keras model traced once with `tf.function` (what `predict` runs per batch, without
its Python loop): p50/p99 in milliseconds and the ratio exported / Keras (goal <= 1.1). The exported
signature answers more than the model's output: probabilities, class ids and class names beside the
logits. So a third call, `same outputs`, is the in-memory Keras model computing what the signature
returns; `export` = served / same outputs is what loading the SavedModel costs by itself, and the
difference between the two ratios is the price of the richer answer. Weights are untrained (latency
does not depend on them); text models adapt on a few sentences. `--padding` builds text models
padded to `sequence_length` (`max_length`, as before) or to the longest text of the request
(`longest`, the default); batch 1 is a ten-word sentence.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import modelzoo  # noqa: E402
from modelzoo.cli import parse_sets  # noqa: E402
from modelzoo.data import DatasetInfo  # noqa: E402
from modelzoo.export import serving_outputs  # noqa: E402
from modelzoo.models.common import PADDINGS  # noqa: E402
from modelzoo.zoo import get_entry  # noqa: E402

ENTRIES = ("mlp_digits", "cnn_digits", "mlp_breast_cancer", "rnn_sst2", "transformer_sst2", "bert_sst2")
ROW = "{:<18} {:<10} {:>5}  {:>9} {:>7}  {:>12}  {:>10} {:>7}  {:>5}  {:>6}"
"""Latencies in milliseconds; ratio = served p50 / keras p50, export = served p50 / same-outputs p50."""
SENTENCES = (
    "a gripping and moving film with a truly superb cast",
    "the plot was tedious and the acting lifeless",
    "charming, funny and far better than I expected",
    "an awful, boring mess from start to finish",
)


def inputs_for(info: DatasetInfo, batch: int, rng: np.random.Generator) -> np.ndarray:
    """A batch of what a client sends: raw pixels, raw features, or sentences."""
    if info.is_text:
        return np.array([SENTENCES[i % len(SENTENCES)] for i in range(batch)], dtype=object)
    if info.is_image:
        return rng.integers(0, 256, size=(batch, *info.input_shape)).astype(np.float32)
    return rng.normal(size=(batch, *info.input_shape)).astype(np.float32)


def build_untrained(name: str, info: DatasetInfo, overrides: dict) -> tf.keras.Model:
    if info.is_text:
        adapt = tf.data.Dataset.from_tensor_slices(list(SENTENCES)).batch(4)
        return modelzoo.build(name, adapt_data=adapt, **overrides)
    return modelzoo.build(name, **overrides)


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1e3, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3


def time_interleaved(calls: dict, x: tf.Tensor, repeats: int) -> dict[str, list[float]]:
    """Alternate the calls so that machine noise falls on both alike."""
    for call in calls.values():
        call(x)
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            start = time.perf_counter()
            outputs = call(x)
            tf.nest.map_structure(lambda t: t.numpy(), outputs)
            times[key].append(time.perf_counter() - start)
    return times


def compare(
    name: str, export_root: str, repeats: dict[int, int], rng: np.random.Generator, overrides: dict
) -> list[str]:
    """Rows of the table for one entry: Keras vs exported latency at each batch size."""
    info = get_entry(name).info
    model = build_untrained(name, info, overrides)
    path = modelzoo.export(model, name, export_root)
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    (input_name,) = served.structured_input_signature[1]
    preprocessor = getattr(model, "preprocessor", None)

    @tf.function
    def keras_call(x: tf.Tensor) -> tf.Tensor:
        return model(preprocessor(x) if preprocessor else x, training=False)

    calls = {
        "keras": keras_call,
        "same outputs": tf.function(lambda x: serving_outputs(model, info, x)),
        "served": lambda x: served(**{input_name: x}),
    }
    rows = []
    for batch, n in repeats.items():
        times = time_interleaved(calls, tf.constant(inputs_for(info, batch, rng)), n)
        (k50, k99), (o50, _), (s50, s99) = (percentiles(times[key]) for key in calls)
        figures = (f"{v:.2f}" for v in (k50, k99, o50, s50, s99, s50 / k50, s50 / o50))
        rows.append(ROW.format(name, overrides.get("padding", ""), batch, *figures))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=list(ENTRIES))
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a run under a minute)")
    parser.add_argument(
        "--padding", action="append", choices=PADDINGS, help="text models: each padding given, in turn"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override (repeatable)"
    )
    args = parser.parse_args()
    repeats = {1: 50 if args.quick else 300, 256: 10 if args.quick else 60}
    rng = np.random.default_rng(0)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}")
    header = (
        "entry",
        "padding",
        "batch",
        "keras p50",
        "p99",
        "same outputs",
        "served p50",
        "p99",
        "ratio",
        "export",
    )
    print(ROW.format(*header))
    with tempfile.TemporaryDirectory() as export_root:
        for name in args.names:
            overrides = parse_sets(name, args.set)
            paddings = (args.padding or [None]) if get_entry(name).info.is_text else [None]
            for padding in paddings:
                given = overrides | ({"padding": padding} if padding else {})
                print("\n".join(compare(name, export_root, repeats, rng, given)), flush=True)


if __name__ == "__main__":
    main()
