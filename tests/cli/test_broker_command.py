"""``prefstream broker`` as a user runs it: answers Kafka requests, stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from prefstream_kafka.local_brokers.ports import free_port

from tests.support.processes import ctrl_c, started

REPO = Path(__file__).resolve().parents[2]


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def test_broker_command_serves_kafka_and_stops_on_ctrl_c() -> None:
    port = free_port()
    with started(
        [sys.executable, "-m", "prefstream_cli", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in first, first
        assert isinstance(asyncio.run(list_topics(f"127.0.0.1:{port}")), list)
        assert ctrl_c(proc, timeout=15) == 0


def test_apache_kafka_script_starts_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """``scripts/apache-kafka.sh start`` as a user runs it (it used to crash before starting:
    the banner asked for the port before the broker had one)."""
    port = free_port()
    with started(
        [
            *("bash", str(REPO / "scripts" / "apache-kafka.sh"), "start"),
            *("--dir", str(tmp_path / "kafka"), "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in first, first + proc.stderr.read()
        assert isinstance(asyncio.run(list_topics(f"127.0.0.1:{port}")), list)
        assert ctrl_c(proc, timeout=60) == 0
