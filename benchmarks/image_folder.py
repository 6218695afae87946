"""The image-folder loader (`modelzoo.load_files`) against `keras.utils.image_dataset_from_directory`
on the same folder: images/s through a full pass of the train split, and peak memory.

Each loader runs in its own process (so peak memory is its own): it reads the folder, then times
epoch 1 (files decoded from disk; the zoo decodes a split that fits in memory once, there) and
epoch 2 (the zoo from memory; Keras decodes again); `streamed` is the zoo's path for folders too
large for memory. Batch 32, the folder's most common image size, grey when every image is grey,
as `load_files` infers it.

    python benchmarks/image_folder.py FOLDER            # e.g. MNIST written out as 70,000 PNGs
    python benchmarks/image_folder.py --quick           # 3,000 generated PNGs in a temporary folder
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run_zoo(folder: str, in_memory: bool = True) -> dict:
    import modelzoo

    start = time.perf_counter()
    data = modelzoo.load_files(folder)
    read = time.perf_counter() - start
    return {"read_s": read, **time_epochs(lambda: data.dataset("train", 32, seed=0, in_memory=in_memory))}


def run_keras(folder: str) -> dict:
    import keras

    import modelzoo

    info = modelzoo.load_files(folder).info  # same size and colour as the zoo infers
    root = Path(folder) / "train" if (Path(folder) / "train").is_dir() else Path(folder)
    height, width, channels = info.input_shape
    start = time.perf_counter()
    dataset = keras.utils.image_dataset_from_directory(
        root,
        image_size=(height, width),
        color_mode="grayscale" if channels == 1 else "rgb",
        batch_size=32,
        shuffle=True,
        seed=0,
        verbose=False,
    )
    read = time.perf_counter() - start
    return {"read_s": read, **time_epochs(lambda: dataset)}


def time_epochs(make) -> dict:
    """Images/s of two full passes (the first includes making the pipeline: the zoo decodes a
    split that fits in memory there), and the process's peak resident memory."""
    start = time.perf_counter()
    dataset = make()
    rates = []
    for _ in range(2):
        images = 0
        for x, _ in dataset:
            images += int(x.shape[0])
        rates.append(images / (time.perf_counter() - start))
        start = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"images": images, "epoch1": rates[0], "epoch2": rates[1], "peak_mb": peak_mb}


def write_quick_folder(root: Path, n: int = 3000) -> Path:
    """`root/{train,test}/<class>/*.png`: 28x28 grey noise with a bright square per class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        label = int(rng.integers(0, 10))
        image = rng.integers(0, 60, (28, 28), dtype=np.uint8)
        row, col = divmod(label, 4)
        image[row * 7 : row * 7 + 7, col * 7 : col * 7 + 7] = 230
        folder = root / ("test" if i % 7 == 0 else "train") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i}.png")
    return root


def measure(loader: str, folder: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--run", loader, folder], capture_output=True, text=True, timeout=3600
    )
    if result.returncode != 0:
        raise SystemExit(f"{loader} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", help="root/<class>/* or root/{train,test}/<class>/*")
    parser.add_argument("--quick", action="store_true", help="3,000 generated PNGs (~30 s)")
    parser.add_argument("--run", choices=tuple(LOADERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(LOADERS[args.run][1](args.folder)))
        return
    if args.quick == bool(args.folder):
        parser.error("give a FOLDER or --quick")
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(write_quick_folder(Path(tmp))) if args.quick else args.folder
        results = {loader: measure(loader, folder) for loader in LOADERS}
    print(f"{folder}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    header = ("loader", "read s", "images", "epoch 1 img/s", "epoch 2 img/s", "peak MB")
    print(f"{header[0]:<40} {header[1]:>7} {header[2]:>7} {header[3]:>14} {header[4]:>14} {header[5]:>8}")
    for loader, r in results.items():
        print(
            f"{LOADERS[loader][0]:<40} {r['read_s']:>7.1f} {r['images']:>7} {r['epoch1']:>14,.0f} "
            f"{r['epoch2']:>14,.0f} {r['peak_mb']:>8,.0f}"
        )
    keras_ = results["keras"]
    for loader in ("zoo", "zoo_stream"):
        print(
            f"{LOADERS[loader][0]} / keras: epoch 1 {results[loader]['epoch1'] / keras_['epoch1']:.2f}x, "
            f"epoch 2 {results[loader]['epoch2'] / keras_['epoch2']:.2f}x"
        )
    print("(keras reads the whole train folder; the zoo's train split is 90% of it, validation carved out)")


LOADERS = {
    "keras": ("keras image_dataset_from_directory", run_keras),
    "zoo": ("modelzoo load_files", run_zoo),
    "zoo_stream": ("modelzoo load_files, streamed", lambda folder: run_zoo(folder, in_memory=False)),
}
"""Loader name -> (label, function), each run in its own process."""


if __name__ == "__main__":
    main()
