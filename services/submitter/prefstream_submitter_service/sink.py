"""Publishes JobStatusEvents to the jobs topic, keyed by ``job_key``, and the jobs' curves to
the job-metrics topic, keyed ``job_key/chunk``, with CloudEvents headers.

Each publish waits for the broker's acknowledgement: the ledger marks an event published
only after that, which is what makes a crash re-publish instead of lose it.
"""

from __future__ import annotations

from typing import Any, Protocol

from prefstream_events import JobMetricsEvent, JobStatusEvent, ce_headers, encode

from prefstream_submitter_service.metrics import SubmitterMetrics

SOURCE = "prefstream/submitter"


class Publisher(Protocol):
    """The part of a FastStream Kafka publisher used here."""

    async def publish(
        self, message: Any, *, key: bytes | None = ..., headers: dict[str, str] | None = ...
    ) -> Any: ...


class KafkaSink:
    def __init__(
        self, publisher: Publisher, metrics_publisher: Publisher, metrics: SubmitterMetrics
    ) -> None:
        self._publisher = publisher
        self._metrics_publisher = metrics_publisher
        self._metrics = metrics

    async def publish(self, event: JobStatusEvent) -> None:
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
