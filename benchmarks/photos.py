"""A real photo folder through `modelzoo train cnn --data FOLDER`: test accuracy and time at several
image sizes, with and without augmentation.

    python benchmarks/photos.py /tmp/photos/training_set --sizes 64 32 --augment photo none
    python benchmarks/photos.py FOLDER --sizes 64 --augment photo --set blocks=2 --set convs=1
    python benchmarks/photos.py FOLDER --architecture mobilenet --sizes default --augment photo none

FOLDER is a user's folder (`<class>/*.jpg`), split by `load_files` as a user's is. For each image size
(`default`: what `load_files` infers, or the architecture's photo size) and each `augment` setting,
`--architecture` (`cnn` by default) is built as `modelzoo train cnn --data FOLDER` builds it (on
colour photos, its photo settings: `modelzoo describe cnn`) with
`--set` on top, trained, and evaluated on the folder's test split; a row gives the accuracy, the
majority class's share of test, the lowest recall of a class, epochs and seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import modelzoo  # noqa: E402
from modelzoo.runs import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--architecture", default="cnn")
    parser.add_argument("--sizes", nargs="+", default=["default", "64", "128"])
    parser.add_argument("--augment", nargs="+", default=["auto", "none"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    from modelzoo.cli import parse_sets

    overrides = parse_sets(args.architecture, args.set)
    print(f"machine: {machine()}")
    print(
        f"{'size':<10} {'augment':<8} {'accuracy':>8} {'majority':>8} {'min recall':>10} "
        f"{'epochs':>6} {'seconds':>8}"
    )
    for size in args.sizes:
        image_size = None if size == "default" else (int(size), int(size))
        data = modelzoo.load_files(args.folder, image_size=image_size)
        for augment in args.augment:
            start = time.perf_counter()
            model = modelzoo.build(args.architecture, data=data, augment=augment, **overrides)
            shown = "x".join(map(str, model.modelzoo.info.input_shape[:2]))  # an architecture's photo size
            history = modelzoo.fit(model, verbose=0)
            report = modelzoo.evaluate(model, report=True)
            seconds = time.perf_counter() - start
            counts = np.asarray(report.confusion_matrix).sum(axis=1)
            recall = min(v["recall"] for v in report.per_class.values())
            print(
                f"{shown:<10} {augment:<8} {report.accuracy:>8.4f} {counts.max() / counts.sum():>8.4f} "
                f"{recall:>10.4f} {len(history.epoch):>6} {seconds:>8.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
