"""Prometheus metrics of the batcher service, on a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstream_runtime.metrics import new_registry
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CUT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class BatcherMetrics:
    registry: CollectorRegistry = field(default_factory=new_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.pairs_pending = Gauge(
            "prefstream_batcher_pairs_pending",
            "New unique pairs consumed since the last cut.",
            registry=r,
        )
        self.records_total = Counter(
            "prefstream_batcher_records_consumed_total", "Records consumed.", registry=r
        )
        self.pairs_total = Counter(
            "prefstream_batcher_pairs_consumed_total",
            "Consumed pairs by outcome: stored, duplicate (content seen), replayed (pair id "
            "or offset seen).",
            ["outcome"],
            registry=r,
        )
        self.deadletter_total = Counter(
            "prefstream_batcher_dead_letters_total",
            "Records sent to the dead-letter topic.",
            ["reason"],
            registry=r,
        )
        self.datasets_total = Counter(
            "prefstream_batcher_datasets_announced_total",
            "Datasets written and announced.",
            ["trigger"],
            registry=r,
        )
        self.dataset_pairs_total = Counter(
            "prefstream_batcher_dataset_pairs_total", "Pairs in announced datasets.", registry=r
        )
        self.cut_duration = Histogram(
            "prefstream_batcher_cut_duration_seconds",
            "Writing one dataset: files, manifest, fsync, rename, membership.",
            buckets=CUT_BUCKETS,
            registry=r,
        )
        self.cut_failures_total = Counter(
            "prefstream_batcher_cut_failures_total",
            "Attempts to write or announce a dataset that failed.",
            registry=r,
        )
        self.last_dataset_sequence = Gauge(
            "prefstream_batcher_last_dataset_sequence",
            "Sequence of the last announced dataset.",
            registry=r,
        )
        self.last_cut_timestamp = Gauge(
            "prefstream_batcher_last_cut_timestamp_seconds",
            "Unix time of the last announced dataset of this lineage (0: none yet); the "
            "cut-age alert reads it.",
            registry=r,
        )
