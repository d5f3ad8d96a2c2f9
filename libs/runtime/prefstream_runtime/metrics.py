"""Every service's Prometheus registry starts here, so all expose the same basics.

Naming follows the Prometheus conventions (checked by ``promtool check metrics`` in the
tests): one ``prefstream_<service>_`` prefix, base units in the name, ``_total`` on
counters only. The client's ``*_created`` series are off: they double the series count and
dashboards never read them.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client


def new_registry() -> CollectorRegistry:
    """A registry with the process's CPU, memory, file descriptors, GC and Python version."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
