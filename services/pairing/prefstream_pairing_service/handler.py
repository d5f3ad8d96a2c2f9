"""The single writer: batches, timer ticks and rebalances run one at a time under one lock.

Per batch: decide (processor) and snapshot the safe offsets, send pairs and dead letters,
then, on a task, stage the DuckDB transaction on a thread while the broker acknowledges,
COMMIT, and commit the snapshotted offsets (never past the first record of a window that
is still open). The next batch is decided while that task runs; it is staged only after
the task finished. Any failure rolls back and rewinds the consumer to its committed
offsets, which is exactly what a restart does; every effect is idempotent, so replaying
is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from prefstream_events import encode
from prefstream_events.cloudevents import EVENT_TYPES, SPECVERSION
from prefstream_stores.pairing import PairingStore

from prefstream_pairing_service.metrics import PairingMetrics
from prefstream_pairing_service.processor import SERVICE, Effects, Processor, SourceRecord
from prefstream_pairing_service.sink import Record, Sink

log = logging.getLogger("prefstream.pairing")

IDLE_CHECKPOINT_S = 5.0
CHECKPOINT_WAL_BYTES = 48 * 1024 * 1024
"""Checkpoint (on a thread, alongside the writer) once the WAL is this large."""


class PairingService:
    def __init__(
        self,
        processor: Processor,
        store: PairingStore,
        sink: Sink,
        metrics: PairingMetrics,
        *,
        topic: str,
        pairs_topic: str,
        deadletter_topic: str,
    ) -> None:
        self.processor = processor
        self.store = store
        self.sink = sink
        self.metrics = metrics
        self.topic = topic
        self.pairs_topic = pairs_topic
        self.deadletter_topic = deadletter_topic
        self.lock = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None
        self.owned: set[int] = set()
        self._committed: dict[int, int] = {}
        self._last_activity = time.monotonic()
        self._timer: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[None] | None = None
        self._checkpoint: asyncio.Task[None] | None = None
        self._stopping = False

    # -- batches -------------------------------------------------------------------------

    async def handle(self, records: Iterable[SourceRecord], consumer: AIOKafkaConsumer) -> None:
        """Decide batch N+1 while batch N is still being written and committed.

        At most one batch is in flight: its DuckDB transaction is staged only after the
        previous one committed, and offsets are snapshotted when the batch is decided.
        """
        async with self.lock:
            self.consumer = consumer
            mine = [r for r in records if r.partition in self.owned and r.topic == self.topic]
            if not mine:
                return
            started = time.perf_counter()
            self._last_activity = time.monotonic()
            try:
                fx = self.processor.process(mine, int(time.time() * 1000), time.monotonic())
                offsets = self.processor.windows.commit_offsets(self.owned)
                futures = await self._publish(fx) if fx else []
            except Exception:
                log.exception("batch failed; rewinding to the committed offsets")
                await self._settle()
                await self._reset()
                return
            if not await self._settle():
                return
            self._inflight = asyncio.create_task(self._finish(fx, futures, offsets, started))

    async def _settle(self) -> bool:
        """Wait for the batch in flight; on its failure rewind and return ``False``."""
        task, self._inflight = self._inflight, None
        if task is None:
            return True
        try:
            await task
        except Exception:
            log.exception("batch failed; rewinding to the committed offsets")
            await self._reset()
            return False
        return True

    async def tick(self) -> None:
        async with self.lock:
            if self.consumer is None or self._stopping or not await self._settle():
                return
            try:
                fx = self.processor.tick(int(time.time() * 1000), time.monotonic())
                offsets = self.processor.windows.commit_offsets(self.owned)
                futures = await self._publish(fx) if fx else []
                await self._finish(fx, futures, offsets, None)
            except Exception:
                log.exception("timer tick failed; rewinding to the committed offsets")
                await self._reset()

    async def _finish(
        self,
        fx: Effects,
        futures: list[asyncio.Future[Any]],
        offsets: dict[int, int],
        started: float | None,
    ) -> None:
        """Stage (thread) while the broker acknowledges, COMMIT, then commit offsets."""
        m = self.metrics
        if fx:
            stage = asyncio.ensure_future(
                asyncio.to_thread(
                    self.store.stage, fx.window_rows, fx.candidate_rows, fx.pair_rows, fx.updates
                )
            )
            # Wait for the staging thread even when an ack fails first: rolling back while
            # it still appends would autocommit part of the batch (rows without offsets).
            outcomes = await asyncio.gather(stage, *futures, return_exceptions=True)
            failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
            try:
                if failure is not None:
                    raise failure
                # COMMIT fsyncs the WAL (and checkpoints now and then): off the loop, so
                # the consumer keeps fetching and the next batch is decided meanwhile.
                t = time.perf_counter()
                await asyncio.to_thread(self.store.commit)
                m.commit_seconds.observe(time.perf_counter() - t)
            except BaseException:
                self.store.rollback()
                raise
        self.processor.settle(fx.seq)
        await self._commit_offsets(offsets)
        committed_ms = time.time() * 1000
        m.records_total.inc(fx.records)
        m.candidates_total.inc(fx.candidates)
        m.filtered_total.inc(fx.filtered)
        m.duplicates_total.inc(fx.duplicates)
        m.late_total.inc(fx.late)
        m.pairs_total.inc(len(fx.pairs))
        for dl in fx.deadletters:
            m.deadletter_total.labels(reason=dl.reason).inc()
        for reason, last_ts in fx.closed:
            m.windows_closed_total.labels(reason=reason).inc()
            if last_ts:
                m.close_latency.observe(max(0.0, (committed_ms - last_ts) / 1000))
        m.windows_open.set(len(self.processor.windows))
        if started is not None:
            m.batch_seconds.observe(time.perf_counter() - started)

    async def _publish(self, fx: Effects) -> list[asyncio.Future[Any]]:
        now = _ce_time()
        source = SERVICE.encode()
        # One shared header prefix per batch; only the CloudEvents id differs per pair.
        base = [
            ("ce_specversion", SPECVERSION.encode()),
            ("ce_type", EVENT_TYPES["PairEvent"].encode()),
            ("ce_source", source),
            ("ce_time", now),
            ("content-type", b"application/json"),
        ]
        pairs: list[Record] = [
            (p.example_id.encode(), _encode_pair(p), [*base, ("ce_id", p.pair_id.encode())])
            for p in fx.pairs
        ]
        dtype = EVENT_TYPES["DeadLetter"].encode()
        dead: list[Record] = [
            (
                d.key,
                encode(d),
                [
                    ("ce_specversion", SPECVERSION.encode()),
                    ("ce_id", f"{d.source.topic}/{d.source.partition}/{d.source.offset}".encode()),
                    ("ce_type", dtype),
                    ("ce_source", source),
                    ("ce_time", now),
                    ("content-type", b"application/json"),
                ],
            )
            for d in fx.deadletters
        ]
        futures = await self.sink.send(self.pairs_topic, pairs)
        futures += await self.sink.send(self.deadletter_topic, dead)
        return futures

    # -- offsets -------------------------------------------------------------------------

    async def _commit_offsets(self, offsets: dict[int, int]) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        todo = {p: o for p, o in offsets.items() if p in self.owned and self._committed.get(p) != o}
        if not todo:
            return
        try:
            await consumer.commit({TopicPartition(self.topic, p): o for p, o in todo.items()})
        except (CommitFailedError, IllegalStateError) as exc:
            # A rebalance is under way: the revoke callback commits what is safe.
            self.metrics.commit_errors_total.inc()
            log.warning("offset commit refused: %s", exc)
            return
        self._committed.update(todo)

    async def _reset(self) -> None:
        self.metrics.resets_total.inc()
        self.store.rollback()
        self.processor.reset()
        consumer = self.consumer
        if consumer is None:
            return
        for part in sorted(self.owned):
            tp = TopicPartition(self.topic, part)
            with contextlib.suppress(KafkaError, IllegalStateError, AssertionError):
                committed = await consumer.committed(tp)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed)
        self._committed.clear()

    # -- rebalance -----------------------------------------------------------------------

    async def revoked(self, partitions: set[int]) -> None:
        async with self.lock:
            if await self._settle():
                with contextlib.suppress(Exception):
                    await self._commit_offsets(
                        self.processor.windows.commit_offsets(partitions & self.owned)
                    )
            dropped = self.processor.drop_partitions(sorted(partitions))
            self.owned -= partitions
            for p in partitions:
                self._committed.pop(p, None)
            self.metrics.windows_open.set(len(self.processor.windows))
            log.info(
                "partitions revoked", extra={"partitions": sorted(partitions), "dropped": dropped}
            )

    async def assigned(self, partitions: set[int]) -> None:
        async with self.lock:
            self.owned |= partitions
            log.info("partitions assigned", extra={"partitions": sorted(self.owned)})

    # -- lifecycle -----------------------------------------------------------------------

    def maybe_checkpoint(self) -> None:
        """Start a background checkpoint when the WAL is large, or the service idle."""
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        idle = time.monotonic() - self._last_activity >= IDLE_CHECKPOINT_S
        if self.store.wal_bytes() >= CHECKPOINT_WAL_BYTES or (idle and self.store.dirty):
            self._checkpoint = asyncio.create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self.store.checkpoint)
        except Exception as exc:  # a conflicting transaction: try again on the next tick
            log.warning("checkpoint skipped: %s", exc)
            return
        self.metrics.checkpoint_seconds.observe(time.perf_counter() - started)

    def start_timer(self, interval_s: float) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                await self.tick()
                self.maybe_checkpoint()

        self._timer = asyncio.create_task(loop(), name="pairing-timer")

    async def drain(self) -> None:
        """Stop the timer and commit what is safe; open windows stay for replay."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if self._checkpoint is not None:  # a thread cannot be cancelled: let it finish
            with contextlib.suppress(Exception):
                await self._checkpoint
        async with self.lock:
            if await self._settle():
                with contextlib.suppress(Exception):
                    await self._commit_offsets(self.processor.windows.commit_offsets(self.owned))


class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forwards to the service, which may be created after the subscriber is declared."""

    def __init__(self, service: Callable[[], PairingService]) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        svc = self._service()
        await svc.revoked({tp.partition for tp in revoked if tp.topic == svc.topic})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        svc = self._service()
        await svc.assigned({tp.partition for tp in assigned if tp.topic == svc.topic})


def _ce_time() -> bytes:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z").encode()


_encode_pair = msgspec.json.Encoder().encode
