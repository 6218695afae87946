"""What the zoo costs over hand-written Keras, and how close training gets to the machine's peak.

Same model, same data, interleaved epoch by epoch in one process:
- `keras defaults`: a plain `model.compile(...); model.fit(x, y, batch_size=128)` on NumPy arrays
  (the model cloned from the entry), Keras' own defaults (one step per execution);
- `keras`: the same, with the recipe's batch size and `steps_per_execution`: the baseline of the
  `x keras` column, so that every ratio compares like with like;
- `zoo arrays`: `modelzoo.fit(model, train=(x, y))`: the zoo's API on the same arrays;
- `zoo loader`: `modelzoo.fit(model, train=modelzoo.load_dataset(...))`: the zoo's `tf.data` pipeline
  over the same data, read from `--data-dir` once;
- the zoo with `jit_compile=True`, and with one recipe default at a time set back to Keras'.
Each row gives training samples/s, the ratio to `keras`, and the fraction of the fp32 matmul peak
reached (FLOPs per training sample x samples/s over a large `tf.matmul`'s FLOP/s). Ratios and shares
use each variant's best round: on a shared VM an epoch is sometimes slowed by a third by other
tenants, never sped up, so the best of several rounds is the figure that repeats (as `timeit` takes
the minimum); the median is printed beside it.

    python benchmarks/overhead.py --data-dir ../shared/data/mnist   # real MNIST (IDX files)
    python benchmarks/overhead.py --quick                          # random MNIST-shaped data, 2 rounds
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import modelzoo  # noqa: E402
from modelzoo.zoo import get_entry  # noqa: E402

ROW = "{:<72} {:>10} {:>8} {:>7} {:>10}"
TUNINGS = ({"jit_compile": True}, {"steps_per_execution": 1}, {"batch_size": 128})
"""Settings tried on top of the entry's recipe: XLA, and each of the recipe's defaults against
per-step overhead set back to Keras' (`batch_size=128` keeps the recipe's learning rate)."""
KERAS_BATCH_SIZE = 128
ROUND_EPOCHS = 2


def matmul_peak(n: int = 4096, trials: int = 5, repeats: int = 3) -> float:
    """FLOP/s of a large fp32 matmul, the most this machine does in training's main operation: the
    best of a few trials, since a peak is a maximum and a shared machine only ever slows one down."""
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()
    best = 0.0
    for _ in range(trials):
        start = time.perf_counter()
        for _ in range(repeats):
            product().numpy()
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - start))
    return best


def training_flops_per_sample(model: keras.Model) -> float:
    """Multiply-adds of Dense and Conv2D layers x 2 FLOPs, x 3 for forward + backward passes."""
    flops = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            flops += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            flops += 2 * kh * kw * cin * cout * h * w
    return 3 * flops


def arrays(name: str, data_dir: str | None, quick: bool) -> tuple[np.ndarray, np.ndarray]:
    """The training split as arrays: real data from `data_dir`, else random data of the entry's shape."""
    info = get_entry(name).info
    if data_dir is None:
        rng = np.random.default_rng(0)
        n = 4_000 if quick else info.splits["train"]
        return rng.integers(0, 256, (n, *info.input_shape)).astype(np.float32), rng.integers(0, 10, n)
    xs, ys = zip(*modelzoo.load_dataset(info.name, "train", batch_size=4096, data_dir=data_dir))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


class EpochTimer(keras.callbacks.Callback):
    """Seconds of each epoch, from its first step to its last, inside one `fit` call."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self.start)


class Variant:
    """One way of training the same model. `round()` fits it for `ROUND_EPOCHS` epochs and keeps the
    samples/s of the last one: the steady state of a long run, after `fit`'s per-call set-up (tracing,
    turning arrays into a dataset) that a real run pays once, not every epoch."""

    def __init__(self, label: str, model: keras.Model, fit_round, samples: int) -> None:
        self.label, self.model, self.fit_round, self.samples = label, model, fit_round, samples
        self.rates: list[float] = []

    def round(self) -> None:
        timer = EpochTimer()
        self.fit_round(self.model, timer)
        self.rates.append(self.samples / timer.seconds[-1])


def variants(name: str, x: np.ndarray, y: np.ndarray, data_dir: str | None) -> list[Variant]:
    """The ways of training `name` compared; the first is the baseline of the ratios."""
    entry = get_entry(name)
    recipe = entry.recipe

    def zoo(**overrides) -> keras.Model:
        return modelzoo.build(name, epochs=ROUND_EPOCHS, callbacks=(), **overrides)

    def plain_keras(batch_size: int, steps_per_execution: int) -> Variant:
        model = keras.models.clone_model(zoo())
        model.compile(
            optimizer=keras.optimizers.Adam(recipe.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
        )
        if steps_per_execution == 1:
            label = f"keras defaults: compile() + fit(x, y, batch_size={batch_size})"
        else:
            label = f"keras: compile(steps_per_execution={steps_per_execution}) + fit(x, y, {batch_size})"

        def fit_round(m: keras.Model, timer: EpochTimer) -> None:
            m.fit(x, y, batch_size=batch_size, epochs=ROUND_EPOCHS, verbose=0, callbacks=[timer])

        return Variant(label, model, fit_round, len(x))

    def zoo_arrays(model: keras.Model, timer: EpochTimer) -> None:
        modelzoo.fit(model, train=(x, y), verbose=0, extra_callbacks=[timer])

    def zoo_loader(model: keras.Model, timer: EpochTimer) -> None:
        modelzoo.fit(model, train=loaded, verbose=0, extra_callbacks=[timer])

    made = [
        plain_keras(recipe.batch_size, recipe.steps_per_execution),
        plain_keras(KERAS_BATCH_SIZE, 1),
        Variant("zoo arrays: modelzoo.fit(model, train=(x, y))", zoo(), zoo_arrays, len(x)),
    ]
    if data_dir is not None:
        batch_size = recipe.batch_size
        loaded = modelzoo.load_dataset(entry.dataset, "train", batch_size=batch_size, data_dir=data_dir)
        label = "zoo loader: modelzoo.fit(model, train=load_dataset(...))"
        made.append(Variant(label, zoo(), zoo_loader, len(x)))
    for overrides in TUNINGS:
        if any(getattr(recipe, k) == v for k, v in overrides.items()):
            continue
        label = "zoo arrays, " + ", ".join(f"{k}={v}" for k, v in overrides.items())
        made.append(Variant(label, zoo(**overrides), zoo_arrays, len(x)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=["mlp_mnist", "cnn_mnist"])
    parser.add_argument("--data-dir", help="real data for the entries (default: random data of their shape)")
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs per variant, each in its own fit")
    parser.add_argument("--quick", action="store_true", help="4,000 random examples, 2 rounds (~50 s)")
    args = parser.parse_args()
    rounds = 2 if args.quick else args.rounds
    peak = matmul_peak()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}; fp32 matmul peak {peak / 1e9:.0f} GFLOP/s")  # fmt: skip
    for name in args.names:
        x, y = arrays(name, args.data_dir, args.quick)
        runs = variants(name, x, y, args.data_dir)
        for _ in range(rounds):
            for run in runs:
                run.round()
        flops = training_flops_per_sample(runs[0].model)
        baseline = max(runs[0].rates)
        recipe = get_entry(name).recipe
        print(f"\n{name}: {len(x):,} samples, {flops / 1e6:.2f} MFLOP per training sample, best of "
              f"{rounds} rounds; recipe {recipe.name!r}: batch_size={recipe.batch_size}, "
              f"steps_per_execution={recipe.steps_per_execution}")  # fmt: skip
        print(ROW.format("variant", "samples/s", "x keras", "% peak", "median"))
        for run in runs:
            rate, median = max(run.rates), statistics.median(run.rates)
            share = 100 * rate * flops / peak
            figures = f"{rate:,.0f}", f"{rate / baseline:.3f}", f"{share:.1f}", f"{median:,.0f}"
            print(ROW.format(run.label, *figures))


if __name__ == "__main__":
    main()
