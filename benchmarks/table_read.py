"""Reading a large table: `modelzoo.load_files` (pyarrow, then modelzoo's column rules and the
seeded split) against `pandas.read_csv` (reading only) and the reader modelzoo had before
(Python's csv module and hand-written type inference, commit 58ad005), each in its own process.

Each process imports what it needs first, then reads; the table prints the seconds of the read
and its peak resident memory above what the process held before reading (Linux VmHWM - VmRSS),
as a multiple of the file's size.

    python benchmarks/table_read.py                 # a generated 2,000,000-row CSV (about 200 MB)
    python benchmarks/table_read.py --rows 20000    # quick
    python benchmarks/table_read.py --file my.csv --target label
    python benchmarks/table_read.py --skip old      # the old reader takes minutes on 200 MB
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
OLD_READER = "58ad005"
"""The last commit with the csv-module reader (modelzoo/data/files.py)."""


def write_table(path: Path, rows: int, seed: int = 0) -> Path:
    """A churn-like table: an id, numbers (some missing), categories, a date and a label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows).astype(float)
    age[rng.random(rows) < 0.02] = np.nan
    income = np.round(rng.lognormal(10, 0.6, rows), 2)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "age": age,
            "income": income,
            "tenure_months": rng.integers(0, 120, rows),
            "balance": np.round(rng.normal(1500, 900, rows), 2),
            "score": np.round(rng.random(rows), 4),
            "monthly_charges": np.round(rng.uniform(10, 120, rows), 2),
            "latitude": np.round(rng.uniform(-60, 70, rows), 5),
            "longitude": np.round(rng.uniform(-180, 180, rows), 5),
            "city": rng.choice([f"city_{i}" for i in range(60)], rows),
            "plan": rng.choice(["basic", "plus", "premium", "family", "student"], rows),
            "signup": pd.Timestamp("2020-01-01").normalize()
            + pd.to_timedelta(rng.integers(0, 1500, rows), unit="D"),
            "churned": np.where(rng.random(rows) < 0.3, "yes", "no"),
        }
    )
    frame["signup"] = frame["signup"].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False)
    return path


def memory_mb(field: str) -> float:
    """`VmRSS` or `VmHWM` (peak) of this process, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def run_zoo(path: str, target: str) -> dict:
    import modelzoo

    modelzoo.load_files  # noqa: B018 (imports TensorFlow and the package before measuring)
    import modelzoo.data.tables  # noqa: F401

    return timed(lambda: modelzoo.load_files(path, target=target), lambda d: sum(d.info.splits.values()))


def run_pandas(path: str, target: str) -> dict:
    import pandas as pd

    return timed(lambda: pd.read_csv(path), len)


def run_old(path: str, target: str) -> dict:
    """The reader of commit `OLD_READER`, loaded from git as a module of its own."""
    import importlib.util

    import modelzoo.data  # noqa: F401

    source = subprocess.run(
        ["git", "show", f"{OLD_READER}:modelzoo/data/files.py"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("old_files", f.name)
    old = importlib.util.module_from_spec(spec)
    sys.modules["old_files"] = old  # its dataclasses look their module up there
    spec.loader.exec_module(old)
    return timed(lambda: old.load_files(path, target=target), lambda d: sum(d.info.splits.values()))


def timed(read, count) -> dict:
    before = memory_mb("VmRSS")
    start = time.perf_counter()
    result = read()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": memory_mb("VmHWM") - before, "rows": int(count(result))}


READERS = {
    "zoo": ("modelzoo load_files (pyarrow)", run_zoo),
    "pandas": ("pandas.read_csv (read only)", run_pandas),
    "old": (f"modelzoo load_files at {OLD_READER} (csv module)", run_old),
}


def measure(reader: str, path: Path, target: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--run", reader, "--file", str(path), "--target", target],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        raise SystemExit(f"{reader} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", help="a CSV to read (default: a generated one)")
    parser.add_argument("--target", default="churned", help="its label column")
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the generated CSV")
    parser.add_argument(
        "--skip", action="append", default=[], choices=tuple(READERS), help="leave a reader out"
    )
    parser.add_argument("--run", choices=tuple(READERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(READERS[args.run][1](args.file, args.target)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.file) if args.file else write_table(Path(tmp) / "customers.csv", args.rows)
        size_mb = path.stat().st_size / 2**20
        results = {r: measure(r, path, args.target) for r in READERS if r not in args.skip}
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"{path.name}: {size_mb:,.0f} MB; {machine}")
    print(f"{'reader':<46} {'rows':>10} {'seconds':>8} {'peak MB':>8} {'x file':>7}")
    for reader, r in results.items():
        print(
            f"{READERS[reader][0]:<46} {r['rows']:>10,} {r['seconds']:>8.1f} {r['peak_mb']:>8,.0f} "
            f"{r['peak_mb'] / size_mb:>7.2f}"
        )
    if "pandas" in results and "zoo" in results:
        ratio = results["zoo"]["seconds"] / results["pandas"]["seconds"]
        print(f"modelzoo / pandas.read_csv: {ratio:.2f}x the time")


if __name__ == "__main__":
    main()
