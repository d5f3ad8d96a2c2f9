"""The embedded Tansu launcher: starts, answers a metadata request, stops, cleans up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prefstream_kafka.local_brokers import (
    BrokerNotReadyError,
    BrokerStartError,
    EmbeddedTansu,
    metadata_round_trip,
)
from prefstream_kafka.local_brokers.ports import is_port_free
from prefstream_testing.apache_kafka import ApacheKafka

from tests.support.processes import ctrl_c, started

pytestmark = pytest.mark.timeout(120)


async def test_tansu_starts_answers_and_stops(tmp_path: Path) -> None:
    broker = EmbeddedTansu(log_path=tmp_path / "tansu.log")
    with broker:
        assert broker.is_running
        assert broker.kind == "tansu"
        assert broker.bootstrap_servers.startswith("127.0.0.1:")
        assert await metadata_round_trip(broker.bootstrap_servers) >= 1
        pid, address = broker.pid, broker.bootstrap_servers
    assert pid is not None
    assert not broker.is_running
    assert is_port_free(broker.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(BrokerNotReadyError):
        await metadata_round_trip(broker.bootstrap_servers, timeout_s=1.0)
    assert "listening on" in (tmp_path / "tansu.log").read_text()

    with broker:  # a restart keeps the address (and, Tansu being memory-only, nothing else)
        assert broker.bootstrap_servers == address
        assert await metadata_round_trip(address) >= 1
    assert not broker.is_running


def test_explicit_port_in_use_says_so(tmp_path: Path) -> None:
    with (
        EmbeddedTansu(log_path=tmp_path / "a.log") as first,
        pytest.raises(BrokerStartError, match="already in use"),
    ):
        EmbeddedTansu(first.port, log_path=tmp_path / "b.log").start()


def test_run_forever_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    """What ``prefstream broker`` does on Ctrl-C: exit 0 and leave no broker behind."""
    code = (
        "import sys; from prefstream_kafka.local_brokers import EmbeddedTansu; "
        f"sys.exit(EmbeddedTansu(log_path={str(tmp_path / 'fg.log')!r}).run_forever())"
    )
    with started(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        first_line = proc.stdout.readline()  # blocks until ready (or the process dies)
        assert "listening on 127.0.0.1:" in first_line, first_line
        bootstrap = first_line.split("listening on ", 1)[1].split()[0]
        assert ctrl_c(proc, timeout=30) == 0
    # The launcher reaps Tansu before it returns, so the port is free at once.
    assert is_port_free(int(bootstrap.rsplit(":", 1)[1]))


async def test_kafka_broker_fixture_round_trip(kafka_broker: EmbeddedTansu | ApacheKafka) -> None:
    """Whichever broker PREFSTREAM_TEST_BROKER selects: produce, then consume in a group."""
    topic = f"fixture-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap_servers,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        msg = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (msg.key, msg.value) == (b"k", b"hello")
