"""The handler's rewind, without a broker: a batch that FastStream fetched before a rewind
is decided after it must not move the committed offset past the failed batch.

This was the root cause of offsets committed past lost pairs: batch N (turn A's pairs)
fails after it was handed off; the timer tick finds the failure and rewinds (clears
memory, seeks to the committed offset); the next batch, fetched before that seek, was then
decided on the cleared processor and its commit snapshot (the partition's next offset)
skipped turn A.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import GroupCoordinatorNotAvailableError, MessageSizeTooLargeError
from prefstream_pairing import PairingOptions
from prefstream_pairing_service import handler as handler_module
from prefstream_pairing_service.handler import PairingService
from prefstream_pairing_service.metrics import PairingMetrics
from prefstream_pairing_service.processor import Processor
from prefstream_stores.pairing import PairingStore
from prefstream_testing.kafka import Record
from prefstream_testing.synthetic import synthetic_events

TOPIC = "cands"
T0 = 1_700_000_000_000


@dataclass
class FakeConsumer:
    """aiokafka's consumer as the handler uses it: committed offsets and a position that
    ``getmany`` (here: :meth:`fetch`) moves past what it returns and ``seek`` resets."""

    committed_offsets: dict[int, int] = field(default_factory=dict)
    positions: dict[int, int] = field(default_factory=dict)
    unavailable: int = 0
    """The next calls of :meth:`committed` that fail (coordinator unavailable)."""

    def fetch(self, records: list[Record]) -> list[Record]:
        for r in records:
            self.positions[r.partition] = r.offset + 1
        return records

    async def committed(self, tp: TopicPartition) -> int | None:
        if self.unavailable > 0:
            self.unavailable -= 1
            raise GroupCoordinatorNotAvailableError()
        return self.committed_offsets.get(tp.partition)

    async def seek_to_beginning(self, tp: TopicPartition) -> bool:
        self.positions[tp.partition] = 0
        return True

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp.partition] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions.get(tp.partition, 0)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self.committed_offsets[tp.partition] = offset


class FakeSink:
    """Acknowledges everything, except that the pairs of the first ``fail`` sends fail."""

    def __init__(self, fail: int) -> None:
        self.fail = fail
        self.sent: dict[str, list[bytes]] = {}

    async def send(self, topic: str, records: list[Any]) -> list[asyncio.Future[Any]]:
        if not records:
            return []
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if topic == "pairs" and self.fail > 0:
            self.fail -= 1
            fut.set_exception(MessageSizeTooLargeError())
        else:
            self.sent.setdefault(topic, []).extend(value for _, value, _ in records)
            fut.set_result(None)
        return [fut]


def turn(example: str, seed: int, first_offset: int) -> list[Record]:
    events = synthetic_events(1, 4, seed=seed, run_id=example, with_num_candidates=True)
    return [
        Record(TOPIC, 0, first_offset + i, T0, b"k", msgspec.json.encode(e))
        for i, e in enumerate(events)
    ]


def writer(store: PairingStore, sink: FakeSink) -> PairingService:
    """The single writer over ``store``; windows close only by ``num_candidates``."""
    processor = Processor(
        PairingOptions(),
        store,
        inactivity_gap_s=1000,
        max_age_s=10_000,
        late_policy="pair",
        max_record_bytes=1 << 20,
    )
    return PairingService(
        processor,
        store,
        sink,  # type: ignore[arg-type]
        PairingMetrics(),
        topic=TOPIC,
        pairs_topic="pairs",
        deadletter_topic="dead",
    )


async def _stale_batch(tmp_path: Path, *, unavailable: int) -> None:
    store = PairingStore(str(tmp_path / "p.duckdb"))
    sink = FakeSink(fail=1)
    svc = writer(store, sink)
    consumer = FakeConsumer()
    svc.consumer = consumer
    await svc.assigned({0})
    a, b = turn("a", 1, 0), turn("b", 2, 4)

    await svc.handle(consumer.fetch(a), consumer)  # its pairs will fail
    stale = consumer.fetch(b)  # FastStream fetched turn B before anything noticed
    consumer.unavailable = unavailable
    await svc.tick()  # the tick finds batch A failed and rewinds
    await svc.handle(stale, consumer)
    await svc.tick()
    assert consumer.committed_offsets.get(0, 0) == 0, "committed past turn A"

    # After the rewind the consumer reads from the committed offset again.
    await svc.handle(consumer.fetch(a + b), consumer)
    await svc.tick()
    assert consumer.committed_offsets[0] == 8
    published = {msgspec.json.decode(v)["example_id"] for v in sink.sent["pairs"]}
    assert published == {"ex-0"}
    assert {msgspec.json.decode(v)["run_id"] for v in sink.sent["pairs"]} == {"a", "b"}
    store.close()


def test_a_batch_fetched_before_a_rewind_does_not_commit_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler_module, "BACKOFF_FIRST_S", 0.01, raising=False)
    asyncio.run(_stale_batch(tmp_path, unavailable=0))


def test_a_rewind_that_cannot_seek_decides_nothing_until_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The committed offset cannot be read once: the rewind must not leave the consumer
    past the failed batch (it used to swallow the error and carry on from there)."""
    monkeypatch.setattr(handler_module, "BACKOFF_FIRST_S", 0.01, raising=False)
    asyncio.run(_stale_batch(tmp_path, unavailable=1))


class InvalidatedStore(PairingStore):
    """A store whose COMMIT fails fatally once, as DuckDB's does when a checkpoint hits a
    full disk: from then on every read fails until :meth:`reopen` succeeds, which it does
    only after ``failed_reopens`` tries (the disk is still full)."""

    def __init__(self, path: str, *, failed_reopens: int) -> None:
        super().__init__(path)
        self.fatal_commits = 1
        self.failed_reopens = failed_reopens
        self.broken = False

    def commit(self) -> None:
        if self.fatal_commits:
            self.fatal_commits -= 1
            self.broken = True
            raise duckdb.FatalException("Failed to create checkpoint: No space left on device")
        super().commit()

    def window_keys(self) -> Iterator[int]:
        if self.broken:
            raise duckdb.FatalException("database has been invalidated")
        return super().window_keys()

    def reopen(self) -> None:
        if self.failed_reopens:
            self.failed_reopens -= 1
            raise duckdb.IOException("No space left on device")
        super().reopen()
        self.broken = False


async def _invalidated_store(tmp_path: Path) -> None:
    store = InvalidatedStore(str(tmp_path / "p.duckdb"), failed_reopens=1)
    sink = FakeSink(fail=0)
    svc = writer(store, sink)
    consumer = FakeConsumer()
    svc.consumer = consumer
    await svc.assigned({0})
    # Turn A closes by num_candidates; turn C never closes here (no num_candidates).
    a = turn("a", 1, 0)
    c = [
        Record(TOPIC, 0, 4 + i, T0, b"k", msgspec.json.encode(e))
        for i, e in enumerate(synthetic_events(1, 4, seed=3, run_id="c", with_num_candidates=False))
    ]
    log = a + c

    def poll() -> list[Record]:
        """The next four records from the consumer's position, as a real fetch returns."""
        start = consumer.positions.get(0, 0)
        return consumer.fetch(log[start : start + 4])

    await svc.handle(poll(), consumer)  # turn A: its COMMIT fails fatally
    await svc.tick()  # finds the failure: rewinds; the store cannot be reopened yet
    assert not svc.healthy
    for _ in range(4):  # the store comes back; A is decided again, then C stays open
        await svc.handle(poll(), consumer)
        await svc.tick()
        assert consumer.committed_offsets.get(0, 0) <= 4
        if consumer.positions.get(0, 0) == len(log):
            break
    expected_a = {msgspec.json.decode(v)["pair_id"] for v in sink.sent["pairs"]}
    assert expected_a, "turn A was never paired"
    assert expected_a <= set(store.pair_ids()), "offsets passed turn A, its pairs are not stored"
    assert consumer.committed_offsets[0] == 4  # C's first record: its window is open
    assert svc.healthy
    store.close()


def test_an_invalidated_store_is_reopened_and_nothing_is_committed_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fatal DuckDB error made the rewind itself fail before it could seek: the next
    batch, which needed no store, then committed past the failed one (found by the chaos
    suite with a full disk: pairs neither stored nor on the topic)."""
    monkeypatch.setattr(handler_module, "BACKOFF_FIRST_S", 0.01, raising=False)
    asyncio.run(_invalidated_store(tmp_path))
