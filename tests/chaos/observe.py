"""Read the broker: whole topics, end offsets, committed offsets, and a stall monitor.

Apache Kafka's end offsets and admin offset fetch are exact (unlike Tansu's), so "drained"
is ``committed == end`` per partition. Every call survives a broker that is down or just
restarted: clients are recreated and the sample is retried on the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Offsets = dict[int, int]


async def read_topic(
    bootstrap: str, topic: str, timeout_s: float = 120.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` up to its end offsets at the time of the call."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    out: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await consumer.start()
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any([await _behind(consumer, tp, end) for tp, end in ends.items()]):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end in {timeout_s}s")
            batch = await consumer.getmany(timeout_ms=500, max_records=20000)
            for records in batch.values():
                out.extend(
                    r for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]
                )
    finally:
        await consumer.stop()
    out.sort(key=lambda r: (r.partition, r.offset))
    return out


async def _behind(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
    return bool(await consumer.position(tp) < end)


class KafkaView:
    """End and committed offsets, reconnecting after broker restarts."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def _clients(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        if self._consumer is None or self._admin is None:
            await self.close()
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, request_timeout_ms=5000
            )
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            self._consumer, self._admin = consumer, admin
            await consumer.start()  # on failure, close() stops both on the next call
            await admin.start()
        return self._consumer, self._admin

    async def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
        self._consumer = self._admin = None

    async def ends(self, topic: str) -> Offsets:
        try:
            consumer, _ = await self._clients()
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            got = await asyncio.wait_for(consumer.end_offsets(tps), 10)
        except Exception:
            await self.close()
            raise
        return {tp.partition: off for tp, off in got.items()}

    async def committed(self, group: str, topic: str) -> Offsets:
        try:
            _, admin = await self._clients()
            got = await asyncio.wait_for(admin.list_consumer_group_offsets(group), 10)
        except Exception:
            await self.close()
            raise
        return {tp.partition: meta.offset for tp, meta in got.items() if tp.topic == topic}


@dataclass
class Stall:
    group: str
    partition: int
    longest_s: float = 0.0
    at_s: float = 0.0


@dataclass
class StallMonitor:
    """Samples each group's committed offsets against the end offsets of its topic.

    A partition *stalls* while it has records below its end and its committed offset does
    not move; time inside an excuse (its consumer or the broker held down by a fault) does
    not count, and the clock restarts when the excuse ends.

    It also keeps, per group and partition, each committed offset with the wall-clock time
    it was first seen (``commits``): the effects of every record below it must exist by then.
    """

    view: KafkaView
    groups: dict[str, tuple[str, str]]
    now: Callable[[], float]
    excused: Callable[[str, float], bool]
    """``excused(group, t)``: a fault holds the group's consumer (or its broker) at ``t``."""
    interval_s: float = 0.5
    stalls: dict[tuple[str, int], Stall] = field(default_factory=dict)
    _since: dict[tuple[str, int], tuple[int, float]] = field(default_factory=dict)
    samples: int = 0
    errors: int = 0
    commits: dict[tuple[str, int], list[tuple[int, float]]] = field(default_factory=dict)

    async def run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval_s)  # sampling period

    async def sample(self) -> None:
        for name, (group, topic) in self.groups.items():
            try:
                ends = await self.view.ends(topic)
                committed = await self.view.committed(group, topic)
            except Exception:
                self.errors += 1
                continue
            t = self.now()
            wall = time.time()
            self.samples += 1
            for p, done in committed.items():
                seen = self.commits.setdefault((name, p), [])
                if not seen or seen[-1][0] != done:
                    seen.append((done, wall))
            for p, end in ends.items():
                key = (name, p)
                done = committed.get(p, 0)
                prev = self._since.get(key)
                if done >= end or prev is None or prev[0] != done or self.excused(name, t):
                    self._since[key] = (done, t)
                    continue
                held = t - prev[1]
                stall = self.stalls.setdefault(key, Stall(name, p))
                if held > stall.longest_s:
                    stall.longest_s, stall.at_s = held, t

    def longest(self, group: str) -> Stall | None:
        mine = [s for s in self.stalls.values() if s.group == group]
        return max(mine, key=lambda s: s.longest_s) if mine else None
