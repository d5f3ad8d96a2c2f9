"""JobStatusEvents: platform statuses mapped to ours, and an emitter that publishes only
real changes, numbers them, and records them in the ledger before they leave; beside them,
the job's curves as JobMetricsEvents (``prefstream_events.job_metrics``).

Every event carries the full current state (compaction keeps only the last per
``job_key``). ``seq`` is written to the ledger before publishing and marked published
after the broker acknowledged, so a crash in between re-publishes the same event with the
same ``seq``: consumers see a duplicate at worst, never a gap or a renumbering. A job's
events leave one at a time, in ``seq`` order, whichever tasks emit them (the flow of a
dataset can start while the event that queued it is still on its way to the broker).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from prefstream_events import JobMetricsEvent, JobStatus, JobStatusEvent, metric_chunks
from prefstream_events.job_metrics import Sample, changed_chunks

from prefstream_submission.model import Submission

_JOB_STATUSES = {
    "created": JobStatus.CREATED,
    "pending": JobStatus.PENDING,
    "running": JobStatus.RUNNING,
    "cancelling": JobStatus.CANCELLING,
    "completed": JobStatus.COMPLETED,
    "ready": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
    "error": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
    "canceled": JobStatus.CANCELLED,
}

_IGNORED_FOR_CHANGE = {"seq", "updated_at", "message"}


def job_status(platform_status: str) -> JobStatus:
    """Customizer's status string → ours. ``ready`` counts as completed; anything not
    known is ``unknown`` (not terminal: the poll goes on until the job deadline)."""
    return _JOB_STATUSES.get(platform_status.strip().lower(), JobStatus.UNKNOWN)


class Sink(Protocol):
    """Where events go: the jobs and job-metrics topics in the service, the terminal in
    ``prefstream submit``."""

    async def publish(self, event: JobStatusEvent) -> None: ...

    async def publish_metrics(self, event: JobMetricsEvent) -> None: ...


class EventLedger(Protocol):
    def save(self, sub: Submission, detail: str | None = None) -> None: ...

    def mark_published(self, sub: Submission, seq: int) -> None: ...


def initial_event(sub: Submission, namespace: str | None) -> JobStatusEvent:
    return JobStatusEvent(
        job_key=sub.job_key,
        seq=0,
        dataset_id=sub.dataset_id,
        dataset_name=sub.dataset.name,
        status=JobStatus.QUEUED,
        namespace=namespace,
    )


def _state(event: JobStatusEvent) -> dict[str, Any]:
    return event.model_dump(exclude=_IGNORED_FOR_CHANGE)


class Emitter:
    def __init__(self, ledger: EventLedger, sink: Sink, *, namespace: str | None) -> None:
        self.ledger = ledger
        self.sink = sink
        self.namespace = namespace
        self._publishing: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        """One lock per job while any of its events is being published (a lock no task
        holds or waits for is dropped with its last reference)."""

    def _one_at_a_time(self, sub: Submission) -> asyncio.Lock:
        lock = self._publishing.get(sub.job_key)
        if lock is None:
            lock = self._publishing[sub.job_key] = asyncio.Lock()
        return lock

    async def emit(self, sub: Submission, detail: str | None = None, **changes: Any) -> bool:
        """Publish the new full state if it differs from the last one; ``True`` if sent.

        Waits for an event of the same job still being published: without that, a
        re-publish of seq N begun before seq N+1 could reach the broker after it (a chaos
        run saw ``queued``, ``submitting``, ``queued``: the first send after a broker restart
        took ~110 ms while the flow's went straight through)."""
        async with self._one_at_a_time(sub):
            return await self._emit(sub, detail, **changes)

    async def _emit(self, sub: Submission, detail: str | None, **changes: Any) -> bool:
        base = sub.last_event or initial_event(sub, self.namespace)
        data = {**base.model_dump(), **changes}
        candidate = JobStatusEvent.model_validate(data)
        if sub.last_event is not None and _state(candidate) == _state(sub.last_event):
            return False
        sub.seq += 1
        event = candidate.model_copy(update={"seq": sub.seq, "updated_at": datetime.now(UTC)})
        sub.last_event = event
        sub.status = event.status
        sub.error = event.error
        sub.updated_at = time.time()
        self.ledger.save(sub, detail or f"event {event.seq}: {event.status.value}")
        await self.sink.publish(event)
        self.ledger.mark_published(sub, event.seq)
        return True

    async def emit_metrics(self, sub: Submission, series: Mapping[str, Sequence[Sample]]) -> int:
        """Publish the chunks of the job's curves that gained or changed points since the
        last call; returns how many. Sent before the status event that reports the same
        progress, so a reader that sees ``steps_completed`` N has the points up to N."""
        fresh = metric_chunks(sub.job_key, sub.job_id, series)
        changed = changed_chunks(fresh, sub.published_metrics)
        for event in changed:
            await self.sink.publish_metrics(event)
            sub.published_metrics[event.chunk] = event
        return len(changed)

    async def republish_pending(self, sub: Submission) -> bool:
        """After a crash between ledger write and broker ack: send the last event again
        (after any of the job's events still being published, which may be that one)."""
        async with self._one_at_a_time(sub):
            if sub.last_event is None or sub.published_seq >= sub.seq:
                return False
            await self.sink.publish(sub.last_event)
            self.ledger.mark_published(sub, sub.last_event.seq)
            return True
