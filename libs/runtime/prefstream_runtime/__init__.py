"""What every service process needs: structured logs, probes and metrics, graceful shutdown."""

from prefstream_runtime.http import ReadyCheck, probe_routes, service_app
from prefstream_runtime.logs import JsonFormatter, configure_logging
from prefstream_runtime.serve import run, serve

__all__ = [
    "JsonFormatter",
    "ReadyCheck",
    "configure_logging",
    "probe_routes",
    "run",
    "serve",
    "service_app",
]
