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
from aiokafka.partitioner import DefaultPartitioner
from prefstream_config import KafkaConfig
from prefstream_kafka import ensure_topics
from prefstream_kafka.local_brokers._process import ManagedProcess
from prefstream_kafka.local_brokers.ports import free_port
from prefstream_pairing import OfflineBuilder, PairingOptions
from prefstream_stores.pairing import read_pair_ids

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
    producer = AIOKafkaProducer(
        bootstrap_servers=env.bootstrap,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        enable_idempotence=False,
    )
    await producer.start()
    try:
        parts = sorted(await producer.partitions_for(env.candidates))
        partitioner = DefaultPartitioner()
        for start in range(0, len(lines), chunk):
            by_part: dict[int, list[tuple[bytes | None, bytes]]] = {}
            for line in lines[start : start + chunk]:
                key = _key_of(line)
                part = partitioner(key, parts, parts) if key is not None else parts[0]
                by_part.setdefault(part, []).append((key, line))
            futures = []
            for part, recs in by_part.items():
                batch = producer.create_batch()
                for key, value in recs:
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        futures.append(
                            await producer.send_batch(batch, env.candidates, partition=part)
                        )
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                futures.append(await producer.send_batch(batch, env.candidates, partition=part))
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


class TopicReader:
    """Reads a topic from the beginning without a group, accumulating values."""

    def __init__(self, env: Env, topic: str) -> None:
        self.env = env
        self.topic = topic
        self.values: list[bytes] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.env.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        await self._consumer.start()
        parts = self._consumer.partitions_for_topic(self.topic) or set()
        if not parts:
            parts = set(range(self.env.partitions if self.topic != self.env.deadletter else 1))
        tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self, timeout_s: float = 0.5) -> int:
        assert self._consumer is not None
        got = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=10000)
        n = 0
        for recs in got.values():
            for r in recs:
                self.values.append(r.value)
                n += 1
        return n

    def pair_ids(self) -> list[str]:
        return [str(msgspec.json.decode(v)["pair_id"]) for v in self.values]

    async def wait_for(
        self, done: Any, timeout_s: float, *, services: Sequence[Service] = ()
    ) -> None:
        """Poll until ``done(self)`` is true; fail with service logs at the deadline."""
        deadline = time.monotonic() + timeout_s
        while not done(self):
            if time.monotonic() > deadline:
                logs = "\n".join(s.proc.tail(40) for s in services)
                raise AssertionError(
                    f"timed out after {timeout_s}s; have {len(self.values)}\n{logs}"
                )
            await self.poll()
