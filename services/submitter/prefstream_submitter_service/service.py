"""The submitter as a :class:`prefstream_runtime.Service`: DatasetReady in, NeMo Customizer
jobs and JobStatusEvents out.

Commits: :attr:`~prefstream_runtime.Commits.WHEN_HANDLED_PAUSED`. Each dataset is recorded
in the ledger before :meth:`SubmitterService.handle` returns, and only then is its offset
committed (a crash never loses a dataset; a redelivery is a no-op); a ledger write that
fails is redelivered after ``NACK_BACKOFF_SECONDS``. The scheduler and the per-dataset
flow (``prefstream_submission.flow``) do the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from faststream.kafka import KafkaBroker
from prefstream_config import PrefstreamConfig
from prefstream_events import (
    DatasetReady,
    DeadLetter,
    InvalidEvent,
    JobMetricsEvent,
    JobStatusEvent,
    ce_headers,
    decode,
    encode,
)
from prefstream_nemo import NemoClient
from prefstream_nemo.retry import RetryPolicy
from prefstream_runtime import Batch, Commits, Readiness, SourceRecord, Subscription
from prefstream_runtime.trace_headers import record_traceparent
from prefstream_runtime.tracing import DISABLED, Tracing
from prefstream_stores.ledger import Ledger
from prefstream_submission.flow import FlowHooks, FlowSettings
from prefstream_submission.job_events import Emitter

from prefstream_submitter_service.metrics import SubmitterMetrics
from prefstream_submitter_service.retraining import retraining
from prefstream_submitter_service.scheduler import Scheduler
from prefstream_submitter_service.sink import SOURCE, KafkaSink

SERVICE_NAME = "submitter"
log = logging.getLogger("prefstream.submitter")
NACK_BACKOFF_SECONDS = 1.0


def retry_policy(config: PrefstreamConfig, metrics: SubmitterMetrics) -> RetryPolicy:
    sub = config.submitter
    return RetryPolicy(
        attempts=sub.retry_attempts,
        max_seconds=sub.retry_max_seconds,
        initial_seconds=min(0.5, max(sub.retry_max_seconds, 0.01)),
        deadline_seconds=sub.retry_timeout_seconds,
        on_retry=lambda what, exc: metrics.api_retries_total.inc(),
    )


class SubmitterService:
    name = SERVICE_NAME

    def __init__(
        self, config: PrefstreamConfig, broker: KafkaBroker, tracing: Tracing = DISABLED
    ) -> None:
        """Declares the publishers on ``broker``; opens and connects nothing."""
        self.config = config
        self.tracing = tracing
        self.traces: dict[str, str] = {}
        """dataset_id -> the DatasetReady's ``traceparent`` (also kept in the ledger)."""
        self.metrics = SubmitterMetrics()
        self.registry = self.metrics.registry
        self.jobs = broker.publisher(
            config.kafka.topics.jobs,
            title="job status",
            description="Full current state of each dataset's training job, keyed by job_key; "
            "the highest seq per job_key wins.",
            schema=JobStatusEvent,
        )
        self.job_metrics = broker.publisher(
            config.kafka.topics.job_metrics,
            title="job metrics",
            description="Every job's training curves (train/val loss, DPO reward accuracy "
            "and margins, ...), keyed job_key/chunk, 100 steps per record; the last record "
            "per key wins.",
            schema=JobMetricsEvent,
        )
        self.deadletters = broker.publisher(
            config.kafka.topics.deadletter,
            title="dead letters",
            description="DatasetReady records that could not be decoded.",
            schema=DeadLetter,
        )
        self.ledger: Ledger | None = None
        self.client: NemoClient | None = None
        self.scheduler: Scheduler | None = None

    def subscriptions(self) -> Sequence[Subscription]:
        return [
            Subscription(
                self.config.kafka.topics.datasets,
                group_id=self.config.submitter.group_id,
                handle=self.handle,
                commits=Commits.WHEN_HANDLED_PAUSED,
                title="datasets",
                description="DatasetReady from the batcher; committed once recorded in the ledger.",
                batch=False,
                failure="could not record dataset; it will be redelivered",
                retry_pause_s=NACK_BACKOFF_SECONDS,
            )
        ]

    async def open(self) -> None:
        config, settings, metrics = self.config, self.config.submitter, self.metrics
        adapter = config.adapter()
        self.ledger = ledger = Ledger(settings.db_path)
        policy = retry_policy(config, metrics)
        self.client = client = NemoClient.from_config(adapter, policy=policy)
        start_from = config.retraining.start_from
        seams = retraining(config.kafka, client) if start_from == "latest" else None
        emitter = Emitter(
            ledger,
            KafkaSink(
                self.jobs,
                self.job_metrics,
                metrics,
                tracer=self.tracing.tracer,
                trace_of=self._trace_of,
            ),
            namespace=adapter.namespace,
        )
        hooks = FlowHooks(
            job_created=lambda sub, latency: metrics.submit_latency.observe(latency),
            poll_error=lambda sub, exc: metrics.poll_errors_total.inc(),
        )
        self.scheduler = Scheduler(
            ledger=ledger,
            emitter=emitter,
            platform=client,
            settings=FlowSettings.from_adapter(
                adapter,
                step_retry_seconds=settings.retry_max_seconds,
                retry_timeout_seconds=settings.retry_timeout_seconds,
                start_from=start_from,
            ),
            max_concurrent_jobs=settings.max_concurrent_jobs,
            queue_policy=settings.queue_policy,
            hooks=hooks,
            on_flow_restart=metrics.flow_restarts_total.inc,
            retraining=seams,
        )
        metrics.jobs.counts = ledger.status_counts

    async def start(self) -> None:
        assert self.scheduler is not None
        await self.scheduler.start()
        log.info("scheduler started", extra={"db_path": self.config.submitter.db_path})

    async def handle(self, batch: Batch) -> None:
        """Record each dataset in the ledger (raising when that fails: redelivered)."""
        assert self.scheduler is not None
        for record in batch.records:
            try:
                dataset = decode(
                    DatasetReady, record.value or b"", max_bytes=self.config.kafka.max_record_bytes
                )
            except InvalidEvent as exc:
                await self._dead_letter(record, exc)
                self.metrics.datasets_total.labels("invalid").inc()
                continue
            trace = record_traceparent(record) if self.tracing.enabled else None
            if trace is not None:
                self.traces[dataset.dataset_id] = trace  # admitting may publish at once
            admitted = await self.scheduler.admit(dataset)
            if trace is not None and admitted and self.ledger is not None:
                self.ledger.set_traceparent(dataset.dataset_id, trace)
            self.metrics.datasets_total.labels("new" if admitted else "duplicate").inc()

    def _trace_of(self, dataset_id: str) -> str | None:
        trace = self.traces.get(dataset_id)
        if trace is None and self.ledger is not None:
            trace = self.ledger.traceparent(dataset_id)
            if trace is not None:
                self.traces[dataset_id] = trace
        return trace

    async def _dead_letter(self, record: SourceRecord, exc: InvalidEvent) -> None:
        letter = DeadLetter.for_record(
            record, reason=exc.reason, detail=exc.detail, service=SERVICE_NAME
        )
        log.warning(
            "invalid DatasetReady sent to the dead-letter topic",
            extra={"reason": exc.reason, "detail": exc.detail, "offset": record.offset},
        )
        await self.deadletters.publish(
            encode(letter),
            key=record.key,
            headers=ce_headers("DeadLetter", SOURCE, event_id=letter.deadletter_id),
        )

    async def drain(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self.ledger is not None:
            self.metrics.jobs.counts = dict
            self.ledger.close()
        self.tracing.shutdown()

    def ready(self) -> Readiness:
        scheduler = self.scheduler
        if scheduler is None:
            return False, {}
        return scheduler.running, {
            "jobs_in_flight": scheduler.in_flight(),
            "queued": scheduler.queued(),
        }
