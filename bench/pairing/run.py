"""``make bench-pairing``: the offline and service benchmarks of docs/performance.md.

Runs ``steps_bench.py`` (the service's per-event CPU step by step, no broker),
``tracing_bench.py`` (what tracing adds to it, by the candidates' sampling),
``offline_bench.py`` (pairs build, 400,000 events) and ``service_bench.py`` (the service
through an embedded Tansu broker: 400,000 events paced at 20k and 10k events/s and flat
out, then 2,000,000 at 20k/s) and prints one JSON line per run. ``--quick`` runs small
sizes, for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from report import print_table  # noqa: E402  (bench/ is not a package)

OFFLINE_COLUMNS = (
    "bench",
    "engine",
    "events",
    "input_mb",
    "wall_s_median",
    "wall_s_runs",
    "peak_rss_mb",
    "speedup",
)
SERVICE_COLUMNS = (
    "events",
    "producer_rate_target",
    "service_rate_sustained",
    "close_latency_p50_s",
    "close_latency_p99_s",
    "rss_peak_mb",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--out", type=Path, help="append every JSON result here")
    args = ap.parse_args()
    results = args.out or Path(tempfile.mkstemp(prefix="bench-pairing-", suffix=".jsonl")[1])
    out = ["--out", str(results)]
    steps = ["--turns", "2000", "--rounds", "1"] if args.quick else ["--rounds", "3"]
    subprocess.run([sys.executable, str(HERE / "steps_bench.py"), *steps], check=True)
    tracing = ["--turns", "500", "--rounds", "1"] if args.quick else []
    subprocess.run([sys.executable, str(HERE / "tracing_bench.py"), *tracing], check=True)
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
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    print_table([r for r in rows if r.get("bench") == "pairs build"], OFFLINE_COLUMNS)
    print_table([r for r in rows if r.get("bench") != "pairs build"], SERVICE_COLUMNS)


if __name__ == "__main__":
    main()
