"""Drive the real pairing service as a subprocess against a real broker, and observe it.

Every wait is on an observed output (pairs on the topic, a 200 from /readyz) with a
deadline, never on lag or end offsets (Tansu's are wrong after batched produce).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prefstream_config import KafkaConfig
from prefstream_kafka import ensure_topics
from prefstream_kafka.local_brokers._process import ManagedProcess
from prefstream_kafka.local_brokers.ports import free_port
from prefstream_pairing import OfflineBuilder, PairingOptions
from prefstream_stores.pairing import read_pair_ids
from prefstream_testing import kafka as kafka_testing

from tests.support import http_probe

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Env:
    """One isolated pairing deployment: own topics, group and DB files on a shared broker."""

    bootstrap: str
    tmp: Path
    partitions: int = 4
    gap_s: float = 3.0
    late_policy: str = "pair"
    extra: dict[str, str] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def candidates(self) -> str:
        return f"t{self.tag}.candidates"

    @property
    def pairs(self) -> str:
        return f"t{self.tag}.pairs"

    @property
    def deadletter(self) -> str:
        return f"t{self.tag}.deadletter"

    def kafka(self) -> KafkaConfig:
        return KafkaConfig.model_validate(
            {
                "bootstrap_servers": self.bootstrap,
                "partitions": self.partitions,
                "topics": {
                    "candidates": self.candidates,
                    "pairs": self.pairs,
                    "deadletter": self.deadletter,
                    "datasets": f"t{self.tag}.datasets",
                    "jobs": f"t{self.tag}.jobs",
                    "control": f"t{self.tag}.control",
                },
            }
        )

    def overrides(self, name: str, port: int) -> dict[str, str]:
        return {
            "kafka.bootstrap_servers": self.bootstrap,
            "kafka.partitions": str(self.partitions),
            "kafka.topics.candidates": self.candidates,
            "kafka.topics.pairs": self.pairs,
            "kafka.topics.deadletter": self.deadletter,
            "kafka.topics.datasets": f"t{self.tag}.datasets",
            "kafka.topics.jobs": f"t{self.tag}.jobs",
            "kafka.topics.control": f"t{self.tag}.control",
            "kafka.session_timeout_ms": "2000",
            "kafka.heartbeat_interval_ms": "500",
            "pairing.group_id": f"g{self.tag}",
            "pairing.db_path": str(self.db(name)),
            "pairing.http_port": str(port),
            "pairing.inactivity_gap_seconds": str(self.gap_s),
            "pairing.late_policy": self.late_policy,
            "logging.level": "INFO",
            **self.extra,
        }

    def db(self, name: str) -> Path:
        return self.tmp / f"{name}.duckdb"

    async def create_topics(self) -> None:
        await ensure_topics(self.kafka())


class Service:
    """One ``prefstream service pairing`` process; SIGKILL and restart keep its DB file."""

    def __init__(self, env: Env, name: str = "p0") -> None:
        self.env = env
        self.name = name
        self.port = free_port()
        argv = [sys.executable, "-m", "prefstream_cli", "service", "pairing"]
        for key, value in env.overrides(name, self.port).items():
            argv += ["--set", key, value]
        self.proc = ManagedProcess(
            argv,
            name=f"pairing {name}",
            log_path=env.tmp / f"{name}.log",
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=REPO,
        )

    def start(self) -> Service:
        self.proc.start()
        if self not in self.env.services:
            self.env.services.append(self)
        return self

    def readyz(self) -> dict[str, Any] | None:
        return http_probe.readyz(self.port)

    def metrics(self) -> str:
        return http_probe.metrics(self.port)

    async def wait_metric(self, line: str, timeout_s: float = 30.0) -> None:
        """Metrics follow the DuckDB commit, which follows the publish: poll for them."""
        deadline = time.monotonic() + timeout_s
        while line not in (text := self.metrics()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{line!r} not in metrics after {timeout_s}s:\n{text}")
            await asyncio.sleep(0.1)

    async def wait_ready(self, timeout_s: float = 60.0, *, partitions: int | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.proc.is_running:
                raise AssertionError(f"service exited:\n{self.proc.tail(60)}")
            body = self.readyz()
            if body and body.get("ready"):
                have = len(body.get("partitions", []))
                if partitions is None or have >= partitions:
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"service not ready in {timeout_s}s:\n{self.proc.tail(60)}")

    def kill(self) -> None:
        self.proc.kill()

    def stop(self, timeout_s: float = 30.0) -> int | None:
        self.proc.terminate(timeout_s)
        return self.proc.returncode

    def pair_ids(self) -> list[str]:
        """Pair ids in this instance's DuckDB file (the process must have exited)."""
        path = self.env.db(self.name)
        return read_pair_ids(path) if path.exists() else []


def offline_pair_ids(
    lines: Iterable[bytes],
    options: PairingOptions | None = None,
    late_policy: str = "pair",
    max_bytes: int = 1_048_576,
) -> set[str]:
    builder = OfflineBuilder(
        options or PairingOptions(), max_bytes=max_bytes, late_policy=late_policy
    )
    builder.feed(lines)
    return {p.pair_id for p in builder.pairs()}


def _key_of(line: bytes) -> bytes | None:
    try:
        doc = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("example_id"), str):
        return str(doc["example_id"]).encode()
    return None


async def produce(env: Env, lines: Sequence[bytes], *, chunk: int = 2000) -> None:
    """Send raw lines keyed by ``example_id`` (as agents do), batched per partition."""
    records = [(_key_of(line), line) for line in lines]
    await kafka_testing.produce_batched(env.bootstrap, env.candidates, records, chunk=chunk)


class TopicReader(kafka_testing.TopicReader):
    """Reads one of this deployment's topics from the beginning, without a group."""

    def __init__(self, env: Env, topic: str) -> None:
        partitions = 1 if topic == env.deadletter else env.partitions
        super().__init__(env.bootstrap, topic, partitions=partitions)


async def send_raw(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[int, bytes | None, bytes, int | None]],
) -> None:
    """Send ``(partition, key, value, timestamp_ms)`` one by one, in order, acknowledged;
    records up to 16 MB (the broker must accept them)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=0,
        max_request_size=16 * 1024 * 1024,
        enable_idempotence=False,
    )
    await producer.start()
    try:
        for part, key, value, ts in records:
            await producer.send_and_wait(topic, value, key=key, partition=part, timestamp_ms=ts)
    finally:
        await producer.stop()


async def committed_offset(env: Env, partition: int) -> int | None:
    """The pairing group's committed offset of one candidates partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=env.bootstrap, group_id=f"g{env.tag}", enable_auto_commit=False
    )
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(TopicPartition(env.candidates, partition))
        return offset
    finally:
        await consumer.stop()


def metric_value(text: str, name: str) -> float:
    """The value of an unlabelled sample in a Prometheus text page (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0
