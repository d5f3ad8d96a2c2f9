"""Prometheus metrics of the submitter, on a registry of its own.

``jobs{status}`` is read from the ledger at scrape time, so it is right after a restart
too; the rest are process counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prefstream_events import JobStatus
from prefstream_runtime.metrics import new_registry
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

SUBMIT_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0)


class JobsByStatus(Collector):
    """``jobs{status}``: datasets per current status, every status always present."""

    def __init__(self) -> None:
        self.counts: Callable[[], dict[str, int]] = dict

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "prefstream_submitter_jobs",
            "Datasets known to the submitter, by current job status.",
            labels=["status"],
        )
        counts = self.counts()
        for status in JobStatus:
            family.add_metric([status.value], counts.get(status.value, 0))
        yield family


@dataclass
class SubmitterMetrics:
    registry: CollectorRegistry = field(default_factory=new_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.jobs = JobsByStatus()
        r.register(self.jobs)
        self.submit_latency = Histogram(
            "prefstream_submitter_submit_latency_seconds",
            "From a DatasetReady being recorded to its customization job existing.",
            buckets=SUBMIT_LATENCY_BUCKETS,
            registry=r,
        )
        self.poll_errors_total = Counter(
            "prefstream_submitter_poll_errors_total",
            "Job or deployment status reads that failed (after the client's retries).",
            registry=r,
        )
        self.api_retries_total = Counter(
            "prefstream_submitter_api_retries_total",
            "NeMo platform calls retried after a transient error.",
            registry=r,
        )
        self.datasets_total = Counter(
            "prefstream_submitter_datasets_consumed_total",
            "DatasetReady records consumed.",
            ["outcome"],
            registry=r,
        )
        self.events_total = Counter(
            "prefstream_submitter_job_events_published_total",
            "JobStatusEvents published.",
            ["status"],
            registry=r,
        )
        self.metric_chunks_total = Counter(
            "prefstream_submitter_job_metric_chunks_published_total",
            "JobMetricsEvents published (a chunk of a job's curves, sent again as it grows).",
            registry=r,
        )
        self.flow_restarts_total = Counter(
            "prefstream_submitter_flow_restarts_total",
            "Submissions restarted after an unexpected error (ledger or broker trouble).",
            registry=r,
        )
