"""The reasons ``/readyz`` gives for a consumer, from aiokafka's own (private) state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefstream_runtime.broker_health import BrokerHealth


@dataclass
class Conn:
    up: bool

    def connected(self) -> bool:
        return self.up


@dataclass
class Client:
    _conns: dict[Any, Conn] = field(default_factory=dict)


@dataclass
class Coordinator:
    coordinator_id: int | None = 1


@dataclass
class Consumer:
    _client: Client
    _coordinator: Coordinator = field(default_factory=Coordinator)
    assigned: set[Any] = field(default_factory=set)

    def assignment(self) -> set[Any]:
        return self.assigned


def test_reasons_follow_the_connection_the_coordinator_and_the_assignment() -> None:
    conn = Conn(up=True)
    fake = Consumer(Client({1: conn}), assigned={("t", 0)})
    consumer: Any = fake  # the fields of AIOKafkaConsumer that are read
    health = BrokerHealth()
    assert health.problems(consumer, needs_partitions=True) == {}
    conn.up = False
    first = health.problems(consumer, needs_partitions=True)
    assert first["broker"].startswith("unreachable since ")
    assert health.problems(consumer, needs_partitions=True) == first
    conn.up = True
    fake._coordinator.coordinator_id = None
    assert health.problems(consumer, needs_partitions=True) == {
        "group": "no group coordinator (heartbeats failing; rejoining)"
    }
    fake._coordinator.coordinator_id = 1
    fake.assigned = set()
    assert health.problems(consumer, needs_partitions=True) == {"group": "no partitions assigned"}
    assert health.problems(consumer, needs_partitions=False) == {}
