"""Accuracy of entries trained with their recipes on real data, against their targets (published anchors).

    python benchmarks/accuracy.py mlp_mnist cnn_mnist --data-dir ../shared/data/mnist
    python benchmarks/accuracy.py rnn_sst2 transformer_sst2 --data-dir ../shared/data
    python benchmarks/accuracy.py --quick            # the entries whose data ships with scikit-learn
    python benchmarks/accuracy.py ... --record       # also keep the results in modelzoo/measured.json
    python benchmarks/accuracy.py --docs             # rewrite docs/model_zoo.md from measured.json
    python benchmarks/accuracy.py bert_sst2 --seeds 0 1 2 --record   # the mean of three trainings
    python benchmarks/accuracy.py bert_sst2 --set preset=none --set learning_rate=1e-3 --record

Entries train with their recipes and the settings their target is measured with (bert_sst2 with
`preset=minilm_l6`); `--set` changes them, and a run with other settings is recorded under the name
and the settings changed. Data comes from `--data-dir` (or $MODELZOO_DATA_DIR), else TFDS. Each
row: the target metric on the target's split, whether it met the target, epochs run, wall time and
parameters. `--record` stores each result with the command, date and machine, which is what
`modelzoo describe` and `modelzoo list` show; `docs/model_zoo.md` is generated from those records.
With `--seeds`, each entry is trained once a seed, and the mean is what meets the target or not and
what is recorded, with every seed's figure: one run of a fine-tune is a sample, and its spread can
exceed the gap to the target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from statistics import mean, stdev

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
# The checkout's modelzoo, whose measured.json `--record` writes and `--docs` reads, even where
# `pip install .` (as .ci/run does) has left another copy in site-packages.
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import modelzoo  # noqa: E402
from modelzoo import atomic  # noqa: E402
from modelzoo.cli import parse_sets  # noqa: E402
from modelzoo.registry import Target  # noqa: E402
from modelzoo.training import Reproduction, quick_entries, reproduce  # noqa: E402
from modelzoo.zoo import measurements  # noqa: E402

MEASURED = ROOT / "modelzoo" / "measured.json"
DOCS = ROOT / "docs" / "model_zoo.md"
NO_DATA = {
    "fashion_mnist": "not measured: no Fashion-MNIST on our machines (TFDS cannot download here)",
    "cifar10": "not measured: no CIFAR-10 on our machines (TFDS cannot download here)",
}
SHORT_BECAUSE = {
    "rnn_sst2": "trained from scratch on 67k phrases; the ~84% figures for BiLSTMs use pretrained "
    "word vectors (GloVe). A pretrained encoder closes the gap: bert_sst2 with minilm_l6 reaches 0.89-0.90 "
    "(0.8949 over 3 seeds, grouped by length; 0.8956 over seeds 1/2 not grouped).",
    "bert_sst2": "mean of seeds 0/1/2 (0.8911/0.9002/0.8933, sd 0.0048): the spread between seeds is "
    "twice the gap to the anchor; learning_rate 1e-4 (the top of the published grid) gave 0.8945 at the "
    "same seeds. Not grouped by length (length_window=1, the same computation as padding to 64 tokens), "
    "seeds 1/2 gave 0.9014/0.8899 against grouped 0.9002/0.8933: grouping costs nothing measurable, and "
    "the one padded run at 0.9037 (seed 0) was a high draw.",
    "gru_sst2": "as rnn_sst2: no pretrained word vectors.",
    "transformer_sst2": "as rnn_sst2, no pretrained embeddings; bert_sst2 is the pretrained one.",
    "rnn_imdb": "18,000 training reviews (20% of the 25,000 held out as test, 10% of the rest as validation; "
    "keras.io's ~88% trains on all 25,000 and tests on the separate test split, absent here), no "
    "pretrained vectors; best validation loss at epoch 2 of 4. 400 tokens instead of 200 gained 0.7 "
    "points (0.8536 -> 0.8602) and took transformer_imdb to 0.8786 (within tolerance); a pretrained "
    "encoder (bert_imdb) would reach it.",
    "cnn_mnist": "Seeds 0/1/2 give 0.9914/0.9918/0.9919 (0.9920 with the earlier shuffle order): the "
    "anchor is at the edge of this 50k-parameter CNN; light augmentation (RandomTranslation) is the usual "
    "step past it, not tried.",
    "transformer_imdb": "18,000 reviews to train on where keras.io has 25,000 (see rnn_imdb).",
}
"""Why a recorded measurement misses its anchor, and what would reach it (shown in the docs)."""
ROW = "{:<20} {:<9} {:>8}  {:<34} {:<5} {:>6} {:>8} {:>11}"


def machine() -> str:
    """CPU model and count, and the versions that decide whether a figure reproduces."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = names[0] if names else platform.machine()
    return f"{os.cpu_count()} cores of {cpu}, TF {tf.__version__}, Keras {keras.__version__}"


def record(held: Reproduction, seeded: list[tuple[int, Reproduction]], command: str, key: str) -> None:
    """Keep `held` (one run, or the mean of the `seeded` runs, whose figures the command note lists)
    in measured.json under `key` (the entry's name, or the name and the settings changed), written
    atomically, replacing the earlier record."""
    records = json.loads(MEASURED.read_text())
    runs = f"{held.epochs} epochs, {held.seconds:.0f} s"
    if seeded:
        each = "; ".join(
            f"seed {seed}: {r.value:.4f}, {r.epochs} epochs, {r.seconds:.0f} s" for seed, r in seeded
        )
        runs = f"mean of {len(seeded)} seeds, sd {stdev(r.value for _, r in seeded):.4f}; {each}"
    records[key] = {
        "metric": held.metric,
        "value": round(held.value, 4),
        "split": held.target.split,
        "date": date.today().isoformat(),
        "command": f"{command}  ({runs})",
        "machine": machine(),
        "parameters": held.parameters,
    }
    atomic.write_text(MEASURED, json.dumps(dict(sorted(records.items())), indent=2) + "\n")


def record_key(name: str, pairs: list[str], target: Target) -> str:
    """The entry's name, followed by the `--set` pairs that change what its target is measured
    with: `bert_sst2 --set preset=minilm_l6` is the target's own setting, so it is `bert_sst2`."""
    changed = [pair for pair in pairs if not parse_sets(name, [pair]).items() <= target.settings.items()]
    return " ".join([name, *(f"--set {pair}" for pair in changed)])


def cells(result: Reproduction) -> tuple[object, ...]:
    """A result's row after the entry's name."""
    target = str(result.target).split(" (")[0]
    met = "yes" if result.met else "NO"
    parameters = f"{result.parameters:,}"
    return (
        result.metric,
        f"{result.value:.4f}",
        target,
        met,
        result.epochs,
        f"{result.seconds:.0f}",
        parameters,
    )


def verdict(name: str, target: Target | None, value: float) -> str:
    """The docs' `met` cell: `yes` at or beyond the published anchor, `within tolerance` between the
    anchor and the threshold that `reproduce` accepts, else `no` with the reason."""
    if target is None:
        return "yes"
    if value >= target.value if target.higher_is_better else value <= target.value:
        return "yes"
    if target.met_by(value):
        short = f"within tolerance: {abs(value - target.value):.4f} short of the anchor {target.value:g}"
        return f"{short}. {SHORT_BECAUSE[name]}" if name in SHORT_BECAUSE else short
    return f"**no**: {SHORT_BECAUSE.get(name, '')}"


def write_docs() -> None:
    """docs/model_zoo.md: every entry with its target and its recorded measurement."""
    measurements.cache_clear()
    measured = measurements()
    lines = [
        "# The zoo, measured",
        "",
        "Generated by `python benchmarks/accuracy.py --docs` from `modelzoo/measured.json`; each",
        "figure is one training run of the entry's default recipe (or the mean of the seeds its command",
        "lists), with the command, date and machine that produced it. `met`: yes at or beyond the",
        "published anchor; within tolerance between the anchor and the threshold that `modelzoo reproduce`",
        "accepts; no below that, with the reason and what would reach it.",
        "",
        "| entry | dataset | parameters | target | measured | met | command | machine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = modelzoo.list_models()
    for name in names:
        spec = modelzoo.describe(name)
        m = measured.get(name)
        target = str(spec.target) if spec.target else "-"
        if m is None:
            note = NO_DATA.get(spec.dataset, "not measured yet")
            lines.append(f"| `{name}` | {spec.dataset} | {spec.parameters:,} | {target} | {note} | | | |")
            continue
        met = verdict(name, spec.target, m.value)
        value = f"{m.metric} {m.value:.4f} ({m.date})"
        cells = [
            f"`{name}`",
            spec.dataset,
            f"{m.parameters or spec.parameters:,}",
            target,
            value,
            met,
            f"`{m.command}`",
            m.machine,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    others = [key for key in measured if key not in names]
    if others:
        lines += [
            "",
            "## Other settings measured",
            "",
            "Runs of an entry with changed settings (`accuracy.py NAME --set KEY=VALUE --record`).",
            "",
            "| entry and settings | measured | command | machine |",
            "|---|---|---|---|",
        ]
        for key in others:
            m = measured[key]
            lines.append(f"| `{key}` | {m.metric} {m.value:.4f} ({m.date}) | `{m.command}` | {m.machine} |")
    DOCS.parent.mkdir(exist_ok=True)
    atomic.write_text(DOCS, "\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME")
    parser.add_argument("--data-dir", help="local data (default: $MODELZOO_DATA_DIR, else TFDS)")
    parser.add_argument("--quick", action="store_true", help="the scikit-learn entries (under a minute)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="change a hyperparameter/recipe field"
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="SEED",
        help="train once a seed; the mean is held and recorded",
    )
    parser.add_argument("--record", action="store_true", help="keep the results in modelzoo/measured.json")
    parser.add_argument("--docs", action="store_true", help="rewrite docs/model_zoo.md from the records")
    args = parser.parse_args()
    names = args.names or (quick_entries() if args.quick else [])
    if args.seeds and any(pair.split("=", 1)[0].strip() == "seed" for pair in args.set):
        parser.error("give seeds with --seeds 0 1 2 or one with --set seed=N, not both")
    print(f"machine: {machine()}")
    if names:
        print(ROW.format("entry", "metric", "value", "target", "met", "epochs", "seconds", "parameters"))
    short = 0
    for name in names:
        overrides = parse_sets(name, args.set)
        results = []
        for seed in args.seeds or [None]:
            settings = overrides if seed is None else {**overrides, "seed": seed}
            results.append(reproduce(name, data_dir=args.data_dir, **settings))
            label = name if seed is None else f"{name} seed {seed}"
            print(ROW.format(label, *cells(results[-1])), flush=True)
        if args.seeds:
            held = replace(
                results[0],
                value=mean(r.value for r in results),
                epochs=round(mean(r.epochs for r in results)),
                seconds=sum(r.seconds for r in results),
            )
            print(ROW.format(f"{name} mean", *cells(held)), flush=True)
        else:
            held = results[0]
        short += not held.met
        if args.record:
            data = f" --data-dir {args.data_dir}" if args.data_dir else ""
            key = record_key(name, args.set, held.target)
            seeds = f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds else ""
            seeded = list(zip(args.seeds, results)) if args.seeds else []
            record(held, seeded, f"python benchmarks/accuracy.py {key}{seeds}{data}", key)
    if args.docs or args.record:
        write_docs()
        print(f"wrote {DOCS.relative_to(ROOT)}")
    if not names and not args.docs:
        parser.error("give entry names, --quick or --docs")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
