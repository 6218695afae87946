"""The image-folder loader (`modelzoo.load_files`) against `keras.utils.image_dataset_from_directory`
on the same folder: images/s through a full pass of the train split, and peak memory.

Each loader runs in its own process (so peak memory is its own): it reads the folder, then times
epoch 1 (files decoded from disk; the zoo decodes a split that fits in memory once, there) and
epoch 2 (the zoo from memory; Keras decodes again); `streamed` is the zoo's path for folders too
large for memory. Batch 32, the folder's most common image size, grey when every image is grey,
as `load_files` infers it.

    python benchmarks/image_folder.py FOLDER            # root/<class>/* or root/{train,test}/<class>/*
    python benchmarks/image_folder.py --mnist ../shared/data/mnist   # MNIST written as 70,000 PNGs
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

    modelzoo.load_files  # noqa: B018 (imports TensorFlow and the package before the clock starts)
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
    """Seconds of two full passes (the first includes making the pipeline: the zoo decodes a
    split that fits in memory there), and the process's peak resident memory."""
    start = time.perf_counter()
    dataset = make()
    seconds = []
    for _ in range(2):
        images = 0
        for x, _ in dataset:
            images += int(x.shape[0])
        seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"images": images, "epoch1_s": seconds[0], "epoch2_s": seconds[1], "peak_mb": peak_mb}


def write_mnist_folder(idx_dir: Path, root: Path) -> Path:
    """MNIST's 70,000 images as `root/{train,test}/<digit>/<i>.png`, from its four IDX files."""
    import gzip

    import numpy as np
    from PIL import Image

    def idx(name: str) -> np.ndarray:
        raw = gzip.decompress((idx_dir / f"{name}.gz").read_bytes())
        dims = raw[3]
        shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
        return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)

    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = idx(f"{prefix}-images-idx3-ubyte"), idx(f"{prefix}-labels-idx1-ubyte")
        for i, (image, label) in enumerate(zip(images, labels)):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i}.png")
    return root


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
    parser.add_argument(
        "--mnist", metavar="IDX_DIR", help="write MNIST's 70,000 images as PNGs from its IDX files"
    )
    parser.add_argument("--run", choices=tuple(LOADERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(LOADERS[args.run][1](args.folder)))
        return
    if sum(map(bool, (args.quick, args.folder, args.mnist))) != 1:
        parser.error("give a FOLDER, --mnist IDX_DIR or --quick")
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            folder = str(write_quick_folder(Path(tmp)))
        elif args.mnist:
            folder = str(write_mnist_folder(Path(args.mnist), Path(tmp) / "mnist"))
        else:
            folder = args.folder
        results = {loader: measure(loader, folder) for loader in LOADERS}
    print(f"{folder}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    header = ("loader", "read s", "images", "epoch 1 img/s", "with read", "epoch 2 img/s", "peak MB")
    widths = (40, 7, 7, 14, 10, 14, 8)
    print(" ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths))))
    for r in results.values():  # images/s; "with read" counts the read before epoch 1 too
        r |= {
            "epoch1": r["images"] / r["epoch1_s"],
            "with_read": r["images"] / (r["read_s"] + r["epoch1_s"]),
            "epoch2": r["images"] / r["epoch2_s"],
        }
    for loader, r in results.items():
        print(
            f"{LOADERS[loader][0]:<40} {r['read_s']:>7.1f} {r['images']:>7} {r['epoch1']:>14,.0f} "
            f"{r['with_read']:>10,.0f} {r['epoch2']:>14,.0f} {r['peak_mb']:>8,.0f}"
        )
    keras_ = results["keras"]
    for loader in ("zoo", "zoo_stream"):
        ours = results[loader]
        ratios = {k: ours[k] / keras_[k] for k in ("with_read", "epoch1", "epoch2")}
        print(
            f"{LOADERS[loader][0]} / keras: epoch 1 with the read {ratios['with_read']:.2f}x, "
            f"epoch 1 {ratios['epoch1']:.2f}x, epoch 2 {ratios['epoch2']:.2f}x"
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
