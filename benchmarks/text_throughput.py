"""Text training throughput: every batch padded to the entry's `sequence_length` against batches
grouped by length and padded to their longest text, in one run on the same machine.

    python benchmarks/text_throughput.py --data-dir ../shared/data        # the SST-2 and IMDB entries
    python benchmarks/text_throughput.py bert_sst2 --set preset=minilm_l6 --steps 40 --data-dir ../shared/data

Each entry is built twice with its recipe: `padding="max_length"` (every batch `sequence_length`
tokens long, as before) and `padding="longest"` (the default). Both train on the same batches of the
entry's train split, from the loader that groups texts of similar length; with fixed padding the
order costs nothing either way. After `--warmup` steps it times `--steps` steps of
`model.fit`, and counts in those batches the real tokens (non-padding ids of the model's own
tokenizer: TextVectorization, or BERT's WordPiece with [CLS] and [SEP]) and the tokens computed
(examples x padded length). Each round is one `fit` of warm-up and timed steps, and a callback
reads the clock between them, so what a `fit` call costs once (tracing; mapping BERT's tokenizer
over the data) is left out. Rounds alternate between the two paddings (`--rounds`, 3) and each
one's fastest round counts, as in overhead.py: other tenants of the VM slow single rounds by up to
60% (transformer_sst2's speed-up read 1.71x, 2.28x and 2.95x in three single-round runs). Both
counts are multiples of the recipe's `steps_per_execution` (16).

Columns: examples/s and real tokens/s; padding share = tokens computed / real tokens; the epoch time
those rates give for the whole train split; speed-up = grouped / fixed examples/s. Goals on SST-2:
padding share <= 1.3 and, for the entries trained from scratch, speed-up >= 3.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import modelzoo  # noqa: E402
from modelzoo.cli import parse_sets  # noqa: E402
from modelzoo.errors import DataNotFoundError  # noqa: E402
from modelzoo.training import split_of  # noqa: E402
from modelzoo.zoo import record_of  # noqa: E402

ROW = "{:<18} {:<10} {:>6} {:>11} {:>14} {:>8} {:>10} {:>8}"
PADDING_GOAL, SPEEDUP_GOAL = 1.3, 3.0


def token_counts(model: keras.Model, texts: tf.Tensor, padding: str) -> tuple[int, int]:
    """(real tokens, tokens computed) for one batch: the model's own counts (`token_lengths`),
    and the batch padded to `sequence_length` or to its longest text."""
    lengths = model.token_lengths(texts.numpy())
    fixed = padding == "max_length"
    padded = model.modelzoo.hyperparameters["sequence_length"] if fixed else max(1, int(lengths.max()))
    return int(lengths.sum()), len(lengths) * padded


class StepClock(keras.callbacks.Callback):
    """When each call into the runtime ended (every `steps_per_execution` steps), so the rate
    leaves out what one `fit` call costs once (tracing, the tf.data map of BERT's tokenizer)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: dict[int, float] = {}

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self.ends[batch + 1] = time.perf_counter()


class Trainee:
    """One build of an entry with one padding, the batches it trains on and their token counts."""

    def __init__(self, name: str, padding: str, overrides: dict, args: argparse.Namespace) -> None:
        self.model = modelzoo.build(name, data_dir=args.data_dir, padding=padding, **overrides)
        self.args = args
        record = record_of(self.model)
        train = split_of(
            record,
            "train",
            record.recipe.batch_size,
            args.data_dir,
            seed=record.recipe.seed,
            model=self.model,
        )
        self.examples = int(sum(1 for _ in train.unbatch().map(lambda x, y: y)))
        self.batches = train.take(args.warmup + args.steps).cache()  # counted, then trained on
        self.real = self.computed = self.count = 0
        for texts, _ in self.batches.skip(args.warmup):
            r, c = token_counts(self.model, texts, padding)
            self.real, self.computed, self.count = self.real + r, self.computed + c, self.count + len(texts)

    def seconds(self) -> float:
        """One `fit` over warm-up and timed steps; the time the timed steps took."""
        clock = StepClock()
        self.model.fit(self.batches, epochs=1, verbose=0, callbacks=[clock])
        start = max(step for step in clock.ends if step <= self.args.warmup)
        end = max(clock.ends)
        if (start, end) != (self.args.warmup, self.args.warmup + self.args.steps):
            raise SystemExit(
                f"--warmup and --steps must be multiples of steps_per_execution "
                f"({self.model.steps_per_execution})"
            )
        return clock.ends[end] - clock.ends[start]

    def rates(self, seconds: float) -> dict[str, float]:
        return {
            "steps": self.args.steps,
            "examples/s": self.count / seconds,
            "tokens/s": self.real / seconds,
            "share": self.computed / self.real,
            "epoch min": self.examples / (self.count / seconds) / 60,
        }


def measure(name: str, overrides: dict, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Rates with each padding: rounds alternate between the two builds, and each build's fastest
    round counts, so a slow spell of the machine does not fall on one padding only."""
    keras.utils.clear_session()
    trainees = {padding: Trainee(name, padding, overrides, args) for padding in ("max_length", "longest")}
    best = dict.fromkeys(trainees, float("inf"))
    for _ in range(args.rounds):
        for padding, trainee in trainees.items():
            best[padding] = min(best[padding], trainee.seconds())
    return {padding: trainees[padding].rates(best[padding]) for padding in trainees}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="text entries (default: every one whose data is found)")
    parser.add_argument("--data-dir", help="where sst2/ and imdb/ are (default: $MODELZOO_DATA_DIR)")
    parser.add_argument("--steps", type=int, default=96, help="training steps timed per entry and padding")
    parser.add_argument("--warmup", type=int, default=16, help="steps run first, untimed (tracing)")
    parser.add_argument("--rounds", type=int, default=3, help="times the steps run; the fastest counts")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override (repeatable)"
    )
    args = parser.parse_args()
    if min(args.steps, args.rounds) < 1 or args.warmup < 0:
        parser.error("--steps and --rounds must be at least 1, --warmup at least 0")
    names = args.names or modelzoo.list_models(task="text_classification")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}")
    print(
        ROW.format(
            "entry", "padding", "steps", "examples/s", "real tokens/s", "padding", "epoch min", "speed-up"
        )
    )
    verdicts = []
    for name in names:
        overrides = parse_sets(name, args.set)
        try:
            rows = measure(name, overrides, args)
        except DataNotFoundError as err:
            print(f"{name:<18} skipped: {err}".splitlines()[0][:160])
            continue
        fixed, grouped = rows["max_length"], rows["longest"]
        speedup = grouped["examples/s"] / fixed["examples/s"]
        for padding, row, extra in (("max_length", fixed, ""), ("longest", grouped, f"{speedup:.2f}x")):
            figures = (f"{row['examples/s']:.0f}", f"{row['tokens/s']:.0f}", f"{row['share']:.2f}")
            print(
                ROW.format(name, padding, row["steps"], *figures, f"{row['epoch min']:.1f}", extra),
                flush=True,
            )
        if name.endswith("_sst2"):
            verdicts.append(f"{name}: padding share {grouped['share']:.2f} (goal <= {PADDING_GOAL})")
            if "preset" not in overrides and not name.startswith("bert"):
                verdicts.append(f"{name}: speed-up {speedup:.2f}x (goal >= {SPEEDUP_GOAL}x)")
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
