"""``pairs build`` (whole process) against NAT 1.9.0's ``DPOTrajectoryBuilder`` (in memory).

``make bench-pairing-nat``: 25,000 and 100,000 turns of 4 candidates (the generator of
``offline_bench.py``). prefstream runs as a fresh ``prefstream pairs build`` process, both
engines alternately (median of ``--runs``); NAT runs ``nat_peer.py`` in the side venv
``.cache/nat-venv`` (``make bench-nat-env``), which times only the builder, not its start,
imports or the construction of its input. Without the side venv, NAT is skipped with a line
that says so. The ratio is NAT's time over prefstream's median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from offline_bench import compare, write_input  # type: ignore[import-not-found]  # noqa: E402
from report import print_table  # noqa: E402  (bench/ is not a package)

ROOT = HERE.parent.parent
NAT_PYTHON = ROOT / ".cache" / "nat-venv" / "bin" / "python"


def nat_available() -> str | None:
    """None when the side venv can run NAT's builder, else why not."""
    if not NAT_PYTHON.exists():
        return f"{NAT_PYTHON} is absent (make bench-nat-env creates it)"
    probe = subprocess.run(
        [str(NAT_PYTHON), "-c", "import nat.plugins.customizer.dpo.trajectory_builder"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"{NAT_PYTHON} cannot import NAT's DPO builder: {probe.stderr.strip()[-200:]}"
    return None


def nat_run(src: Path) -> dict[str, object]:
    done = subprocess.run(
        [str(NAT_PYTHON), str(HERE / "nat_peer.py"), str(src)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, nargs="+", default=[25_000, 100_000])
    ap.add_argument("--runs", type=int, default=3, help="pairs build runs per engine")
    ap.add_argument("--nat-runs", type=int, default=1, help="NAT builder runs (slow)")
    ap.add_argument("--out", type=Path, help="append the JSON results here")
    args = ap.parse_args()
    missing = nat_available()
    if missing:
        print(f"NAT comparator skipped: {missing}")
    rows: list[dict[str, object]] = []
    for turns in args.turns:
        tmp = Path(tempfile.mkdtemp(prefix="prefstream-nat-bench-"))
        src = tmp / "candidates.jsonl"
        write_input(src, turns)
        ours = compare(src, tmp, args.runs, turns)
        nat: list[dict[str, object]] = []
        if not missing:
            nat = [nat_run(src) for _ in range(args.nat_runs)]
        for row in ours:
            if nat:
                call = statistics.median(float(str(n["finalize_s"])) for n in nat)
                pairing = statistics.median(float(str(n["pairing_call_s"])) for n in nat)
                wall = float(str(row["wall_s_median"]))
                row["nat_finalize_s"] = round(call, 2)
                row["nat_pairing_call_s"] = round(pairing, 2)
                row["nat_pairs"] = nat[0]["pairs"]
                row["x_vs_nat_finalize"] = round(call / wall, 1)
                row["x_vs_nat_pairing_call"] = round(pairing / wall, 1)
            rows.append(row)
            print(json.dumps(row))
            if args.out:
                with args.out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    print_table(
        rows,
        (
            "engine",
            "events",
            "wall_s_median",
            "peak_rss_mb",
            "nat_finalize_s",
            "nat_pairing_call_s",
            "x_vs_nat_finalize",
            "x_vs_nat_pairing_call",
        ),
    )


if __name__ == "__main__":
    main()
