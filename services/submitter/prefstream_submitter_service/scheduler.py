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
from collections.abc import Callable

from prefstream_events import DatasetReady, JobStatus
from prefstream_stores.ledger import Ledger
from prefstream_submission.flow import FlowHooks, FlowSettings, Platform, SubmissionFlow
from prefstream_submission.job_events import Emitter
from prefstream_submission.model import Step, Submission
from prefstream_submission.queueing import QueuePolicy, next_to_start, superseded_by_arrival
from prefstream_submission.start_model import Retraining

log = logging.getLogger("prefstream.submitter")

FLOW_RESTART_SECONDS = 5.0


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
    ) -> None:
        self.ledger = ledger
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
                except Exception:
                    # Ledger or broker trouble: the ledger still says where we are.
                    log.exception("submission interrupted; resuming", extra={"dataset_id": key})
                    self._on_flow_restart()
                    await asyncio.sleep(FLOW_RESTART_SECONDS)
                    reloaded = self.ledger.get(key)
                    if reloaded is None:
                        return
                    sub = self._open[key] = reloaded
                    resumed = True
                    continue
                if done.closed:
                    self._open.pop(key, None)
                return
        finally:
            self._tasks.pop(key, None)
            self._wake.set()
