"""``prefstream pairs build`` on 100,000 turns x 4 candidates (~400,000 events, ~1 KB each).

The input is generated on the fly (seeded) into a temp dir; each run is a fresh process,
timed wall-clock with its peak RSS (``ru_maxrss`` of the child). Reports the median.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prefstream_testing.synthetic import synthetic_lines


def one_run(src: Path, out: Path) -> tuple[float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "prefstream_cli",
            "pairs",
            "build",
            str(src),
            "-o",
            str(out),
            "--no-progress",
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, help="append the JSON result here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="prefstream-bench-"))
    src = tmp / "candidates.jsonl"
    with src.open("wb") as fh:
        for line in synthetic_lines(args.turns, 4, seed=42, event_bytes=1000, interleave=16):
            fh.write(line)
    size = src.stat().st_size
    walls, cpus, rss = [], [], []
    for _ in range(args.runs):
        # Each run writes a fresh file: output is ~2x the input (a pair repeats the prompt).
        out = tmp / "pairs.jsonl"
        out.unlink(missing_ok=True)
        w, c, r = one_run(src, out)
        walls.append(w)
        cpus.append(c)
        rss.append(r)
    res = {
        "bench": "pairs build",
        "machine": f"{os.cpu_count()} vCPU",
        "events": args.turns * 4,
        "input_mb": round(size / 2**20),
        "output_mb": round((tmp / "pairs.jsonl").stat().st_size / 2**20),
        "wall_s_median": round(statistics.median(walls), 2),
        "wall_s_runs": [round(w, 2) for w in walls],
        "cpu_s_median": round(statistics.median(cpus), 2),
        "peak_rss_mb": round(max(rss)),
    }
    print(json.dumps(res))
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(res) + "\n")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
