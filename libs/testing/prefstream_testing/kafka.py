"""Kafka helpers for tests: short group timeouts, a batched keyed producer, a topic reader.

The service harnesses (``tests/pairing_service``, ``tests/batcher_service``) and the chaos
suite build on these; every wait is on an observed output with a deadline, never on lag
or end offsets (Tansu's are wrong after batched produce).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from prefstream_config import KafkaConfig
from prefstream_events import DatasetReady, DeadLetter, decode


@dataclass
class Record:
    """A consumed record as handlers read it (the fields of ``SourceRecord``), for tests
    that drive a handler without a broker."""

    topic: str = "t"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    key: bytes | None = None
    value: bytes | None = b"{}"


def test_profile(kafka: KafkaConfig) -> KafkaConfig:
    """Short group timeouts: Tansu takes ``session_timeout/2`` per join, so tests use 2 s."""
    return kafka.model_copy(update={"session_timeout_ms": 2000, "heartbeat_interval_ms": 500})


test_profile.__test__ = False  # type: ignore[attr-defined]  # a helper, not a pytest test


async def produce_batched(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes]],
    *,
    chunk: int = 5000,
) -> dict[int, int]:
    """Send ``(key, value)`` records with aiokafka's batch API, batched per partition, as a
    keyed producer would place them (Kafka's default partitioner; keyless records go to the
    first partition). Returns how many records went to each partition."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        enable_idempotence=False,
    )
    sent: dict[int, int] = {}
    await producer.start()
    try:
        parts = sorted(await producer.partitions_for(topic))
        partitioner = DefaultPartitioner()
        cache: dict[bytes | None, int] = {None: parts[0]}
        for start in range(0, len(records), chunk):
            by_part: dict[int, list[tuple[bytes | None, bytes]]] = {}
            for key, value in records[start : start + chunk]:
                part = cache.get(key)
                if part is None:
                    part = cache[key] = partitioner(key, parts, parts)
                by_part.setdefault(part, []).append((key, value))
            futures = []
            for part, recs in by_part.items():
                sent[part] = sent.get(part, 0) + len(recs)
                batch = producer.create_batch()
                for key, value in recs:
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        futures.append(await producer.send_batch(batch, topic, partition=part))
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)
                futures.append(await producer.send_batch(batch, topic, partition=part))
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


class _Process(Protocol):
    def tail(self, lines: int = ...) -> str: ...


class Watched(Protocol):
    """A service under test whose log tail explains a timeout."""

    @property
    def proc(self) -> _Process: ...


class TopicReader:
    """Reads a topic from the beginning without a consumer group, keeping every record.

    ``partitions`` is the fallback when the broker's metadata does not list the topic yet.
    """

    def __init__(self, bootstrap: str, topic: str, *, partitions: int = 1) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.values: list[bytes] = []
        self.headers: list[dict[str, bytes]] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Self:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        try:  # __aexit__ runs only once this returned
            await consumer.start()
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(self.topic) or set(range(self.partitions))
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self, timeout_s: float = 0.2) -> int:
        """Fetch what has arrived (waiting up to ``timeout_s``); returns how many records."""
        assert self._consumer is not None, "use the reader as an async context manager"
        got = await self._consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=10000)
        n = 0
        for records in got.values():
            for r in records:
                self.values.append(r.value or b"")
                self.headers.append(dict(r.headers))
                n += 1
        return n

    async def wait_for(
        self,
        done: Callable[..., bool],
        timeout_s: float,
        what: str = "records",
        *,
        services: Sequence[Watched] = (),
    ) -> list[bytes]:
        """Poll until ``done(reader)`` is true; fail at the deadline with the services' logs.

        ``done`` is called with this reader (typed loosely so that a lambda binding a loop
        variable as a default argument still type-checks)."""
        deadline = time.monotonic() + timeout_s
        while not done(self):
            if time.monotonic() > deadline:
                logs = "\n".join(s.proc.tail(40) for s in services)
                raise AssertionError(
                    f"timed out after {timeout_s}s waiting for {what}; "
                    f"have {len(self.values)}\n{logs}"
                )
            await self.poll()
        return self.values

    def pair_ids(self) -> list[str]:
        """The ``pair_id`` of every record read (a pairs topic)."""
        return [str(msgspec.json.decode(v)["pair_id"]) for v in self.values]

    def datasets(self) -> list[DatasetReady]:
        return [decode(DatasetReady, v) for v in self.values]

    def dead_letters(self) -> list[DeadLetter]:
        return [decode(DeadLetter, v) for v in self.values]
