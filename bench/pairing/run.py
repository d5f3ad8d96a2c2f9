"""``make bench-pairing``: the offline and service benchmarks of docs/performance.md.

Runs ``offline_bench.py`` (pairs build, 400,000 events) and ``service_bench.py`` (the
service through an embedded Tansu broker: 400,000 events paced at 20k and 10k events/s
and flat out, then 2,000,000 at 20k/s) and prints one JSON line per run. Options are
passed through, e.g. ``--quick`` for a short smoke run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--out", type=Path, help="append every JSON result here")
    args = ap.parse_args()
    out = ["--out", str(args.out)] if args.out else []
    if args.quick:
        runs = [
            [str(HERE / "offline_bench.py"), "--turns", "10000", "--runs", "1"],
            [str(HERE / "service_bench.py"), "--events", "40000", "--rate", "10000"],
        ]
    else:
        runs = [
            [str(HERE / "offline_bench.py"), "--runs", "3"],
            [str(HERE / "service_bench.py"), "--events", "400000", "--rate", "20000", "10000", "0"],
            [str(HERE / "service_bench.py"), "--events", "2000000", "--rate", "20000"],
        ]
    for argv in runs:
        subprocess.run([sys.executable, *argv, *out], check=True)


if __name__ == "__main__":
    main()
