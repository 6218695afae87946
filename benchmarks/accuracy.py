"""Accuracy of entries trained with their recipes on real data, against their targets (published anchors).

    python benchmarks/accuracy.py mlp_mnist cnn_mnist --data-dir ../shared/data/mnist
    python benchmarks/accuracy.py rnn_sst2 transformer_sst2 --data-dir ../shared/data
    python benchmarks/accuracy.py --quick            # the entries whose data ships with scikit-learn
    python benchmarks/accuracy.py ... --record       # also keep the results in modelzoo/measured.json
    python benchmarks/accuracy.py --docs             # rewrite README's zoo table and docs/model_zoo.md
    python benchmarks/accuracy.py cnn_mnist --data-dir ../shared/data --record --publish  # ship its weights
    python benchmarks/accuracy.py bert_sst2 --seeds 0 1 2 --record   # the mean of three trainings
    python benchmarks/accuracy.py bert_sst2 --set preset=none --set learning_rate=1e-3 --record

Entries train with their recipes and the settings their target is measured with (bert_sst2 with
`preset=minilm_l6`); `--set` changes them, and a run with other settings is recorded under the name
and the settings changed. Data comes from `--data-dir` (or $MODELZOO_DATA_DIR), else TFDS. Each
row: the target metric on the target's split, whether it met the target, epochs run, wall time and
parameters. `--record` stores each result with the command, date and machine, which is what
`modelzoo describe` and `modelzoo list` show; the README's zoo table and `docs/model_zoo.md` are
generated from those records (the record replaced goes to the entry's history).
With `--seeds`, each entry is trained once a seed, and the mean is what meets the target or not and
what is recorded, with every seed's figure: one run of a fine-tune is a sample, and its spread can
exceed the gap to the target.
"""

from __future__ import annotations

import argparse
import os
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


from modelzoo import measured, zootable  # noqa: E402
from modelzoo.cli import parse_sets  # noqa: E402
from modelzoo.measured import Measurement  # noqa: E402
from modelzoo.publish import publish  # noqa: E402
from modelzoo.registry import Target  # noqa: E402
from modelzoo.runs import machine  # noqa: E402
from modelzoo.training import Reproduction, quick_entries, reproduce  # noqa: E402
from modelzoo.weights import SHIPPED as SHIPPED_FOLDER  # noqa: E402

MEASURED = ROOT / "modelzoo" / "measured.json"
SHIPPED = ROOT / "modelzoo" / SHIPPED_FOLDER
ROW = "{:<24} {:<9} {:>8}  {:<34} {:<5} {:>6} {:>8} {:>11}"


def record(held: Reproduction, seeded: list[tuple[int, Reproduction]], command: str, key: str) -> None:
    """Keep `held` (one run, or the mean of the `seeded` runs, each listed in the details) in
    measured.json under `key` (the entry's name, or the name and the settings changed); the record
    it replaces goes to the history."""
    runs = len(seeded) or 1
    details = f"{held.epochs} epochs, {held.seconds:.0f} s"
    if seeded:
        each = "; ".join(
            f"seed {seed}: {r.value:.4f}, {r.epochs} epochs, {r.seconds:.0f} s" for seed, r in seeded
        )
        details = f"mean of {runs} seeds, sd {stdev(r.value for _, r in seeded):.4f}; {each}"
    new = Measurement(
        metric=held.metric,
        value=round(held.value, 4),
        split=held.target.split,
        date=date.today().isoformat(),
        command=command,
        machine=machine(),
        epochs=held.epochs,
        seconds=round(held.seconds / runs),
        details=details,
        parameters=held.parameters,
    )
    measured.record(MEASURED, key, new)


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
    parser.add_argument(
        "--docs", action="store_true", help="rewrite the README's zoo table and docs/model_zoo.md"
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="with --record: publish the (first seed's) model as the weights the package ships, "
        f"in {SHIPPED.relative_to(ROOT)}/NAME, as float16, when the entry meets its target",
    )
    args = parser.parse_args()
    names = args.names or (quick_entries() if args.quick else [])
    if args.publish and (not args.record or args.set):
        parser.error("--publish ships the weights of a record: give it with --record and without --set")
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
            result = reproduce(name, data_dir=args.data_dir, **settings)
            results.append(result if not results else replace(result, model=None))  # the first is published
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
            command = f"python benchmarks/accuracy.py {key}{seeds}{data}"
            record(held, seeded, command, key)
            if args.publish and not held.met:
                print(f"not published: {name} misses its target, and the package ships only what meets it")
            elif args.publish:
                where = publish(
                    results[0].model,
                    SHIPPED / key,
                    data_dir=args.data_dir,
                    run_value=results[0].value,
                    seeds={seed: r.value for seed, r in seeded} or None,
                    command=f"{command} --publish",
                    float16=True,
                    overwrite=True,
                )
                print(f"published {Path(where).relative_to(ROOT)}", flush=True)
    if args.docs or args.record:
        for path in zootable.write(ROOT):
            print(f"wrote {path.relative_to(ROOT)}")
    if not names and not args.docs:
        parser.error("give entry names, --quick or --docs")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
