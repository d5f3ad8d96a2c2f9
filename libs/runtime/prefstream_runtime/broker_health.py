"""Whether a consumer still has its broker and its group, for ``/readyz``.

A consumer object and its last assignment outlive the broker: aiokafka keeps both while it
retries, so readiness built on them stayed true for an orphaned service. aiokafka has no
public connection state; this reads it from the consumer's client and group coordinator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer


def _connected(consumer: AIOKafkaConsumer) -> bool:
    """Any live connection to a broker: a running consumer always holds one (its fetch
    long-polls, its group heartbeats); none at all means the broker is gone."""
    conns: dict[Any, Any] = getattr(getattr(consumer, "_client", None), "_conns", {})
    return any(conn.connected() for conn in list(conns.values()))


def _coordinator_known(consumer: AIOKafkaConsumer) -> bool:
    """False once heartbeats failed for ``session_timeout_ms`` (aiokafka then marks the
    coordinator dead) or while the group's coordinator is being looked up again."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "coordinator_id"):
        return True  # not a group consumer (manual assignment): no coordinator to have
    return coordinator.coordinator_id is not None


@dataclass
class BrokerHealth:
    """One subscription's consumer, checked at each ``/readyz``; remembers since when its
    broker has been unreachable."""

    lost_since: float | None = None

    def problems(self, consumer: AIOKafkaConsumer, *, needs_partitions: bool) -> dict[str, str]:
        """Why this consumer is not ready (``{}`` when it is), keyed ``broker``/``group``."""
        found: dict[str, str] = {}
        if _connected(consumer):
            self.lost_since = None
        else:
            if self.lost_since is None:
                self.lost_since = time.time()
            since = datetime.fromtimestamp(self.lost_since, UTC).isoformat(timespec="seconds")
            found["broker"] = f"unreachable since {since}"
        if not _coordinator_known(consumer):
            found["group"] = "no group coordinator (heartbeats failing; rejoining)"
        elif needs_partitions and not consumer.assignment():
            found["group"] = "no partitions assigned"
        return found
