"""Prometheus metrics of the web view, on a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstream_runtime.metrics import new_registry
from prometheus_client import CollectorRegistry, Counter, Gauge

from prefstream_ui_service.view_state import ViewState


@dataclass
class UiMetrics:
    state: ViewState
    registry: CollectorRegistry = field(default_factory=new_registry)

    def __post_init__(self) -> None:
        self.events_total = Counter(
            "prefstream_ui_events_consumed_total",
            "Events read from each topic (replays and duplicates included).",
            ["topic"],
            registry=self.registry,
        )
        self.rebuilds_total = Counter(
            "prefstream_ui_rebuilds_total",
            "Times the view lost the topics and was rebuilt from their beginning.",
            registry=self.registry,
        )
        self.renders_total = Counter(
            "prefstream_ui_renders_total",
            "Pages, fragments and API documents rendered.",
            ["what"],
            registry=self.registry,
        )
        self.unchanged_total = Counter(
            "prefstream_ui_unchanged_responses_total",
            "Refreshes answered 204: nothing changed since the page's version.",
            registry=self.registry,
        )
        jobs = Gauge("prefstream_ui_jobs", "Jobs on the jobs topic.", registry=self.registry)
        jobs.set_function(lambda: len(self.state.boards.jobs.jobs))
        version = Gauge(
            "prefstream_ui_view_version", "Changes folded in since start.", registry=self.registry
        )
        version.set_function(lambda: self.state.version)
