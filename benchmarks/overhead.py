"""What the zoo costs over hand-written Keras, and how close training gets to the machine's peak.

Same model, same data, same batch size, interleaved epoch by epoch in one process:
- `keras`: a plain `model.compile(...); model.fit(x, y)` on NumPy arrays (the model cloned from the entry);
- `zoo arrays`: `modelzoo.fit(model, train=(x, y))`: the zoo's API on the same arrays;
- `zoo loader`: `modelzoo.fit(model, train=modelzoo.load_dataset(...))`: the zoo's `tf.data` pipeline
  over the same data, read from `--data-dir` once;
- the same with `jit_compile=True`, and with larger `steps_per_execution` and batch sizes.
Each row gives training samples/s, the ratio to plain Keras, and the fraction of the fp32 matmul peak
reached (FLOPs per training sample x samples/s over a large `tf.matmul`'s FLOP/s).

    python benchmarks/overhead.py --data-dir ../shared/data/mnist   # real MNIST (IDX files)
    python benchmarks/overhead.py --quick                          # random MNIST-shaped data, fewer epochs
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

ROW = "{:<68} {:>10} {:>8} {:>7}"
TUNINGS = (
    {"jit_compile": True},
    {"steps_per_execution": 16},
    {"batch_size": 512, "steps_per_execution": 16},
    {"batch_size": 512, "steps_per_execution": 16, "jit_compile": True},
)
"""Recipe settings tried against per-step overhead, each on top of the entry's recipe."""


def matmul_peak(n: int = 2048, repeats: int = 20) -> float:
    """FLOP/s of a large fp32 matmul, the most this machine does in training's main operation."""
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        product().numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


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
    info = modelzoo.dataset_info(modelzoo.describe(name).dataset)
    if data_dir is None:
        rng = np.random.default_rng(0)
        n = 12_000 if quick else info.splits["train"]
        return rng.integers(0, 256, (n, *info.input_shape)).astype(np.float32), rng.integers(0, 10, n)
    xs, ys = zip(*modelzoo.load_dataset(info.name, "train", batch_size=4096, data_dir=data_dir))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


class Variant:
    """One way of training the same model; `epoch()` trains one epoch and returns samples/s."""

    def __init__(self, label: str, model: keras.Model, fit_epoch, samples: int) -> None:
        self.label, self.model, self.fit_epoch, self.samples = label, model, fit_epoch, samples
        self.rates: list[float] = []

    def epoch(self) -> None:
        start = time.perf_counter()
        self.fit_epoch(self.model)
        self.rates.append(self.samples / (time.perf_counter() - start))


def variants(name: str, x: np.ndarray, y: np.ndarray, data_dir: str | None) -> list[Variant]:
    recipe = modelzoo.describe(name).recipe

    def zoo(**overrides) -> keras.Model:
        return modelzoo.build(name, epochs=1, callbacks=(), **overrides)

    def keras_fit(model: keras.Model) -> None:
        model.fit(x, y, batch_size=recipe.batch_size, epochs=1, verbose=0)

    def zoo_arrays(model: keras.Model) -> None:
        modelzoo.fit(model, train=(x, y), verbose=0)

    def zoo_loader(model: keras.Model) -> None:
        modelzoo.fit(model, train=loaded, verbose=0)

    plain = keras.models.clone_model(zoo())
    plain.compile(
        optimizer=keras.optimizers.Adam(recipe.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    made = [
        Variant("keras: compile + fit(x, y)", plain, keras_fit, len(x)),
        Variant("zoo arrays: modelzoo.fit(model, train=(x, y))", zoo(), zoo_arrays, len(x)),
    ]
    if data_dir is not None:
        dataset = modelzoo.describe(name).dataset
        loaded = modelzoo.load_dataset(dataset, "train", batch_size=recipe.batch_size, data_dir=data_dir)
        label = "zoo loader: modelzoo.fit(model, train=load_dataset(...))"
        made.append(Variant(label, zoo(), zoo_loader, len(x)))
    for overrides in TUNINGS:
        label = "zoo arrays, " + ", ".join(f"{k}={v}" for k, v in overrides.items())
        made.append(Variant(label, zoo(**overrides), zoo_arrays, len(x)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=["mlp_mnist", "cnn_mnist"])
    parser.add_argument("--data-dir", help="real data for the entries (default: random data of their shape)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per variant (after one warm-up)")
    parser.add_argument("--quick", action="store_true", help="12,000 random examples, 2 timed epochs")
    args = parser.parse_args()
    epochs = 2 if args.quick else args.epochs
    peak = matmul_peak()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}; fp32 matmul peak {peak / 1e9:.0f} GFLOP/s")  # fmt: skip
    for name in args.names:
        x, y = arrays(name, args.data_dir, args.quick)
        runs = variants(name, x, y, args.data_dir)
        for run in runs:
            run.epoch()
            run.rates.clear()
        for _ in range(epochs):
            for run in runs:
                run.epoch()
        flops = training_flops_per_sample(runs[0].model)
        baseline = statistics.median(runs[0].rates)
        print(f"\n{name}: {len(x):,} samples, {flops / 1e6:.2f} MFLOP per training sample, "
              f"median of {epochs} epochs")  # fmt: skip
        print(ROW.format("variant", "samples/s", "x keras", "% peak"))
        for run in runs:
            rate = statistics.median(run.rates)
            share = 100 * rate * flops / peak
            print(ROW.format(run.label, f"{rate:,.0f}", f"{rate / baseline:.3f}", f"{share:.1f}"))


if __name__ == "__main__":
    main()
