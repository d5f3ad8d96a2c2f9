"""Admission and concurrency: which datasets run now, which wait, which are superseded.

``admit`` records a dataset in the ledger (the consumer commits its offset only after
that) and applies the queue policy. A loop starts waiting datasets while fewer than
``max_concurrent_jobs`` training jobs are in flight; a slot frees when a job reaches a
terminal state (a deployment that follows does not hold one). On start, every submission
the ledger has not closed is resumed, and events a crash kept from the broker are re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from prefstream_events import DatasetReady, JobStatus
from prefstream_stores.ledger import Ledger
from prefstream_submission.flow import FlowHooks, FlowSettings, Platform, SubmissionFlow
from prefstream_submission.job_events import Emitter
from prefstream_submission.model import Step, Submission
from prefstream_submission.queueing import QueuePolicy, next_to_start, superseded_by_arrival
from prefstream_submission.start_model import Retraining

log = logging.getLogger("prefstream.submitter")

FLOW_RESTART_FIRST_SECONDS = 5.0
FLOW_RESTART_MAX_SECONDS = 300.0
"""Pause before the n-th restart in a row of a failed flow: ``FIRST * 2**(n-1)``, at most
``MAX``, times a jitter in [0.5, 1] (flows failing together do not retry together)."""


class FlowKeepsFailing(Exception):
    """A flow failed, restart after restart, for ``retry_timeout_seconds``."""

    def __init__(self, limit: float, exc: BaseException) -> None:
        super().__init__(
            f"the submission kept failing for retry_timeout_seconds={limit:g}s: {exc!r}. "
            "Fix the cause (see the submitter's log: ledger disk, broker) and send the "
            "dataset again (prefstream submit), or allow longer (submitter.retry_timeout_seconds)"
        )


class Scheduler:
    def __init__(
        self,
        *,
        ledger: Ledger,
        emitter: Emitter,
        platform: Platform,
        settings: FlowSettings,
        max_concurrent_jobs: int,
        queue_policy: QueuePolicy,
        hooks: FlowHooks,
        on_flow_restart: Callable[[], None] = lambda: None,
        retraining: Retraining | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self._sleep = sleep
        self._clock = clock
        self.emitter = emitter
        self.platform = platform
        self.settings = settings
        self.retraining = retraining
        self.max_concurrent_jobs = max_concurrent_jobs
        self.queue_policy = queue_policy
        finished = hooks.job_finished

        def job_finished(sub: Submission) -> None:
            finished(sub)
            self._wake.set()  # a slot is free

        self.hooks = FlowHooks(
            progress=hooks.progress,
            job_created=hooks.job_created,
            poll_error=hooks.poll_error,
            job_finished=job_finished,
        )
        self._on_flow_restart = on_flow_restart
        self._open: dict[str, Submission] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._loop.done()

    def in_flight(self) -> int:
        """Started submissions whose training job has not finished (the slots in use)."""
        return sum(
            1
            for key in self._tasks
            if (sub := self._open.get(key)) is not None and sub.step.rank < Step.JOB_FINISHED.rank
        )

    def queued(self) -> int:
        """Datasets waiting for a slot."""
        return sum(
            1 for s in self._open.values() if not s.started and s.dataset_id not in self._tasks
        )

    async def start(self) -> None:
        """Resume from the ledger: re-send unacknowledged events, re-apply the policy."""
        for sub in self.ledger.unpublished():
            await self.emitter.republish_pending(sub)
        for sub in self.ledger.open_submissions():
            self._open[sub.dataset_id] = sub
        for sub in sorted(self._open.values(), key=lambda s: s.ordinal):
            if not sub.started:
                if sub.seq == 0:
                    await self.emitter.emit(sub, "queued", status=JobStatus.QUEUED)
                await self._apply_policy(sub)
        resumed = [s.dataset_id for s in self._open.values() if s.started]
        log.info(
            "submitter resumed from its ledger",
            extra={"open": len(self._open), "resuming": resumed},
        )
        self._loop = asyncio.create_task(self._run(), name="submitter-scheduler")

    async def stop(self) -> None:
        """Cancel everything; every flow resumes from the ledger on the next start."""
        tasks = [t for t in (self._loop, *self._tasks.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loop = None

    async def admit(self, dataset: DatasetReady) -> bool:
        """Record a new dataset; ``False`` for a re-delivered one (already in the ledger)."""
        sub = self.ledger.add(dataset)
        if sub is None:
            known = self._open.get(dataset.dataset_id)
            if known is not None:  # redelivered because its queued event never got out
                await self.emitter.republish_pending(known)
            return False
        self._open[sub.dataset_id] = sub
        await self.emitter.emit(sub, "queued", status=JobStatus.QUEUED)
        await self._apply_policy(sub)
        self._wake.set()
        return True

    async def _apply_policy(self, sub: Submission) -> None:
        if sub.closed:
            return
        older, itself = superseded_by_arrival(self.queue_policy, sub, self._open.values())
        if itself:
            await self._supersede(sub, "a newer dataset of this name is already queued or running")
        for old in older:
            await self._supersede(old, f"superseded by {sub.dataset.name} ({sub.dataset_id})")

    async def _supersede(self, sub: Submission, why: str) -> None:
        sub.closed = True
        await self.emitter.emit(sub, "superseded", status=JobStatus.SUPERSEDED, message=why)
        self._open.pop(sub.dataset_id, None)
        log.info("dataset superseded", extra={"dataset_id": sub.dataset_id, "why": why})

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._start_runnable()
            await self._wake.wait()

    def _start_runnable(self) -> None:
        for sub in sorted(self._open.values(), key=lambda s: s.ordinal):
            if sub.started and sub.dataset_id not in self._tasks:
                self._launch(sub, resumed=True)
        while self.in_flight() < self.max_concurrent_jobs:
            waiting = [s for s in self._open.values() if s.dataset_id not in self._tasks]
            nxt = next_to_start(waiting)
            if nxt is None:
                return
            self._launch(nxt, resumed=False)

    def _launch(self, sub: Submission, *, resumed: bool) -> None:
        key = sub.dataset_id
        self._tasks[key] = asyncio.create_task(self._drive(sub, resumed), name=f"submit-{key}")

    async def _drive(self, sub: Submission, resumed: bool) -> None:
        key = sub.dataset_id
        failing_since: float | None = None
        pause = FLOW_RESTART_FIRST_SECONDS
        try:
            while True:
                try:
                    done = await SubmissionFlow(
                        sub,
                        platform=self.platform,
                        emitter=self.emitter,
                        settings=self.settings,
                        resumed=resumed,
                        hooks=self.hooks,
                        retraining=self.retraining,
                    ).run()
                except Exception as exc:
                    # Ledger or broker trouble (or a bug): the ledger still says where we are.
                    now = self._clock()
                    failing_since = now if failing_since is None else failing_since
                    wait = pause * random.uniform(0.5, 1.0)
                    limit = self.settings.retry_timeout_seconds
                    if now - failing_since + wait > limit:
                        await self._give_up(sub, FlowKeepsFailing(limit, exc))
                        return
                    log.exception(
                        "submission interrupted; resuming in %.0f s",
                        wait,
                        extra={"dataset_id": key, "retry_in_s": wait},
                    )
                    self._on_flow_restart()
                    await self._sleep(wait)
                    pause = min(pause * 2, FLOW_RESTART_MAX_SECONDS)
                    reloaded = self.ledger.get(key)
                    if reloaded is None:
                        return
                    if reloaded.step.rank > sub.step.rank:  # it got further: a new streak
                        failing_since, pause = None, FLOW_RESTART_FIRST_SECONDS
                    sub = self._open[key] = reloaded
                    resumed = True
                    continue
                if done.closed:
                    self._open.pop(key, None)
                return
        finally:
            self._tasks.pop(key, None)
            self._wake.set()

    async def _give_up(self, sub: Submission, exc: FlowKeepsFailing) -> None:
        """Fail the dataset with the cause on the jobs topic (what an operator watches, and
        what frees its slot). When even that fails (the broker or the ledger is what keeps
        failing), the ledger keeps it open: the next start resumes it."""
        log.error("%s", exc, extra={"dataset_id": sub.dataset_id})
        try:
            await self.emitter.emit(sub, "failed", status=JobStatus.FAILED, error=str(exc))
            sub.step, sub.closed = Step.DONE, True
            self.ledger.save(sub, f"done: {sub.status.value}")
        except Exception:
            log.exception(
                "could not record the dataset as failed; it resumes on the next start",
                extra={"dataset_id": sub.dataset_id},
            )
            return
        self._open.pop(sub.dataset_id, None)
