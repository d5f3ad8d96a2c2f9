"""The batcher's state machine: consume pairs, decide cuts, write and announce datasets.

Cut protocol (docs/batcher.md has the full argument):

1. A cut is *decided* in the same DuckDB transaction that stores the pairs whose arrival
   triggers it (or, for ``max_wait`` and forced cuts, in a transaction of its own): a
   record in the cut log with the next sequence and the offset range it covers. Kafka
   offsets are committed only after that transaction, so a decided cut is never lost or
   re-decided.
2. The writer builds the dataset from the cut record into a staging directory, fsyncs it
   and renames it into place; then, in one transaction, records membership and the
   DatasetReady to send, and marks the row ``written``.
3. It publishes that exact DatasetReady (awaiting the broker's ack) and marks ``announced``.

A crash anywhere resumes from the cut log: a directory already in place is verified and
reused (it is the same cut: same rows, same bytes), a ``written`` row re-sends the stored
event unchanged, and the datasets topic tells a restarted batcher which announcements did
go out. One asyncio lock serializes every use of the store, so a cut never runs beside an
ingest transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker
from prefstream_config import PrefstreamConfig
from prefstream_datasets import (
    Arrival,
    CutPoint,
    CutSpec,
    DatasetState,
    PlannerState,
    clear_staging,
    due,
    forced,
    observe,
    policy_allowed,
    read_manifest,
    read_pair_ids,
    seconds_until_due,
)
from prefstream_events import (
    CutRequest,
    DatasetReady,
    DeadLetter,
    InvalidEvent,
    ce_headers,
    decode,
    encode,
)
from prefstream_runtime import Batch, Commits, Readiness, SourceRecord, Subscription
from prefstream_runtime.crash import crash_point
from prefstream_runtime.trace_headers import links
from prefstream_runtime.tracing import DISABLED, Tracing
from prefstream_stores.batcher import BatcherStore, CutRecord

from prefstream_batcher_service.decode import SERVICE, Decoded, decode_records
from prefstream_batcher_service.materialize import DatasetConflict, OutputOptions, build
from prefstream_batcher_service.metrics import BatcherMetrics
from prefstream_batcher_service.restore import last_sequence, lineage, read_announcements
from prefstream_batcher_service.settings import BatcherSettings, settings_from

CRASH_POINTS = (
    "after_decide",
    "mid_files",
    "before_rename",
    "after_rename",
    "after_files",
    "after_publish",
)
"""Where ``PREFSTREAM_CRASH_AT`` may stop the cut protocol (test hook, docs/batcher.md)."""
log = logging.getLogger("prefstream.batcher")

T = TypeVar("T")
SOURCE = "prefstream/batcher"
MAX_RETRY_SECONDS = 60.0


class BatcherService:
    """The batcher as a :class:`prefstream_runtime.Service`.

    Commits: :attr:`~prefstream_runtime.Commits.WHEN_HANDLED` on both subscriptions.
    FastStream commits a pairs batch's offsets when :meth:`handle` returns, i.e. after the
    DuckDB transaction holding its effect (and any cut it decided); an error seeks back
    and the batch is redelivered (storing it again is a no-op). The control topic (for
    ``prefstream dataset cut``) has its own group, starting at the end of the topic, so an
    old request is not replayed into a new batcher.
    """

    name = SERVICE

    def __init__(
        self, config: PrefstreamConfig, broker: KafkaBroker, tracing: Tracing = DISABLED
    ) -> None:
        """Declares the publishers on ``broker``; opens and connects nothing."""
        self.config = config
        self.tracing = tracing
        self.settings: BatcherSettings = settings_from(config)
        self.datasets = broker.publisher(
            config.kafka.topics.datasets,
            title="datasets",
            description="One DatasetReady per cut, keyed by dataset_id, after its files are "
            "in place.",
            schema=DatasetReady,
        )
        self.deadletters = broker.publisher(
            config.kafka.topics.deadletter,
            title="dead letters",
            description="Pair and control records that could not be decoded, with reason and "
            "source.",
            schema=DeadLetter,
        )
        self.metrics = BatcherMetrics()
        self.registry = self.metrics.registry
        self.options = OutputOptions(
            self.settings.datasets_dir,
            self.settings.formats,
            self.settings.use_full_message_history,
            keep_system=self.settings.keep_system,
            license=self.settings.license,
        )
        self.store: BatcherStore | None = None
        self.state = PlannerState()
        self.next_sequence = 1
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.opened = False
        self.awaiting_pairs = False
        """The writer waits for pairs an earlier batcher's cut covers: wake it per batch."""
        self.problems: dict[str, str] = {}
        """Why the batcher cannot do its work right now (``ingest``, ``write``), for
        ``/readyz``; each entry goes once the same step succeeds again."""
        self._closing = False
        self._stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Future[Any]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def subscriptions(self) -> Sequence[Subscription]:
        kafka, batcher = self.config.kafka, self.config.batcher
        return [
            Subscription(
                kafka.topics.pairs,
                group_id=batcher.group_id,
                handle=self.handle,
                commits=Commits.WHEN_HANDLED,
                title="pairs",
                description="PairEvents from pairing, in batches; offsets committed after the "
                "DuckDB transaction holding them.",
                max_records=batcher.batch_max_records,
                batch_timeout_ms=100,
                needs_partitions=True,
                failure="pair batch failed; it will be redelivered",
            ),
            Subscription(
                kafka.topics.control,
                group_id=f"{batcher.group_id}.control",
                handle=self.handle_control,
                commits=Commits.WHEN_HANDLED,
                title="control",
                description="CutRequest from `prefstream dataset cut`; read from the end of the "
                "topic.",
                batch=False,
                options={"auto_offset_reset": "latest"},
                needs_partitions=True,
                failure="cut request failed; it will be redelivered",
            ),
        ]

    async def open(self) -> None:
        """Open the store, learn earlier announcements, rebuild the planner's state."""
        s = self.settings
        s.datasets_dir.mkdir(parents=True, exist_ok=True)
        removed = clear_staging(s.datasets_dir)
        if removed:
            log.info("removed incomplete dataset attempts", extra={"count": removed})
        self.store = await asyncio.to_thread(BatcherStore, s.db_path, memory_limit=s.memory_limit)
        announced = await read_announcements(self.config.kafka, s.datasets_topic)
        mine = lineage(announced, s.dataset_name, s.pairs_topic)
        if mine:
            self._record_cut(max(mine, key=lambda e: e.sequence))
        async with self.lock:
            await self._call(self._restore, mine)
            await self._call(self._load_state, last_sequence(announced, s.dataset_name))
        self.opened = True
        log.info(
            "batcher store open",
            extra={
                "db_path": s.db_path,
                "pending": self.state.pending,
                "next_sequence": self.next_sequence,
                "announcements_seen": len(mine),
            },
        )

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._writer(), name="batcher-writer"),
            asyncio.create_task(self._timer(), name="batcher-timer"),
        ]
        self.wake.set()

    async def drain(self) -> None:
        """Stop deciding; let the writer finish the step it is in (never half a file)."""
        self._closing = True
        self._stopped.set()
        self.wake.set()
        for task in self._tasks:
            if task.get_name() == "batcher-timer":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        """Close the store once no store call is running any more (a cancelled handler's
        transaction still finishes in its thread)."""
        if self._busy:
            await asyncio.wait(set(self._busy))
        if self.store is not None:
            self.store.close()
            self.store = None
        self.tracing.shutdown()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call in a worker thread; it completes even if the caller is cancelled."""
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._busy.add(future)
        future.add_done_callback(self._busy.discard)
        return await asyncio.shield(future)

    @property
    def db(self) -> BatcherStore:
        assert self.store is not None, "store not open"
        return self.store

    # -- ingest ----------------------------------------------------------------------------

    def ready(self) -> Readiness:
        """Open, and no problem (e.g. a full disk: it recovers once space is back)."""
        if not self.opened:
            return False, {}
        return not self.problems, self.status()

    async def handle(self, batch: Batch) -> None:
        """One consumed batch: dead-letter the bad records, store the rest, decide cuts.

        Dead letters are acknowledged before the DuckDB transaction (a redelivery after a
        failed transaction sends them again; after a committed one the batch is skipped by
        offset), and the transaction commits before returning, so the offsets FastStream
        commits next are covered. Raising makes it seek back and redeliver the batch.
        """
        records = batch.records
        if not records:
            return
        now = time.time()
        try:
            async with self.lock:
                fresh, decoded = await self._call(self._decode, records, now)
                await self.dead_letter(decoded.dead)
                specs = await self._call(self._ingest, len(records), fresh, decoded, now)
        except Exception as exc:
            self.problems["ingest"] = _describe(exc, "storing pairs", self.settings.db_path)
            raise
        self.problems.pop("ingest", None)
        if specs:
            crash_point("after_decide")
            self.wake.set()
        elif self.awaiting_pairs:
            self.wake.set()

    def _decode(
        self, records: Sequence[SourceRecord], now: float
    ) -> tuple[list[SourceRecord], Decoded]:
        """Records not yet stored (redeliveries are below the stored positions), decoded."""
        positions = self.state.positions
        fresh = [r for r in records if r.offset >= positions.get(r.partition, 0)]
        max_bytes = self.config.kafka.max_record_bytes
        return fresh, decode_records(fresh, max_bytes=max_bytes, received_at=now)

    def _ingest(
        self, consumed: int, fresh: Sequence[SourceRecord], decoded: Decoded, now: float
    ) -> list[CutSpec]:
        s = self.settings
        rows = [row for row in decoded.rows if row is not None]
        with self.db.transaction():
            stored = self.db.insert_pairs(rows)
            arrivals = []
            index = 0
            for record, row in zip(fresh, decoded.rows, strict=True):
                new = False
                if row is not None:
                    unique = stored.first[index] or (stored.inserted[index] and not s.dedup)
                    new = unique and policy_allowed(row.policy_model, s.policy_filter)
                    index += 1
                arrivals.append(Arrival(record.partition, record.offset, new, now))
            state, cuts = observe(self.state, arrivals, s.thresholds)
            specs = self._specs(cuts, self.state.starts, None, s.policy_filter)
            for spec in specs:
                self.db.record_cut(spec)
            self.db.save_positions(state.positions)
        self.state = state
        self.next_sequence += len(specs)
        inserted = sum(stored.inserted)
        firsts = sum(stored.first)
        self.metrics.records_total.inc(consumed)
        self.metrics.pairs_total.labels("stored").inc(firsts)
        self.metrics.pairs_total.labels("duplicate").inc(inserted - firsts)
        self.metrics.pairs_total.labels("replayed").inc(
            consumed - len(fresh) + len(rows) - inserted
        )
        self.metrics.pairs_pending.set(state.pending)
        for spec in specs:
            log.info("cut decided", extra=_spec_log(spec))
        return specs

    def _specs(
        self,
        cuts: Sequence[CutPoint],
        starts: dict[int, int] | Any,
        request_id: str | None,
        policy_filter: list[str] | None,
    ) -> list[CutSpec]:
        """Cut records for ``cuts``, numbered from ``next_sequence`` (not yet advanced)."""
        s = self.settings
        specs = []
        now = datetime.now(UTC)
        for i, cut in enumerate(cuts):
            sequence = self.next_sequence + i
            specs.append(
                CutSpec(
                    sequence=sequence,
                    name=s.name_of(sequence),
                    mode=s.mode,
                    trigger=cut.trigger.value,
                    created_at=now,
                    starts=dict(starts) if s.mode == "incremental" else {},
                    ends=dict(cut.ends),
                    dedup=s.dedup,
                    max_pairs=s.sample_cap,
                    seed=s.seed,
                    validation_fraction=s.validation_fraction,
                    policy_filter=policy_filter,
                    request_id=request_id,
                    topic=s.pairs_topic,
                )
            )
            starts = cut.ends
        return specs

    def _decide(
        self, cut: CutPoint, request_id: str | None, policy_filter: list[str] | None
    ) -> CutSpec:
        [spec] = self._specs([cut], self.state.starts, request_id, policy_filter)
        with self.db.transaction():
            self.db.record_cut(spec)
        self.state = self.state.after_cut(cut.ends)
        self.next_sequence += 1
        self.metrics.pairs_pending.set(0)
        log.info("cut decided", extra=_spec_log(spec))
        crash_point("after_decide")
        return spec

    async def dead_letter(self, dead: Sequence[tuple[SourceRecord, DeadLetter]]) -> None:
        if not dead:
            return
        futures = []
        for record, letter in dead:
            self.metrics.deadletter_total.labels(letter.reason).inc()
            futures.append(
                await self.deadletters.publish(
                    encode(letter),
                    key=record.key,
                    headers=ce_headers("DeadLetter", SOURCE, event_id=letter.deadletter_id),
                    no_confirm=True,
                )
            )
        await asyncio.gather(*futures)

    # -- forced and timed cuts -------------------------------------------------------------

    async def handle_control(self, batch: Batch) -> None:
        """A ``prefstream dataset cut`` request: a forced cut, or a dead letter."""
        for record in batch.records:
            try:
                request = decode(
                    CutRequest, record.value or b"", max_bytes=self.config.kafka.max_record_bytes
                )
            except InvalidEvent as exc:
                letter = DeadLetter.for_record(
                    record, reason=exc.reason, detail=exc.detail, service=SERVICE
                )
                await self.dead_letter([(record, letter)])
                continue
            spec = await self.request_cut(request)
            log.info(
                "cut request handled",
                extra={
                    "request_id": request.request_id,
                    "dataset": spec.name if spec is not None else None,
                },
            )

    async def request_cut(self, request: CutRequest) -> CutSpec | None:
        """A forced cut of everything consumed; ``None`` when nothing is pending."""
        async with self.lock:
            spec = await self._call(self._force, request)
        if spec is not None:
            self.wake.set()
        return spec

    def _force(self, request: CutRequest) -> CutSpec | None:
        s = self.settings
        policy = request.policy_models if request.policy_models is not None else s.policy_filter
        pending: int | None = None
        if policy != s.policy_filter:
            pending, _ = self.db.pending(self.state.starts, dedup=s.dedup, policy_filter=policy)
        cut = forced(self.state, pending)
        if cut is None:
            log.info("cut requested, nothing pending", extra={"request_id": request.request_id})
            return None
        return self._decide(cut, request.request_id, policy)

    async def _timer(self) -> None:
        """Decide the cuts that time makes due. A decision that fails (its COMMIT on a full
        disk) is logged and retried with backoff: the timer must outlive it, or no
        ``max_wait`` cut would ever be decided again."""
        tick = min(1.0, max(0.05, self.settings.thresholds.max_wait_seconds / 4))
        backoff = 1.0
        while not self._closing:
            wait = seconds_until_due(self.state, time.time(), self.settings.thresholds)
            await asyncio.sleep(tick if wait is None else min(tick, max(wait, 0.01)))
            try:
                async with self.lock:
                    cut = due(self.state, time.time(), self.settings.thresholds)
                    if cut is None or self._closing:
                        continue
                    await self._call(self._decide, cut, None, self.settings.policy_filter)
            except Exception as exc:
                problem = _describe(exc, "deciding a cut", self.settings.db_path)
                self._failed("decide", problem, exc, backoff)
            else:
                backoff = 1.0
                self._works_again("decide", "deciding cuts works again")
                self.wake.set()
                continue
            # Outside the handler, so the failed attempt's traceback is not kept meanwhile.
            backoff = await self._back_off(backoff)

    # -- writing and announcing ------------------------------------------------------------

    async def _writer(self) -> None:
        """Write and announce decided cuts; on failure retry with backoff, by itself.

        A failed attempt leaves nothing open or behind (materialize closes its files and
        the scan, and removes its staging directory), so a disk that was full works again
        at the next attempt once space is back; meanwhile ``/readyz`` says why not ready.
        """
        backoff = 1.0
        while not self._closing:
            await self.wake.wait()
            self.wake.clear()
            try:
                while not self._closing and await self._advance():
                    pass
            except Exception as exc:
                self.metrics.cut_failures_total.inc()
                where = self.options.datasets_dir
                problem = _describe(exc, "writing or announcing a dataset", where)
                self._failed("write", problem, exc, backoff)
            else:
                backoff = 1.0
                self._works_again("write", "writing datasets works again")
                continue
            # Outside the handler, so the failed attempt's traceback is not kept meanwhile.
            backoff = await self._back_off(backoff)
            self.wake.set()

    def _failed(self, step: str, problem: str, exc: Exception, backoff: float) -> None:
        """Say why ``step`` failed and when it is retried, on ``/readyz`` and in the log
        (with the traceback, unless the disk is full: that needs no code to explain)."""
        self.problems[step] = f"{problem}; retrying in {backoff:.0f} s"
        log.error(
            "%s; retrying in %.0f s",
            problem,
            backoff,
            exc_info=not _is_disk_full(exc),
            extra={"retry_in_s": backoff},
        )

    def _works_again(self, step: str, message: str) -> None:
        if self.problems.pop(step, None) is not None:
            log.info(message)

    async def _back_off(self, backoff: float) -> float:
        """Wait ``backoff`` seconds (cut short by stopping); the next pause, doubled."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), backoff)
        return min(backoff * 2, MAX_RETRY_SECONDS)

    async def _advance(self) -> bool:
        """Move the oldest unannounced dataset one state forward; ``False``: nothing to do."""
        async with self.lock:
            pending = await self._call(
                self.db.cut_records,
                [DatasetState.DECIDED, DatasetState.RESTORED, DatasetState.WRITTEN],
            )
        if not pending:
            return False
        entry = pending[0]
        if entry.state is DatasetState.RESTORED:
            async with self.lock:
                return await self._call(self._materialize_restored, entry)
        tracer = self.tracing.tracer
        if tracer is None:
            await self._write_and_announce(entry)
            return True
        async with self.lock:
            traces = await self._call(
                self.db.trace_links, entry.spec, self.config.tracing.max_links
            )
        # The DatasetReady published inside carries this span's context (the middleware).
        with tracer.start_as_current_span(
            "batcher dataset cut",
            links=links(traces),
            attributes={
                "prefstream.dataset": entry.spec.name,
                "prefstream.sequence": entry.spec.sequence,
                "prefstream.trigger": entry.spec.trigger,
                "prefstream.linked_pairs": len(traces),
            },
        ):
            await self._write_and_announce(entry)
        return True

    async def _write_and_announce(self, entry: CutRecord) -> None:
        """A decided cut's files, then its announcement; a written one's announcement."""
        if entry.state is DatasetState.DECIDED:
            started = time.perf_counter()
            async with self.lock:
                event = await self._call(self._write, entry.spec, DatasetState.WRITTEN)
            self.metrics.cut_duration.observe(time.perf_counter() - started)
            crash_point("after_files")
        else:
            assert entry.event is not None
            event = DatasetReady.model_validate_json(entry.event)
        await self._announce(event)

    def _write(self, spec: CutSpec, state: DatasetState) -> DatasetReady:
        built = build(self.db, spec, self.options)
        with self.db.scan_budget():
            self.db.mark_written(
                built.selection, built.event.dataset_id, built.event.model_dump_json(), state
            )
        log.info(
            "dataset written",
            extra={
                "dataset": spec.name,
                "dataset_id": built.event.dataset_id,
                "pairs": built.event.num_pairs,
                "reused_directory": built.reused,
            },
        )
        return built.event

    def _record_cut(self, event: DatasetReady) -> None:
        self.metrics.last_dataset_sequence.set(event.sequence)
        self.metrics.last_cut_timestamp.set(event.created_at.timestamp())

    async def _announce(self, event: DatasetReady) -> None:
        await self.datasets.publish(
            encode(event),
            key=event.dataset_id.encode(),
            headers=ce_headers(
                "DatasetReady",
                SOURCE,
                event_id=event.dataset_id,
                time=event.created_at,
                subject=event.name,
            ),
        )
        crash_point("after_publish")
        async with self.lock:
            await self._call(self.db.mark_announced, event.sequence)
        self.metrics.datasets_total.labels(event.trigger or "unknown").inc()
        self.metrics.dataset_pairs_total.inc(event.num_pairs)
        self._record_cut(event)
        log.info(
            "dataset announced",
            extra={"dataset": event.name, "dataset_id": event.dataset_id, "pairs": event.num_pairs},
        )

    def _materialize_restored(self, entry: CutRecord) -> bool:
        """An earlier batcher announced this cut: keep its directory, or rebuild it once the
        pairs it covers have been consumed. Never announced again."""
        spec = entry.spec
        final = self.settings.datasets_dir / spec.name
        if final.exists():
            manifest = read_manifest(final)
            if manifest.dataset_id != entry.dataset_id:
                raise DatasetConflict(
                    f"{final} holds dataset {manifest.dataset_id}, but {spec.name} was "
                    f"announced as {entry.dataset_id}"
                )
            self.db.adopt_announced(spec.sequence, read_pair_ids(final))
            log.info("announced dataset found on disk", extra={"dataset": spec.name})
            return True
        positions = self.state.positions
        self.awaiting_pairs = any(positions.get(p, 0) < end for p, end in spec.ends.items())
        if self.awaiting_pairs:
            return False
        event = self._write(spec, DatasetState.ANNOUNCED)
        if event.dataset_id != entry.dataset_id:
            log.warning(
                "rebuilt an announced dataset with different bytes (same cut, other content "
                "order or config); it is not announced again",
                extra={
                    "dataset": spec.name,
                    "announced": entry.dataset_id,
                    "rebuilt": event.dataset_id,
                },
            )
        return True

    # -- startup ---------------------------------------------------------------------------

    def _restore(self, announced: Sequence[DatasetReady]) -> None:
        s = self.settings
        records = {e.spec.sequence: e for e in self.db.cut_records()}
        ends = {seq: e.spec.ends for seq, e in records.items()}
        for event in announced:
            entry = records.get(event.sequence)
            event_ends = {
                o.partition: o.offset for o in event.source_offsets if o.topic == s.pairs_topic
            }
            ends.setdefault(event.sequence, event_ends)
            if entry is None:
                starts = ends.get(event.sequence - 1, {}) if event.mode == "incremental" else {}
                spec = CutSpec(
                    sequence=event.sequence,
                    name=event.name,
                    mode=event.mode,
                    trigger=event.trigger or "restored",
                    created_at=event.created_at,
                    starts=dict(starts),
                    ends=event_ends,
                    dedup=s.dedup,
                    max_pairs=s.max_pairs if event.mode == "cumulative" else None,
                    seed=s.seed,
                    validation_fraction=s.validation_fraction,
                    policy_filter=event.policy_filter,
                    request_id=event.request_id,
                    topic=s.pairs_topic,
                )
                self.db.record_restored(spec, event.dataset_id, event.model_dump_json())
                log.info("learned an earlier cut", extra={"dataset": event.name})
            elif entry.state is DatasetState.WRITTEN:
                if entry.dataset_id != event.dataset_id:
                    log.error(
                        "the datasets topic already holds a different dataset under this name; "
                        "not announcing ours",
                        extra={
                            "dataset": event.name,
                            "ours": entry.dataset_id,
                            "announced": event.dataset_id,
                        },
                    )
                self.db.mark_announced(event.sequence)

    def _load_state(self, announced_up_to: int) -> None:
        s = self.settings
        records = self.db.cut_records()
        starts = records[-1].spec.ends if records else {}
        pending, oldest = self.db.pending(starts, dedup=s.dedup, policy_filter=s.policy_filter)
        self.state = PlannerState(dict(starts), self.db.positions(), pending, oldest)
        on_disk = [
            int(m.group(1))
            for p in s.datasets_dir.iterdir()
            if (m := re.fullmatch(rf"{re.escape(s.dataset_name)}-(\d+)", p.name))
        ]
        last = max([records[-1].spec.sequence if records else 0, announced_up_to, *on_disk])
        self.next_sequence = last + 1
        self.metrics.pairs_pending.set(pending)

    # -- introspection ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "pending": self.state.pending,
            "next_sequence": self.next_sequence,
            "positions": {str(p): o for p, o in sorted(self.state.positions.items())},
        }
        if self.problems:
            status["problems"] = dict(self.problems)
        return status


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _is_disk_full(exc: BaseException) -> bool:
    """An ``OSError`` from Python or Arrow, or DuckDB's own IO error, which has no errno."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    return "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc)


def _describe(exc: BaseException, doing: str, where: object) -> str:
    """One line an operator can act on; a full disk names the place to free."""
    if _is_disk_full(exc):
        place = getattr(exc, "filename", None) or where
        return (
            f"{doing} failed: no space left on the disk of {place}; free space there, "
            "the batcher retries by itself (no restart needed)"
        )
    return f"{doing} failed: {type(exc).__name__}: {exc}"


def _spec_log(spec: CutSpec) -> dict[str, Any]:
    return {
        "dataset": spec.name,
        "trigger": spec.trigger,
        "ends": {str(p): o for p, o in sorted(spec.ends.items())},
        "request_id": spec.request_id,
    }


__all__ = ["BatcherService"]
