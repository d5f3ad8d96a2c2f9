"""The small chaos schedule, on Apache Kafka (``durable_kafka``: killed and restarted here).

One run of about a minute and a half: a few thousand events with every bad-record kind and
skewed timestamps, one fault of each kind (kill -9 of each service, nmp-local and the
broker; nmp-local 5xx, latency, dropped create responses, failing jobs; a full tmpfs),
then every invariant of ``docs/reliability.md``. The assertion message is the table.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from prefstream_testing.apache_kafka import ApacheKafka

from tests.chaos.runner import run_chaos
from tests.chaos.schedule import build_plan

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.timeout(480)]

SEED = 7


def test_small_chaos_schedule(durable_kafka: ApacheKafka, tmp_path: Path) -> None:
    plan = build_plan(SEED, "small")
    began = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {line}", flush=True)

    report = asyncio.run(run_chaos(plan, tmp_path, durable_kafka, log))
    print(report.table())
    assert report.ok, "\n" + report.table()
