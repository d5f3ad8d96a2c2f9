"""Holes in a partition's offsets: the pure plan over generated deliveries, and the guard
against a fake consumer that records its seeks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st
from prefstream_runtime.offset_gaps import MAX_REFETCHES, Gap, GapGuard, plan


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int


def recs(partition: int, *offsets: int) -> list[Rec]:
    return [Rec("t", partition, o) for o in offsets]


def test_a_contiguous_delivery_is_kept_whole() -> None:
    decided = plan(recs(0, 5, 6, 7) + recs(1, 0, 1), {("t", 0): 5}, {})
    assert decided.keep == [0, 1, 2, 3, 4]
    assert decided.refetch == []
    assert decided.accepted == []
    assert decided.expected == {("t", 0): 8, ("t", 1): 2}


def test_a_hole_holds_back_its_partition_from_the_hole_on() -> None:
    delivery = recs(0, 5, 6, 9, 10) + recs(1, 3)
    decided = plan(delivery, {("t", 0): 5, ("t", 1): 3}, {})
    assert [delivery[i] for i in decided.keep] == recs(0, 5, 6) + recs(1, 3)
    assert decided.refetch == [Gap("t", 0, 7, 9)]
    assert decided.expected[("t", 0)] == 7


def test_a_hole_fetched_again_too_often_is_accepted() -> None:
    gap = Gap("t", 0, 7, 9)
    decided = plan(recs(0, 9, 10), {("t", 0): 7}, {gap: MAX_REFETCHES})
    assert decided.keep == [0, 1]
    assert decided.accepted == [gap]
    assert decided.expected[("t", 0)] == 11


def test_replayed_records_below_the_expectation_are_kept_and_raise_no_gap() -> None:
    decided = plan(recs(0, 2, 3, 4), {("t", 0): 9}, {})
    assert decided.keep == [0, 1, 2]
    assert decided.refetch == []
    assert decided.expected[("t", 0)] == 9


@given(
    st.integers(0, 1000),
    st.integers(1, 60),
    st.data(),
)
def test_records_after_a_hole_are_never_kept_before_it_is_fetched_again(
    start: int, length: int, data: st.DataObject
) -> None:
    offsets = list(range(start, start + length))
    lo = data.draw(st.integers(0, length - 1))
    hi = data.draw(st.integers(lo + 1, length))
    delivered = offsets[:lo] + offsets[hi:]
    decided = plan(recs(0, *delivered), {("t", 0): start}, {})
    kept = [delivered[i] for i in decided.keep]
    if hi < length:  # a hole with records after it
        assert kept == offsets[:lo]
        assert decided.refetch == [Gap("t", 0, start + lo, start + hi)]
    else:  # the delivery only ended early
        assert kept == delivered
        assert decided.refetch == []
    assert decided.expected[("t", 0)] == (kept[-1] + 1 if kept else start)


@dataclass
class FakeConsumer:
    committed_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.committed_offsets.get(partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


def admit(guard: GapGuard, consumer: FakeConsumer, delivery: list[Rec]) -> list[Rec]:
    return asyncio.run(guard.admit(delivery, consumer))


def test_the_guard_seeks_back_to_a_hole_then_takes_the_refetched_records() -> None:
    guard, consumer = GapGuard(), FakeConsumer()
    assert admit(guard, consumer, recs(0, 0, 1, 2)) == recs(0, 0, 1, 2)
    assert admit(guard, consumer, recs(0, 7, 8)) == []
    assert consumer.seeks == [(TopicPartition("t", 0), 3)]
    assert admit(guard, consumer, recs(0, 3, 4, 5, 6, 7, 8)) == recs(0, 3, 4, 5, 6, 7, 8)


def test_a_hole_that_stays_is_accepted_after_the_refetches() -> None:
    guard, consumer = GapGuard(), FakeConsumer()
    admit(guard, consumer, recs(0, 0))
    for _ in range(MAX_REFETCHES):
        assert admit(guard, consumer, recs(0, 5)) == []
    assert admit(guard, consumer, recs(0, 5)) == recs(0, 5)
    assert len(consumer.seeks) == MAX_REFETCHES
    assert guard.refetched == {}


def test_an_expectation_older_than_the_groups_commit_replays_nothing() -> None:
    guard, consumer = GapGuard(), FakeConsumer()
    admit(guard, consumer, recs(0, 0, 1))
    consumer.committed_offsets[TopicPartition("t", 0)] = 40  # another member went on
    assert admit(guard, consumer, recs(0, 40, 41)) == []
    assert consumer.seeks == [(TopicPartition("t", 0), 40)]  # redeliver the held-back ones
    assert admit(guard, consumer, recs(0, 40, 41)) == recs(0, 40, 41)
