"""``prefstream pairs build`` on 100,000 turns x 4 candidates (~400,000 events, ~1 KB each).

The input is generated on the fly (seeded) into a temp dir; each run is a fresh process,
timed wall-clock with its peak RSS (``ru_maxrss`` of the child). The columnar engine
(what ``--engine auto`` picks from 64 MiB of input) and the per-object one run alternately
in the same session, so a busy machine slows both alike; it reports the medians, their
ratio, and whether the two outputs are byte-identical.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prefstream_testing.synthetic import synthetic_lines

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import print_table

ENGINES = ("columnar", "objects")


def write_input(path: Path, turns: int) -> None:
    with path.open("wb") as fh:
        for line in synthetic_lines(turns, 4, seed=42, event_bytes=1000, interleave=16):
            fh.write(line)


def one_run(src: Path, out: Path, engine: str = "columnar") -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one ``pairs build`` process (its own rusage, from
    ``wait4``: ``RUSAGE_CHILDREN``'s peak would be the largest of all runs so far)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
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
            "--engine",
            engine,
        ],
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    # Forked readers/writers are the child's children: their CPU is counted, their RSS is
    # not (each is at most the parent's, shared copy-on-write).
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def compare(src: Path, tmp: Path, runs: int, turns: int) -> list[dict[str, object]]:
    """Both engines, alternately, ``runs`` times; one result row per engine."""
    walls: dict[str, list[float]] = {e: [] for e in ENGINES}
    cpus: dict[str, list[float]] = {e: [] for e in ENGINES}
    rss: dict[str, list[float]] = {e: [] for e in ENGINES}
    for _ in range(runs):
        for engine in ENGINES:
            out = tmp / f"pairs-{engine}.jsonl"
            out.unlink(missing_ok=True)
            w, c, r = one_run(src, out, engine)
            walls[engine].append(w)
            cpus[engine].append(c)
            rss[engine].append(r)
    same = filecmp.cmp(tmp / "pairs-columnar.jsonl", tmp / "pairs-objects.jsonl", shallow=False)
    rows: list[dict[str, object]] = []
    for engine in ENGINES:
        rows.append(
            {
                "bench": "pairs build",
                "engine": engine,
                "machine": f"{os.cpu_count()} vCPU",
                "events": turns * 4,
                "input_mb": round(src.stat().st_size / 2**20),
                "output_mb": round((tmp / f"pairs-{engine}.jsonl").stat().st_size / 2**20),
                "wall_s_median": round(statistics.median(walls[engine]), 2),
                "wall_s_runs": [round(w, 2) for w in walls[engine]],
                "cpu_s_median": round(statistics.median(cpus[engine]), 2),
                "peak_rss_mb": round(max(rss[engine])),
                "speedup": round(
                    statistics.median(walls["objects"]) / statistics.median(walls[engine]), 2
                ),
                "byte_identical": same,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, help="append the JSON results here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="prefstream-bench-"))
    src = tmp / "candidates.jsonl"
    write_input(src, args.turns)
    rows = compare(src, tmp, args.runs, args.turns)
    for row in rows:
        print(json.dumps(row))
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    print_table(
        rows, ("engine", "events", "wall_s_median", "wall_s_runs", "peak_rss_mb", "speedup")
    )
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
