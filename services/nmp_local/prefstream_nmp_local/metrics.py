"""``GET /metrics``: what nmp-local did, for the same Prometheus that scrapes prefstream.

Requests are counted by route template (``/v1/customization/jobs/{job_id}``), never by raw
path, so series stay bounded however many jobs run. Jobs by status and injected faults are
read at scrape time from the store and the fault state, so a restart loses nothing.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prefstream_nmp_local import customizer_jobs as jobs
from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.training.job_state import job_progress

disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

JOB_STATUSES = ("created", "pending", "running", "completed", "failed", "cancelled")
"""Always exported, at 0 when no job has them, so alerts and dashboards see the series."""


class _Jobs(Collector):
    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        now = self._ctx.now()
        counts = Tally(job_progress(r, now).status for r in self._ctx.store.list(jobs.KIND))
        family = GaugeMetricFamily(
            "prefstream_nmp_local_jobs", "Customization jobs by current status.", labels=["status"]
        )
        for status in sorted({*JOB_STATUSES, *counts}):
            family.add_metric([status], counts.get(status, 0))
        yield family
        faults = CounterMetricFamily(
            "prefstream_nmp_local_faults_injected",
            "Requests answered with an injected fault (see docs/nmp-local.md), by kind.",
            labels=["kind"],
        )
        for kind, count in sorted(self._ctx.faults.injected.items()):
            faults.add_metric([kind], count)
        yield faults


class NmpLocalMetrics:
    def __init__(self, ctx: AppContext) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.registry.register(_Jobs(ctx))
        self.requests = Counter(
            "prefstream_nmp_local_http_requests_total",
            "HTTP requests answered, by route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "prefstream_nmp_local_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            registry=self.registry,
        )

    def routes(self) -> list[BaseRoute]:
        async def scrape(request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return [Route("/metrics", scrape, methods=["GET"])]


def _route_template(scope: Scope) -> str:
    """The template of the route that answered, or would have: an injected fault answers
    before routing, and is still counted under its route."""
    matched = scope.get("route")
    if isinstance(matched, Route):
        return matched.path
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", []):
        if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
            return route.path
    return "unmatched"


class MetricsMiddleware:
    """Counts every request once its response started; outermost, so injected faults count."""

    def __init__(self, app: ASGIApp, metrics: NmpLocalMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees when the app raises before answering

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = _route_template(scope)
            method = str(scope.get("method", "GET"))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)
