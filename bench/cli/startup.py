"""``make bench-cli``: how long the ``prefstream`` command takes to start, as a user feels it.

Each figure is the median wall time of fresh processes (``prefstream`` as installed, so the
entry-point script's own start counts too). Targets from issue #13: ``--help`` ≤ 0.3 s and
``pairs build`` of a 10-line file ≤ 0.6 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prefstream_testing.synthetic import synthetic_lines

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from report import print_table  # noqa: E402

PREFSTREAM = Path(sys.executable).parent / "prefstream"


def median_wall(argv: list[str], runs: int) -> tuple[float, list[float]]:
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls), walls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="prefstream-bench-cli-") as tmp:
        tiny = Path(tmp) / "candidates.jsonl"
        tiny.write_bytes(b"".join(list(synthetic_lines(3, 4, seed=1))[:10]))
        out = Path(tmp) / "pairs.jsonl"
        cases = [
            ("prefstream --help", [str(PREFSTREAM), "--help"], 0.3),
            ("prefstream config show", [str(PREFSTREAM), "config", "show"], None),
            (
                "prefstream pairs build (10 lines)",
                [str(PREFSTREAM), "pairs", "build", str(tiny), "-o", str(out), "--no-progress"],
                0.6,
            ),
            ("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"], None),
        ]
        rows = []
        for name, argv, target in cases:
            median, walls = median_wall(argv, args.runs)
            rows.append(
                {
                    "command": name,
                    "median_s": round(median, 3),
                    "runs_s": [round(w, 3) for w in walls],
                    "target_s": target,
                    "meets": None if target is None else median <= target,
                }
            )
    print_table(rows, ("command", "median_s", "target_s", "meets", "runs_s"))


if __name__ == "__main__":
    main()
