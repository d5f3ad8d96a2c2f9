"""Publishes JobStatusEvents to the jobs topic, keyed by ``job_key``, and the jobs' curves to
the job-metrics topic, keyed ``job_key/chunk``, with CloudEvents headers.

Each publish waits for the broker's acknowledgement: the ledger marks an event published
only after that, which is what makes a crash re-publish instead of lose it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Tracer
from prefstream_events import JobMetricsEvent, JobStatusEvent, ce_headers, encode
from prefstream_runtime.trace_headers import context_from

from prefstream_submitter_service.metrics import SubmitterMetrics

SOURCE = "prefstream/submitter"


class Publisher(Protocol):
    """The part of a FastStream Kafka publisher used here."""

    async def publish(
        self, message: Any, *, key: bytes | None = ..., headers: dict[str, str] | None = ...
    ) -> Any: ...


def _untraced(dataset_id: str) -> str | None:
    return None


class KafkaSink:
    """With a ``tracer``, each JobStatusEvent is published in a span that is a child of its
    dataset's trace context (``trace_of(dataset_id)``, the DatasetReady's ``traceparent``);
    the broker's telemetry middleware puts the span's context in the record's headers."""

    def __init__(
        self,
        publisher: Publisher,
        metrics_publisher: Publisher,
        metrics: SubmitterMetrics,
        *,
        tracer: Tracer | None = None,
        trace_of: Callable[[str], str | None] = _untraced,
    ) -> None:
        self._publisher = publisher
        self._metrics_publisher = metrics_publisher
        self._metrics = metrics
        self._tracer = tracer
        self._trace_of = trace_of

    async def publish(self, event: JobStatusEvent) -> None:
        if self._tracer is None:
            await self._publish(event)
            return
        parent = context_from(self._trace_of(event.dataset_id)) or Context()
        with self._tracer.start_as_current_span(
            f"submitter job {event.status.value}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "prefstream.job_key": event.job_key,
                "prefstream.dataset_id": event.dataset_id,
                "prefstream.status": event.status.value,
                "prefstream.seq": event.seq,
            },
        ):
            await self._publish(event)

    async def _publish(self, event: JobStatusEvent) -> None:
        await self._publisher.publish(
            encode(event),
            key=event.job_key.encode(),
            headers=ce_headers("JobStatusEvent", SOURCE, subject=event.job_key),
        )
        self._metrics.events_total.labels(event.status.value).inc()

    async def publish_metrics(self, event: JobMetricsEvent) -> None:
        await self._metrics_publisher.publish(
            encode(event),
            key=event.key.encode(),
            headers=ce_headers("JobMetricsEvent", SOURCE, subject=event.key),
        )
        self._metrics.metric_chunks_total.inc()
