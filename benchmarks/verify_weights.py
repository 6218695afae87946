"""Every entry whose weights ship, verified: the entry's record, the figure its manifest publishes, and
the figure measured again here on the real test split (`modelzoo verify`), with the files' size.

    python benchmarks/verify_weights.py --data-dir ../shared/data

Exit status 1 when any entry does not verify (figure outside its tolerance, another test split,
a file that does not match its sha256, or outputs that moved on the probe inputs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modelzoo.measured import measurements  # noqa: E402
from modelzoo.publish import verify  # noqa: E402
from modelzoo.weights import shipped, shipped_folder  # noqa: E402
from modelzoo.zoo import describe  # noqa: E402

ROW = "{:<20} {:<9} {:>9} {:>10} {:>9} {:>10} {:>10} {:>8} {:>5}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="entries (default: every entry whose weights ship)")
    parser.add_argument("--data-dir", help="local data (default: $MODELZOO_DATA_DIR, else TFDS)")
    args = parser.parse_args()
    print(
        ROW.format(
            "entry", "metric", "record", "published", "verified", "same split", "verdict", "size MB", "s"
        )
    )
    failed = 0
    total = 0
    for name in args.names or shipped():
        folder = shipped_folder(name)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        total += size
        start = time.perf_counter()
        bundled = describe(name).info.source == "sklearn"  # read from scikit-learn, never from data_dir
        result = verify(name, data_dir=None if bundled else args.data_dir)
        record = measurements().get(name)
        failed += not result.ok
        print(
            ROW.format(
                name,
                result.metric,
                f"{record.value:.4f}" if record else "-",
                f"{result.published:.4f}",
                f"{result.measured:.4f}",
                "yes" if result.same_split else "NO",
                "verified" if result.ok else "FAILED",
                f"{size / 1e6:.2f}",
                f"{time.perf_counter() - start:.0f}",
            ),
            flush=True,
        )
    print(f"{total / 1e6:.1f} MB of weights in the package")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
