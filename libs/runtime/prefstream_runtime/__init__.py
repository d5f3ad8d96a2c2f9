"""What every service process needs: one lifecycle, structured logs, probes and metrics,
graceful shutdown."""

from prefstream_runtime.http import ReadyCheck, asgi_app, probe_routes
from prefstream_runtime.lifecycle import (
    Batch,
    Commits,
    PartitionListener,
    Readiness,
    Service,
    SourceRecord,
    Subscription,
    service_app,
)
from prefstream_runtime.logs import configure_logging
from prefstream_runtime.serve import run, serve

__all__ = [
    "Batch",
    "Commits",
    "PartitionListener",
    "Readiness",
    "ReadyCheck",
    "Service",
    "SourceRecord",
    "Subscription",
    "asgi_app",
    "configure_logging",
    "probe_routes",
    "run",
    "serve",
    "service_app",
]
