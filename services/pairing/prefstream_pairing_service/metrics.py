"""Prometheus metrics of the pairing service, on a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstream_runtime.metrics import new_registry
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CLOSE_LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
    60.0,
)


@dataclass
class PairingMetrics:
    registry: CollectorRegistry = field(default_factory=new_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.windows_open = Gauge(
            "prefstream_pairing_windows_open", "Windows holding candidates.", registry=r
        )
        self.candidates_total = Counter(
            "prefstream_pairing_candidates_total",
            "Valid candidates of the configured TTC step.",
            registry=r,
        )
        self.records_total = Counter(
            "prefstream_pairing_records_consumed_total", "Records consumed.", registry=r
        )
        self.filtered_total = Counter(
            "prefstream_pairing_candidates_filtered_total",
            "Valid candidates of another ttc_step_name.",
            registry=r,
        )
        self.duplicates_total = Counter(
            "prefstream_pairing_candidates_duplicate_total",
            "Candidates already held (replays, resends).",
            registry=r,
        )
        self.candidates_paired_total = Counter(
            "prefstream_pairing_candidates_paired_total",
            "Candidates of closed windows that are in at least one pair.",
            registry=r,
        )
        self.candidates_unpaired_total = Counter(
            "prefstream_pairing_candidates_unpaired_total",
            "Candidates of closed windows in no pair (a single candidate, or scores closer "
            "than min_score_diff).",
            registry=r,
        )
        self.candidates_open = Gauge(
            "prefstream_pairing_candidates_open",
            "Candidates held in windows still open.",
            registry=r,
        )
        self.pairs_total = Counter(
            "prefstream_pairing_pairs_published_total", "Pairs written and published.", registry=r
        )
        self.late_total = Counter(
            "prefstream_pairing_candidates_late_total", "Candidates of closed windows.", registry=r
        )
        self.deadletter_total = Counter(
            "prefstream_pairing_dead_letters_total",
            "Records sent to the dead-letter topic.",
            ["reason"],
            registry=r,
        )
        self.windows_closed_total = Counter(
            "prefstream_pairing_windows_closed_total", "Closed windows.", ["reason"], registry=r
        )
        self.close_latency = Histogram(
            "prefstream_pairing_close_latency_seconds",
            "From a window's last candidate's record timestamp to its pairs being committed.",
            buckets=CLOSE_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "prefstream_pairing_batch_duration_seconds",
            "Handling one consumed batch, commit included.",
            buckets=CLOSE_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            "prefstream_pairing_commit_duration_seconds",
            "DuckDB COMMIT (WAL sync and any automatic checkpoint).",
            buckets=CLOSE_LATENCY_BUCKETS,
            registry=r,
        )
        self.checkpoint_seconds = Histogram(
            "prefstream_pairing_checkpoint_duration_seconds",
            "Background DuckDB checkpoints (they run beside the writer).",
            buckets=CLOSE_LATENCY_BUCKETS,
            registry=r,
        )
        self.commit_errors_total = Counter(
            "prefstream_pairing_offset_commit_errors_total",
            "Offset commits refused (rebalance).",
            registry=r,
        )
        self.resets_total = Counter(
            "prefstream_pairing_resets_total",
            "Failures that rewound to the committed offsets.",
            registry=r,
        )
        self.consecutive_failures = Gauge(
            "prefstream_pairing_consecutive_failures",
            "Batches failed in a row (each one rewound); not ready from 3 on.",
            registry=r,
        )
        self.clock_skew_total = Counter(
            "prefstream_pairing_clock_skew_records_total",
            "Records stamped beyond pairing.max_clock_skew_seconds ahead of the wall clock "
            "(their partition clock used the wall clock instead).",
            registry=r,
        )
