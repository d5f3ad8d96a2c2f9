"""A bounded buffer and one background task between NAT's callbacks and Kafka.

NAT delivers steps through synchronous callbacks on the workflow's own event loop, so the
bridge must never await the broker there. :meth:`CandidateForwarder.offer` only enqueues
(O(1), safe from other threads too); a background task publishes in batches and retries a
failing batch a few times before dropping it. Nothing is lost silently: a full buffer or
a batch that keeps failing is counted in :class:`BridgeStats` and logged.
:meth:`aclose` flushes what is buffered, so a ``nat eval`` that ends does not drop its tail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from prefstream_events import CandidateEvent

from prefstream_nat.mapping import BridgeStats

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.5, 1.0, 2.0)


class Publisher(Protocol):
    async def publish(self, events: Sequence[CandidateEvent], *, wait: bool = True) -> None: ...


class CandidateForwarder:
    """Publishes offered candidates from a background task; create it inside the event loop."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        max_buffer: int = 10_000,
        batch_size: int = 500,
        retry_delays: Sequence[float] = RETRY_DELAYS_S,
        stats: BridgeStats | None = None,
    ) -> None:
        self._publisher = publisher
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._queue: asyncio.Queue[CandidateEvent] = asyncio.Queue(max_buffer)
        self._batch_size = batch_size
        self._retry_delays = tuple(retry_delays)
        self.stats = stats or BridgeStats()
        self._closed = False
        self._task = self._loop.create_task(self._run(), name="prefstream-nat-forwarder")

    def offer(self, event: CandidateEvent) -> None:
        """Buffer one candidate without blocking; from another thread it hops onto the loop."""
        if threading.get_ident() == self._thread:
            self._enqueue(event)
        else:
            self._loop.call_soon_threadsafe(self._enqueue, event)

    def _enqueue(self, event: CandidateEvent) -> None:
        if self._closed:
            self.stats.dropped_buffer_full += 1
            log.warning("prefstream bridge is closed; dropped a candidate of %s", event.turn_id)
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stats.dropped_buffer_full += 1
            log.warning(
                "prefstream bridge buffer is full; dropped a candidate of %s", event.turn_id
            )
            return
        self.stats.forwarded += 1

    async def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything offered so far is published or dropped; False on timeout."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def aclose(self, timeout_s: float | None = 30.0) -> None:
        """Flush, then stop the background task. Later offers are dropped and counted."""
        flushed = await self.flush(timeout_s)
        self._closed = True
        if not flushed:
            log.warning(
                "prefstream bridge: %d candidates still unpublished after %ss; dropping them",
                self._queue.qsize(),
                timeout_s,
            )
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._publish(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _publish(self, batch: list[CandidateEvent]) -> None:
        for attempt, delay in enumerate((*self._retry_delays, None)):
            try:
                await self._publisher.publish(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if delay is None:
                    self.stats.dropped_publish_failed += len(batch)
                    log.error(
                        "prefstream bridge: dropped %d candidates after %d attempts: %s",
                        len(batch),
                        attempt + 1,
                        exc,
                    )
                    return
                log.warning("prefstream bridge: publish failed (%s); retrying in %ss", exc, delay)
                await asyncio.sleep(delay)
            else:
                self.stats.published += len(batch)
                return
