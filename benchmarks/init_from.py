"""What starting from published weights buys on a small folder of your own: `init_from="zoo"` against
a random start, after 1, 3 and 10 epochs.

    python benchmarks/init_from.py --data-dir ../shared/data

Writes a folder of PNGs the way a user has one (`train/`, `validation/`, `test/`, one subfolder per
class) from Fashion-MNIST (`--per-class` training images a class, 200 in all by default, 10 a class
for validation, 100 a class for test), then trains `cnn_mnist` on it through `load_files`, once
from the weights that ship for `cnn_mnist` (digits) and once from its seeded random start, with the
same seed and the recipe's other settings, and prints the test accuracy of each.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import modelzoo  # noqa: E402


def write_folder(root: Path, data_dir: str, per_class: dict[str, int]) -> None:
    """root/<split>/<class>/<n>.png from Fashion-MNIST's train (train, validation) and test images."""
    names = [n.replace("/", "_") for n in modelzoo.dataset_info("fashion_mnist").class_names]
    for split, source, skip in (("train", "train", 0), ("validation", "train", 1000), ("test", "test", 0)):
        x, y = next(
            iter(modelzoo.load_dataset("fashion_mnist", source, batch_size=20_000, data_dir=data_dir))
        )
        x, y = x.numpy()[skip:], y.numpy()[skip:]
        for label, name in enumerate(names):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in np.flatnonzero(y == label)[: per_class[split]]:
                Image.fromarray(x[i].reshape(28, 28).astype(np.uint8)).save(folder / f"{i}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="holding fashion_mnist/ (the IDX files)")
    parser.add_argument("--per-class", type=int, default=20, help="training images a class (default: 20)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 3, 10])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "clothes"
        write_folder(root, args.data_dir, {"train": args.per_class, "validation": 10, "test": 100})
        data = modelzoo.load_files(root)
        sizes = dict(data.info.splits)
        print(f"folder: {sizes} images, {data.info.num_classes} classes, input {data.info.input_shape}")
        print(f"{'start':<32} " + " ".join(f"{f'{e} epochs':>10}" for e in args.epochs))
        for start in ("zoo", None):
            scores = []
            for epochs in args.epochs:
                model = modelzoo.build(
                    "cnn_mnist", data=data, init_from=start, epochs=epochs, patience=epochs
                )
                modelzoo.fit(model, verbose=0)
                scores.append(modelzoo.evaluate(model)["accuracy"])
            label = "cnn_mnist weights (init_from=zoo)" if start else "random (seed 0)"
            print(f"{label:<32} " + " ".join(f"{s:>10.4f}" for s in scores), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
