"""Every broker command against a broker that is not there: one line naming the broker, a
non-zero exit, within ``kafka.request_timeout_ms`` (issue #14, defect 5)."""

from __future__ import annotations

import asyncio
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from click.testing import CliRunner
from prefstream_cli.main import cli
from prefstream_config import KafkaConfig
from prefstream_events import encode
from prefstream_kafka.local_brokers import EmbeddedTansu
from prefstream_kafka.topics import ensure_topics, topic_specs

from tests.cli.test_publish import line
from tests.cli.test_watch import job

pytestmark = pytest.mark.timeout(180)

TIMEOUT_MS = 3000
EXIT_UNREACHABLE = 5
SLACK_S = 1.0
"""Closing the clients after the deadline; the deadline itself is the config's."""


@pytest.fixture
def refusing() -> Iterator[str]:
    """A port bound but not listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts the TCP handshake (the kernel does, from the backlog) and then
    never answers a request: nothing ever reads from it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def commands(tmp_path: Path) -> dict[str, list[str]]:
    src = tmp_path / "good.jsonl"
    src.write_bytes(line() + b"\n")
    return {
        "publish": ["publish", str(src)],
        "dataset cut": ["dataset", "cut"],
        "dataset cut --no-wait": ["dataset", "cut", "--no-wait"],
        "watch": ["watch"],
        "watch --json": ["watch", "--json"],
    }


@pytest.mark.parametrize("broker", ["refusing", "silent"])
def test_every_command_fails_fast_with_one_line_naming_the_broker(
    broker: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    address: str = request.getfixturevalue(broker)
    settings = [
        *("-o", "kafka.bootstrap_servers", address),
        *("-o", "kafka.request_timeout_ms", str(TIMEOUT_MS)),
    ]
    for name, args in commands(tmp_path).items():
        started = time.monotonic()
        result = CliRunner().invoke(cli, [*args, *settings])
        took = time.monotonic() - started
        stderr = result.stderr.strip().splitlines()
        assert result.exit_code == EXIT_UNREACHABLE, (name, result.output, result.exception)
        assert len(stderr) == 1, (name, result.stderr)
        assert address in stderr[0], (name, stderr)
        assert "kafka.bootstrap_servers" in stderr[0], (name, stderr)  # what to do
        assert took < TIMEOUT_MS / 1000 + SLACK_S, (name, took)


def test_watch_exits_when_the_broker_goes_away(tmp_path: Path) -> None:
    """A real ``prefstream watch`` process, a real broker stopped under it."""
    broker = EmbeddedTansu(log_path=tmp_path / "tansu.log")
    with broker:
        watch = subprocess.Popen(
            [
                *(sys.executable, "-m", "prefstream_cli", "watch", "--json"),
                *("-o", "kafka.bootstrap_servers", broker.bootstrap_servers),
                *("-o", "kafka.request_timeout_ms", str(TIMEOUT_MS)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Reading: it printed the job event (it replays from the beginning).
            asyncio.run(_publish_a_job(broker.bootstrap_servers))
            assert watch.stdout is not None
            ready, _, _ = select.select([watch.stdout], [], [], 60)
            assert ready, "watch printed nothing in 60 s"
            assert '"status"' in watch.stdout.readline()
        except BaseException:
            watch.kill()
            raise
    stopped = time.monotonic()
    try:
        _, stderr = watch.communicate(timeout=3 * TIMEOUT_MS / 1000 + 10)
    finally:
        watch.kill()
    took = time.monotonic() - stopped
    lines = stderr.strip().splitlines()
    assert watch.returncode == EXIT_UNREACHABLE, stderr[-2000:]
    assert len(lines) == 1, stderr[-2000:]
    assert broker.bootstrap_servers in lines[0]
    assert took < 2 * TIMEOUT_MS / 1000 + 5, took


async def _publish_a_job(address: str) -> None:
    """The topics ``watch`` follows, and one job event on them."""
    kafka = KafkaConfig.model_validate({"bootstrap_servers": address})
    await ensure_topics(kafka, topic_specs(kafka))
    producer = AIOKafkaProducer(bootstrap_servers=address)
    await producer.start()
    try:
        await producer.send_and_wait(kafka.topics.jobs, encode(job("ttt-1")), key=b"key-ttt-1")
    finally:
        await producer.stop()
