"""The buffer between NAT callbacks and Kafka: never blocks, flushes, counts every loss."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from prefstream_events import CandidateEvent
from prefstream_nat import CandidateForwarder


def candidate(i: int) -> CandidateEvent:
    return CandidateEvent(
        example_id="e",
        turn_id=f"t{i}",
        turn_index=0,
        candidate_index=0,
        input="p",
        output="o",
        score=1.0,
    )


class Recording:
    """A publisher that records batches; ``gate`` holds publishing until it is set."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[CandidateEvent]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.failures = failures

    async def publish(self, events: Sequence[CandidateEvent], *, wait: bool = True) -> None:
        self.entered.set()
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        self.batches.append(list(events))


async def test_offer_returns_at_once_and_flush_waits_for_publishing() -> None:
    publisher = Recording()
    publisher.gate.clear()
    forwarder = CandidateForwarder(publisher, batch_size=4)
    for i in range(10):
        forwarder.offer(candidate(i))
    assert forwarder.stats.forwarded == 10
    assert not await forwarder.flush(timeout_s=0.05)  # held by the gate
    publisher.gate.set()
    assert await forwarder.flush(timeout_s=5)
    assert [e.turn_id for b in publisher.batches for e in b] == [f"t{i}" for i in range(10)]
    assert max(len(b) for b in publisher.batches) <= 4
    assert forwarder.stats.published == 10
    await forwarder.aclose()


async def test_a_full_buffer_drops_and_counts_instead_of_blocking() -> None:
    publisher = Recording()
    publisher.gate.clear()
    forwarder = CandidateForwarder(publisher, max_buffer=3, batch_size=1)
    forwarder.offer(candidate(0))
    await publisher.entered.wait()  # candidate 0 is in flight, held by the gate
    for i in range(1, 6):
        forwarder.offer(candidate(i))
    assert forwarder.stats.dropped_buffer_full == 2  # 1 in flight + 3 buffered
    publisher.gate.set()
    await forwarder.aclose(timeout_s=5)
    assert forwarder.stats.published == 4


async def test_failing_batches_are_retried_then_dropped_and_counted() -> None:
    flaky = Recording(failures=2)
    forwarder = CandidateForwarder(flaky, retry_delays=(0.0, 0.0))
    forwarder.offer(candidate(0))
    assert await forwarder.flush(timeout_s=5)
    assert forwarder.stats.published == 1  # third attempt succeeded
    dead = Recording(failures=99)
    lossy = CandidateForwarder(dead, retry_delays=(0.0, 0.0))
    lossy.offer(candidate(1))
    assert await lossy.flush(timeout_s=5)
    assert (lossy.stats.published, lossy.stats.dropped_publish_failed) == (0, 1)
    await forwarder.aclose()
    await lossy.aclose()


async def test_offers_from_other_threads_hop_onto_the_loop() -> None:
    publisher = Recording()
    forwarder = CandidateForwarder(publisher)

    def offer_five() -> None:
        for i in range(5):
            forwarder.offer(candidate(i))

    thread = threading.Thread(target=offer_five)
    thread.start()
    await asyncio.to_thread(thread.join)
    # call_soon_threadsafe callbacks run in order, all before to_thread's own completion
    assert forwarder.stats.forwarded == 5
    assert await forwarder.flush(timeout_s=5)
    assert forwarder.stats.published == 5


async def test_close_flushes_and_later_offers_are_counted_as_dropped() -> None:
    publisher = Recording()
    forwarder = CandidateForwarder(publisher)
    forwarder.offer(candidate(0))
    await forwarder.aclose()
    assert forwarder.stats.published == 1
    forwarder.offer(candidate(1))
    assert forwarder.stats.dropped_buffer_full == 1
