"""``prefstream_consumer_lag_records``: per assigned partition, how far a service's consumer
is behind the end of its topic, read at scrape time without a broker call.

Lag is the partition's high watermark (returned with every fetch) minus the consumer's
position (the next record handed to the service). aiokafka offers the position only as a
coroutine that may wait on the broker; a scrape must not, so this reads the same value
from the consumer's assignment state (private fields, as :mod:`broker_health` does).
Partitions not fetched yet have no high watermark and no series. The committed offset
lags further behind on purpose in the pairing service (never past an open window), so
this is the rate-of-progress signal, not the replay distance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

GroupConsumers = Callable[[], Iterable[tuple[str, AIOKafkaConsumer | None]]]


def _position(consumer: AIOKafkaConsumer, tp: Any) -> int | None:
    subscription = getattr(getattr(consumer, "_subscription", None), "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    state = assignment.state_value(tp) if assignment is not None else None
    if state is None or not state.has_valid_position:
        return None
    position: int = state.position
    return position


def partition_lags(consumer: AIOKafkaConsumer) -> list[tuple[str, int, int]]:
    """``(topic, partition, lag)`` for each assigned partition with a known lag."""
    lags = []
    for tp in sorted(consumer.assignment()):
        highwater = consumer.highwater(tp)
        position = _position(consumer, tp)
        if highwater is not None and position is not None:
            lags.append((tp.topic, tp.partition, max(0, highwater - position)))
    return lags


class ConsumerLag(Collector):
    """Collects the lag of every consumer ``consumers()`` yields with its group id."""

    def __init__(self, consumers: GroupConsumers) -> None:
        self._consumers = consumers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "prefstream_consumer_lag_records",
            "Records on the partition past the consumer's position (high watermark minus "
            "position), per assigned partition.",
            labels=["group", "topic", "partition"],
        )
        for group, consumer in self._consumers():
            if consumer is None:
                continue
            for topic, partition, lag in partition_lags(consumer):
                family.add_metric([group, topic, str(partition)], lag)
        yield family
