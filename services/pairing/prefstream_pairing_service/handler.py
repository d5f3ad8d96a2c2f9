"""The single writer: batches, timer ticks and rebalances run one at a time under one lock.

Per batch: decide (processor) and snapshot the safe offsets, send pairs and dead letters,
then, on a task, stage the DuckDB transaction on a thread while the broker acknowledges,
COMMIT, and commit the snapshotted offsets (never past the first record of a window that
is still open). The next batch is decided while that task runs; it is staged only after
the task finished. Any failure rolls back and rewinds the consumer to its committed
offsets, which is exactly what a restart does; every effect is idempotent, so replaying
is safe.

A rewind is only complete once the consumer really reads from the committed offsets
again: records fetched before the seek (a batch FastStream already holds) are recognised
by the consumer's position and dropped, and a seek that fails is retried before anything
else is decided. Rewinds back off exponentially (``BACKOFF_FIRST_S`` doubling up to
``BACKOFF_MAX_S``), are logged at ERROR with their cause, counted in
``consecutive_failures``, and make ``/readyz`` fail from the ``NOT_READY_AFTER``-th
failure in a row until a batch with effects succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Tracer
from prefstream_events import DeadLetter, encode
from prefstream_events.cloudevents import EVENT_TYPES, SPECVERSION
from prefstream_pairing import Pair
from prefstream_runtime import SourceRecord
from prefstream_runtime.trace_headers import (
    kafka_headers,
    span_context_from,
    traceparent_header,
)
from prefstream_stores.pairing import PairingStore

from prefstream_pairing_service.metrics import PairingMetrics
from prefstream_pairing_service.processor import SERVICE, Effects, Processor
from prefstream_pairing_service.sink import Record, Sink

log = logging.getLogger("prefstream.pairing")

IDLE_CHECKPOINT_S = 5.0
CHECKPOINT_WAL_BYTES = 48 * 1024 * 1024
"""Checkpoint (on a thread, alongside the writer) once the WAL is this large."""
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
"""Pause after the n-th failure in a row: ``BACKOFF_FIRST_S * 2**(n-1)``, at most this."""
NOT_READY_AFTER = 3
"""Failures in a row from which ``/readyz`` reports the service not ready."""
ACKED_LETTERS = 100_000
"""Ids of acknowledged dead letters remembered so that a rewind does not resend them."""
LETTER_ACK_WAIT_S = 5.0
"""How long an abandoned batch's dead letters are waited for (only to avoid resending)."""


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
        tracer: Tracer | None = None,
    ) -> None:
        self.processor = processor
        self.tracer = tracer
        """One span per published pair when set (the processor then keeps traces)."""
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
        self._wake = asyncio.Event()
        """Set when stopping: cuts a backoff pause short."""
        self.failures = 0
        """Failures in a row (a batch with effects that succeeds sets it back to 0)."""
        self._seek_pending = False
        """A rewind could not seek: nothing is decided until a retry succeeds."""
        self._rewound: set[int] = set()
        """Partitions rewound (or assigned) whose records must prove they were fetched
        after that, by the consumer's position."""
        self._acked_letters: OrderedDict[str, None] = OrderedDict()
        self._store_ok = True
        """False after the store failed fatally: it is reopened before anything else."""
        metrics.candidates_open.set_function(self._open_candidates)

    def _open_candidates(self) -> float:
        """At scrape time: summing on every batch would cost what the gauge is rarely read for."""
        return float(sum(len(w.candidates) for w in self.processor.windows.open.values()))

    @property
    def healthy(self) -> bool:
        """False while batches keep failing (readiness)."""
        return self._store_ok and self.failures < NOT_READY_AFTER

    # -- batches -------------------------------------------------------------------------

    async def handle(self, records: Iterable[SourceRecord], consumer: AIOKafkaConsumer) -> None:
        """Decide batch N+1 while batch N is still being written and committed.

        At most one batch is in flight: its DuckDB transaction is staged only after the
        previous one committed, and offsets are snapshotted when the batch is decided.
        """
        async with self.lock:
            self.consumer = consumer
            if self._seek_pending:
                # The consumer may still be past the failed batch: seek first, and drop
                # this batch either way (it was fetched before the seek).
                await self._seek_committed()
                return
            if not self._store_ok and not self._repair_store():
                # Drop this batch and rewind (it is read again once the store is back).
                await self._fail("batch dropped", RuntimeError("the pairing store is unusable"))
                return
            mine = [r for r in records if r.partition in self.owned and r.topic == self.topic]
            if self._rewound and mine:
                mine = await self._fetched_after_rewind(mine, consumer)
            if not mine:
                return
            started = time.perf_counter()
            self._last_activity = time.monotonic()
            try:
                fx = self.processor.process(mine, int(time.time() * 1000), time.monotonic())
                offsets = self.processor.windows.commit_offsets(self.owned)
                futures, letters = await self._publish(fx) if fx else ([], [])
            except Exception as exc:
                if await self._settle():
                    await self._fail("batch failed", exc)
                return
            if not await self._settle():
                # This batch is abandoned (it is read again), but its dead letters may
                # already be acknowledged: remember them so the replay does not resend.
                await self._remember_if_acked(fx, letters)
                return
            self._inflight = asyncio.create_task(
                self._finish(fx, futures, letters, offsets, started)
            )

    async def _fetched_after_rewind(
        self, records: list[SourceRecord], consumer: AIOKafkaConsumer
    ) -> list[SourceRecord]:
        """Drop the records of partitions whose batch was fetched before their rewind.

        After ``seek(c)`` the consumer's position is ``c`` until a fetch is returned, and
        ``getmany`` leaves it past the last record it returned. A batch fetched before
        the seek (FastStream held it while the rewind ran) ends at or after ``c`` with the
        position still at ``c``: deciding it on a cleared processor would commit past
        every record between ``c`` and the batch.
        """
        last: dict[int, int] = {}
        for r in records:
            if r.partition in self._rewound:
                last[r.partition] = r.offset
        stale: set[int] = set()
        for part, offset in last.items():
            try:
                position = await consumer.position(TopicPartition(self.topic, part))
            except IllegalStateError:  # revoked meanwhile
                stale.add(part)
                continue
            if position > offset:
                self._rewound.discard(part)
            else:
                stale.add(part)
        if not stale:
            return records
        log.info("dropped records fetched before a rewind", extra={"partitions": sorted(stale)})
        return [r for r in records if r.partition not in stale]

    async def _settle(self, *, backoff: bool = True) -> bool:
        """Wait for the batch in flight; on its failure rewind and return ``False``."""
        task, self._inflight = self._inflight, None
        if task is None:
            return True
        try:
            await task
        except Exception as exc:
            await self._fail("batch failed", exc, backoff=backoff)
            return False
        return True

    async def tick(self) -> None:
        async with self.lock:
            if self.consumer is None or self._stopping:
                return
            if self._seek_pending:
                await self._seek_committed()
                return
            if not self._store_ok and not self._repair_store():
                return
            if not await self._settle():
                return
            try:
                fx = self.processor.tick(int(time.time() * 1000), time.monotonic())
                offsets = self.processor.windows.commit_offsets(self.owned)
                futures, letters = await self._publish(fx) if fx else ([], [])
                await self._finish(fx, futures, letters, offsets, None)
            except Exception as exc:
                await self._fail("timer tick failed", exc)

    async def _finish(
        self,
        fx: Effects,
        futures: list[asyncio.Future[Any]],
        letters: list[asyncio.Future[Any]],
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
            outcomes = await asyncio.gather(stage, *letters, *futures, return_exceptions=True)
            if letters and not any(
                isinstance(o, BaseException) for o in outcomes[1 : 1 + len(letters)]
            ):
                self._remember_letters(fx.deadletters)
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
        if fx and self.failures:
            log.info("recovered after %d failed batches", self.failures)
            self.failures = 0
            m.consecutive_failures.set(0)
        committed_ms = time.time() * 1000
        m.records_total.inc(fx.records)
        m.candidates_total.inc(fx.candidates)
        m.filtered_total.inc(fx.filtered)
        m.duplicates_total.inc(fx.duplicates)
        m.late_total.inc(fx.late)
        m.candidates_paired_total.inc(fx.paired)
        m.candidates_unpaired_total.inc(fx.unpaired)
        if fx.skewed:
            m.clock_skew_total.inc(fx.skewed)
        m.pairs_total.inc(len(fx.pairs))
        for dl in fx.deadletters:
            m.deadletter_total.labels(reason=dl.reason).inc()
        closed_by: dict[str, int] = {}
        observe = m.close_latency.observe
        for reason, last_ts in fx.closed:
            closed_by[reason] = closed_by.get(reason, 0) + 1
            if last_ts:
                observe(max(0.0, (committed_ms - last_ts) / 1000))
        for reason, n in closed_by.items():  # labels() costs ~4 µs: once per reason
            m.windows_closed_total.labels(reason=reason).inc(n)
        m.windows_open.set(len(self.processor.windows))
        if started is not None:
            m.batch_seconds.observe(time.perf_counter() - started)

    async def _publish(
        self, fx: Effects
    ) -> tuple[list[asyncio.Future[Any]], list[asyncio.Future[Any]]]:
        """Send pairs and dead letters; returns (pair futures, dead-letter futures).

        Dead letters already acknowledged (a rewind replays their records) are not sent
        again; consumers deduplicate the others by ``deadletter_id``, the ``ce_id``."""
        now = _ce_time()
        source = SERVICE.encode()
        base = pair_headers(now)
        if self.tracer is None:
            pairs = pair_records(fx.pairs, base)
        else:
            pairs = _traced_pairs(self.tracer, fx, base)
        futures = await self.sink.send(self.pairs_topic, pairs)
        if not fx.deadletters:
            return futures, []
        dtype = EVENT_TYPES["DeadLetter"].encode()
        acked = self._acked_letters
        dead: list[Record] = [
            (
                d.key,
                encode(d),
                [
                    ("ce_specversion", SPECVERSION.encode()),
                    ("ce_id", d.deadletter_id.encode()),
                    ("ce_type", dtype),
                    ("ce_source", source),
                    ("ce_time", now),
                    ("content-type", b"application/json"),
                ],
            )
            for d in fx.deadletters
            if d.deadletter_id not in acked
        ]
        return futures, await self.sink.send(self.deadletter_topic, dead)

    async def _remember_if_acked(self, fx: Effects, letters: list[asyncio.Future[Any]]) -> None:
        if not letters:
            return
        done, pending = await asyncio.wait(letters, timeout=LETTER_ACK_WAIT_S)
        if not pending and all(not f.cancelled() and f.exception() is None for f in done):
            self._remember_letters(fx.deadletters)

    def _remember_letters(self, letters: Sequence[DeadLetter]) -> None:
        acked = self._acked_letters
        for d in letters:
            acked[d.deadletter_id] = None
            acked.move_to_end(d.deadletter_id)
        while len(acked) > ACKED_LETTERS:
            acked.popitem(last=False)

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

    async def _fail(self, what: str, exc: BaseException, *, backoff: bool = True) -> None:
        """Roll back, rewind to the committed offsets and back off; visibly."""
        self.failures += 1
        self.metrics.consecutive_failures.set(self.failures)
        log.error(
            "%s; rewinding to the committed offsets (%d failures in a row)",
            what,
            self.failures,
            exc_info=exc,
        )
        self.metrics.resets_total.inc()
        self._committed.clear()
        try:
            self.store.rollback()
            self.processor.reset()  # reads the store (the Bloom filter of closed windows)
        except Exception as broken:
            # DuckDB invalidates a database after a fatal error (a checkpoint on a full
            # disk): nothing may be decided or committed until it is reopened. The rewind
            # below must happen all the same: skipping it once let the next batch, which
            # needed no store, commit offsets past the failed one.
            self._store_ok = False
            log.error("the pairing store is unusable; reopening it", exc_info=broken)
        await self._seek_committed()
        if not self._store_ok:
            self._repair_store()
        if not backoff or self._stopping:
            return
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (self.failures - 1))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _repair_store(self) -> bool:
        """Reopen the DuckDB file (replaying its WAL) and rebuild what the processor reads
        from it; ``False`` while that fails (e.g. the disk is still full)."""
        try:
            self.store.reopen()
            self.processor.reset()
        except Exception:
            log.exception("the pairing store cannot be reopened yet; will retry")
            return False
        self._store_ok = True
        log.info("the pairing store was reopened", extra={"db_path": self.store.path})
        return True

    async def _seek_committed(self) -> None:
        """Seek every owned partition to its committed offset. On failure nothing may be
        decided (the consumer could be past the batch): retried before the next one."""
        self._seek_pending = True
        self._rewound |= self.owned
        consumer = self.consumer
        if consumer is None:
            self._seek_pending = False
            return
        try:
            for part in sorted(self.owned):
                tp = TopicPartition(self.topic, part)
                committed = await consumer.committed(tp)
                if committed is None:
                    await consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed)
        except Exception:
            self.failures += 1
            self.metrics.consecutive_failures.set(self.failures)
            log.exception("rewind could not seek to the committed offsets; will retry")
            return
        self._seek_pending = False

    # -- rebalance -----------------------------------------------------------------------

    async def revoked(self, partitions: set[int]) -> None:
        async with self.lock:
            # No backoff inside a rebalance callback (it would hold up the group).
            if self._store_ok and not self._seek_pending and await self._settle(backoff=False):
                try:
                    await self._commit_offsets(
                        self.processor.windows.commit_offsets(partitions & self.owned)
                    )
                except Exception:  # the next owner replays from the last commit
                    log.exception("offset commit on revoke failed")
            dropped = self.processor.drop_partitions(sorted(partitions))
            self.owned -= partitions
            for p in partitions:
                self._committed.pop(p, None)
            self._rewound -= partitions
            self.metrics.windows_open.set(len(self.processor.windows))
            log.info(
                "partitions revoked", extra={"partitions": sorted(partitions), "dropped": dropped}
            )

    async def assigned(self, partitions: set[int]) -> None:
        async with self.lock:
            self.owned |= partitions
            # A batch fetched before a revoke may still be in FastStream's hands.
            self._rewound |= partitions
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
        self._wake.set()
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        if self._checkpoint is not None:  # a thread cannot be cancelled: let it finish
            try:
                await self._checkpoint
            except Exception:  # the commit below does not depend on the checkpoint
                log.exception("store checkpoint at shutdown failed")
        async with self.lock:
            if self._store_ok and not self._seek_pending and await self._settle(backoff=False):
                try:
                    await self._commit_offsets(self.processor.windows.commit_offsets(self.owned))
                except Exception:  # a restart replays from the last commit
                    log.exception("offset commit at shutdown failed")


def pair_headers(now: bytes) -> list[tuple[str, bytes]]:
    """The CloudEvents headers every pair of a batch shares (all but ``ce_id``)."""
    return [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_type", EVENT_TYPES["PairEvent"].encode()),
        ("ce_source", SERVICE.encode()),
        ("ce_time", now),
        ("content-type", b"application/json"),
    ]


def pair_records(pairs: Sequence[Pair], base: list[tuple[str, bytes]]) -> list[Record]:
    """Each pair as a record keyed by ``example_id``, with ``base`` and its ``ce_id``."""
    return [
        (p.example_id.encode(), _encode_pair(p), [*base, ("ce_id", p.pair_id.encode())])
        for p in pairs
    ]


def _traced_pairs(tracer: Tracer, fx: Effects, base: list[tuple[str, bytes]]) -> list[Record]:
    """Each pair in a span whose parent is its chosen candidate (else its rejected one) and
    which links both; the span's ``traceparent`` travels in the pair's headers.

    The service's sampler is parent-based (``prefstream_runtime.tracing``): under a parent
    that is not sampled the SDK would only make a span that is never recorded (15.7 µs a
    pair measured, against 0.9 µs untraced), so such a pair skips it and carries its
    parent's context as it came. Lowering ``sample_ratio`` at the agents thus lowers the
    pairing service's cost of tracing too (docs/performance.md, "Tracing")."""
    known: dict[str | None, SpanContext | None] = {None: None}
    records: list[Record] = []
    for p, (chosen, rejected) in zip(fx.pairs, fx.pair_traces, strict=True):
        contexts = []
        for tp in (chosen, rejected):
            if tp not in known:
                known[tp] = span_context_from(tp)
            contexts.append(known[tp])
        parent = contexts[0] or contexts[1]
        if parent is not None and not parent.trace_flags.sampled:
            headers = [*base, ("ce_id", p.pair_id.encode()), traceparent_header(parent)]
            records.append((p.example_id.encode(), _encode_pair(p), headers))
            continue
        span = tracer.start_span(
            "pairing pair",
            context=trace.set_span_in_context(NonRecordingSpan(parent)) if parent else Context(),
            kind=SpanKind.PRODUCER,
            links=[Link(sc) for sc in contexts if sc is not None],
            attributes={"prefstream.pair_id": p.pair_id},  # each attribute costs ~3 µs
        )
        headers = [*base, ("ce_id", p.pair_id.encode())]
        headers += kafka_headers(trace.set_span_in_context(span))
        span.end()
        records.append((p.example_id.encode(), _encode_pair(p), headers))
    return records


def _ce_time() -> bytes:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z").encode()


_encode_pair = msgspec.json.Encoder().encode
