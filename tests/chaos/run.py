"""``make chaos``: the full seeded chaos schedule on a private Apache Kafka, then the table.

    .venv/bin/python -m tests.chaos.run [--seed N] [--profile full|small] [--events N]
                                        [--work DIR] [--plan-only]

Same seed, same plan (``--plan-only`` prints it). Exit status 0 when every invariant
held, 1 when one was violated, 2 on a harness error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from prefstream_testing.apache_kafka import ApacheKafka

from tests.chaos.runner import run_chaos
from tests.chaos.schedule import build_plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tests.chaos.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", choices=("full", "small"), default="full")
    ap.add_argument("--events", type=int, default=None, help="candidate events (default 100k / 3k)")
    ap.add_argument("--work", type=Path, default=None, help="work dir (default: a new temp dir)")
    ap.add_argument("--plan-only", action="store_true", help="print the plan and exit")
    args = ap.parse_args(argv)
    plan = build_plan(args.seed, args.profile, events=args.events)
    print(plan.describe(), flush=True)
    if args.plan_only:
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="prefstream-chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - began:7.1f}s] {line}", flush=True)

    broker = ApacheKafka(work / "kafka")
    broker.start()
    try:
        report = asyncio.run(run_chaos(plan, work / "run", broker, log))
    finally:
        broker.stop()
    print()
    print(report.table(), flush=True)
    print(f"\nwork dir: {work}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
