"""Tuning on a small table: trials scored on its small validation split against k-fold cross-validation
of its training split, each tuned model against the defaults on the test split.

    python benchmarks/tune_small.py                 # 300 rows of breast_cancer, 10 trials each way
    python benchmarks/tune_small.py --rows 300 --trials 10 --seeds 0 1 2

Writes `--rows` seeded rows of scikit-learn's breast_cancer table (real data, bundled) as a CSV the
way a user has one, then, for each seed (the split, the search and the training all follow it):
trains `mlp` with its defaults, tunes it with `--folds 1` (the validation split) and with the
default k-fold, trains each best setting, and prints every model's test accuracy. The test split
is a fifth of the rows, so one example is 1/60 of accuracy at 300 rows: read the mean over seeds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path
from statistics import mean

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402

import modelzoo  # noqa: E402


def write_table(path: Path, rows: int, seed: int) -> None:
    table = load_breast_cancer(as_frame=True).frame.sample(rows, random_state=seed)
    table["diagnosis"] = np.where(table.pop("target") == 1, "benign", "malignant")
    table.to_csv(path, index=False)


def test_accuracy(data: modelzoo.FileData, settings: dict, seed: int) -> float:
    model = modelzoo.build("mlp", data=data, seed=seed, **settings)
    modelzoo.fit(model, verbose=0)
    return modelzoo.evaluate(model)["accuracy"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    columns = ("defaults", "tuned on validation", "tuned by k-fold")
    results: dict[str, list[float]] = {c: [] for c in columns}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            table = Path(tmp) / f"cells_{seed}.csv"
            write_table(table, args.rows, seed)
            data = modelzoo.load_files(table, target="diagnosis", seed=seed)
            print(f"seed {seed}: splits {dict(data.info.splits)}", flush=True)
            results["defaults"].append(test_accuracy(data, {}, seed))
            for column, folds in (("tuned on validation", 1), ("tuned by k-fold", None)):
                with contextlib.redirect_stdout(io.StringIO()):
                    found = modelzoo.tune(
                        "mlp", data=data, trials=args.trials, folds=folds, runs_dir=Path(tmp) / "runs"
                    )
                settings = found.best["settings"]
                score = test_accuracy(data, settings, seed)
                results[column].append(score)
                print(
                    f"  {column}: {found.folds} fold(s), best {found.objective} {found.best['score']:.4f}, "
                    f"test {score:.4f}, settings {settings}",
                    flush=True,
                )
            print(f"  defaults: test {results['defaults'][-1]:.4f}", flush=True)
    print(f"\n{'':<22}" + "".join(f"{c:>22}" for c in columns))
    print(f"{'mean test accuracy':<22}" + "".join(f"{mean(results[c]):>22.4f}" for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
