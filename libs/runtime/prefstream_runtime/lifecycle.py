"""One service lifecycle: every prefstream service is a :class:`Service`, wired by
:func:`service_app` into FastStream, probes, metrics and graceful shutdown.

A service declares what it consumes (:class:`Subscription`) and implements five steps;
the runtime calls them in this order, whatever the service:

1. ``open()`` (FastStream ``on_startup``, after the topics exist): open stores and
   clients. The consumers start after it, so nothing is handled before it returned.
2. ``start()`` (``after_startup``): start background work (timers, writers, the
   scheduler). Handlers wait until it returned.
3. ``handle(batch)`` per delivery, with the typed :class:`Batch` of
   :class:`SourceRecord`.
4. ``drain()`` (``on_shutdown``, before the consumers stop): stop background work and
   commit what is safe. ``/readyz`` fails from here on.
5. ``close()`` (``after_shutdown``, once the consumers stopped): close stores and clients.

``/readyz`` passes only while the service runs (between ``start`` and ``drain``), every
subscription has its consumer, connected to a broker and in its group (with partitions,
where it says so), and the service's own ``ready()`` passes; its detail is merged into the
answer. A lost broker reads ``"broker": "unreachable since <time>"``, a lost group
``"group": "..."`` (see :mod:`prefstream_runtime.broker_health`).

Commit modes: who commits offsets, and when
-------------------------------------------

Each :class:`Subscription` names one :class:`Commits` mode; every prefstream service
commits an offset only after the durable effect of the records below it.

- :attr:`Commits.BY_SERVICE` (FastStream ``AckPolicy.MANUAL``; the pairing service): the
  runtime never acknowledges. The service commits offsets itself on ``batch.consumer``,
  after the DuckDB transaction of the batch, never past the first record of a window
  that is still open, and on revoke and at drain; on a failure it rolls back and seeks
  the consumer to its committed offsets. The subscription's ``rebalance`` listener is
  told the partitions assigned and revoked.
- :attr:`Commits.WHEN_HANDLED` (``AckPolicy.NACK_ON_ERROR``; the batcher's pairs and
  control subscriptions): FastStream commits the consumer's positions when ``handle``
  returns (after its DuckDB transaction); when it raises, the failure is logged and the
  consumer seeks back at once, so the batch is redelivered.
- :attr:`Commits.WHEN_HANDLED_PAUSED` (``AckPolicy.MANUAL`` acknowledged here; the
  submitter): as ``WHEN_HANDLED``, but a failure is redelivered only after
  ``retry_pause_s`` (the ledger write that failed is retried at most once a second).

Whatever the mode, a handler never sees a delivery past a hole in a partition's offsets:
:mod:`prefstream_runtime.offset_gaps` holds those records back and fetches the hole again
(the embedded broker skips records under concurrent producers; see docs/brokers.md).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from prometheus_client import CollectorRegistry

from prefstream_runtime.broker_health import BrokerHealth
from prefstream_runtime.consumer_lag import ConsumerLag
from prefstream_runtime.http import asgi_app
from prefstream_runtime.offset_gaps import GapGuard
from prefstream_runtime.stopping import StopProgress, track


class SourceRecord(Protocol):
    """The fields of a consumed Kafka record (aiokafka's ``ConsumerRecord``) that handlers
    read; every handler gets these, never ``Any``."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Batch:
    """One delivery: the records (one, for a subscription with ``batch=False``) and the
    consumer that fetched them (for :attr:`Commits.BY_SERVICE`: position, seek, commit)."""

    records: Sequence[SourceRecord]
    consumer: AIOKafkaConsumer


class Commits(enum.Enum):
    """Who commits a subscription's offsets, and when (see the module docstring)."""

    BY_SERVICE = "by-service"
    WHEN_HANDLED = "when-handled"
    WHEN_HANDLED_PAUSED = "when-handled-paused"


class PartitionListener(Protocol):
    """Told the partitions of the subscription's topic that the group assigns and revokes."""

    async def assigned(self, partitions: set[int]) -> None: ...

    async def revoked(self, partitions: set[int]) -> None: ...


@dataclass(frozen=True)
class Subscription:
    topic: str
    group_id: str
    handle: Callable[[Batch], Awaitable[None]]
    commits: Commits
    title: str
    description: str
    batch: bool = True
    max_records: int | None = None
    batch_timeout_ms: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    """Extra subscriber keyword arguments, over the shared consumer options."""
    rebalance: PartitionListener | None = None
    needs_partitions: bool = False
    """``/readyz`` fails while the group assigns this subscription no partition."""
    failure: str = "batch failed; it will be redelivered"
    """Logged (with the exception) when ``handle`` raises."""
    retry_pause_s: float = 1.0
    """For :attr:`Commits.WHEN_HANDLED_PAUSED`: the pause before a failure is redelivered."""


Readiness = tuple[bool, dict[str, Any]]


class Service(Protocol):
    """What :func:`service_app` runs. Constructing one opens and connects nothing."""

    name: str
    registry: CollectorRegistry
    """The service's Prometheus metrics, served at ``/metrics``."""

    def subscriptions(self) -> Sequence[Subscription]: ...

    async def open(self) -> None: ...

    async def start(self) -> None: ...

    async def drain(self) -> None: ...

    async def close(self) -> None: ...

    def ready(self) -> Readiness: ...


_POLICIES = {
    Commits.BY_SERVICE: AckPolicy.MANUAL,
    Commits.WHEN_HANDLED: AckPolicy.NACK_ON_ERROR,
    Commits.WHEN_HANDLED_PAUSED: AckPolicy.MANUAL,
}


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, topic: str, listener: PartitionListener) -> None:
        self._topic = topic
        self._listener = listener

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._listener.revoked({tp.partition for tp in revoked if tp.topic == self._topic})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._listener.assigned({tp.partition for tp in assigned if tp.topic == self._topic})


def _raw(message: Any) -> Any:
    """FastStream decoder that decodes nothing: handlers validate the bytes themselves, so
    bad records reach the dead-letter topic with a reason."""
    return message.raw_message


def _partitions(consumer: AIOKafkaConsumer | None) -> list[int]:
    return sorted(tp.partition for tp in consumer.assignment()) if consumer is not None else []


class _Lifecycle:
    """The FastStream hooks, the handlers and ``/readyz`` of one service."""

    def __init__(self, service: Service, prepare: Callable[[], Awaitable[object]]) -> None:
        self.service = service
        self.prepare = prepare
        self.log = logging.getLogger(f"prefstream.{service.name}")
        self.started = asyncio.Event()
        self.running = False
        self.subscribers: list[tuple[Subscription, Any]] = []
        self.gaps: dict[tuple[str, str], GapGuard] = {}
        self.health: dict[int, BrokerHealth] = {}
        self.stopping = StopProgress(close_local=self.close_once)

    def subscribe(self, broker: KafkaBroker, sub: Subscription, shared: Mapping[str, Any]) -> None:
        extra: dict[str, Any] = {}
        if sub.batch:
            extra["batch"] = True
            if sub.max_records is not None:
                extra["max_records"] = sub.max_records
            if sub.batch_timeout_ms is not None:
                extra["batch_timeout_ms"] = sub.batch_timeout_ms
        if sub.rebalance is not None:
            extra["listener"] = _Rebalance(sub.topic, sub.rebalance)
        subscriber = broker.subscriber(
            sub.topic,
            group_id=sub.group_id,
            ack_policy=_POLICIES[sub.commits],
            decoder=_raw,
            title=sub.title,
            description=sub.description,
            **extra,
            **{**shared, **sub.options},
        )

        async def on_message(msg: KafkaMessage) -> None:
            # One parameter only: any other makes FastStream unpack the body into kwargs.
            await self.handle(sub, msg)

        subscriber(on_message)
        self.subscribers.append((sub, subscriber))

    async def handle(self, sub: Subscription, msg: KafkaMessage) -> None:
        if not self.started.is_set():
            await self.started.wait()  # consumers start before start() has returned
            if not self.running:  # stopped before it started: leave it for a replay
                if sub.commits is Commits.WHEN_HANDLED:
                    raise RuntimeError(f"{self.service.name} stopped before it started")
                return
        raw: Any = msg.raw_message
        delivered = list(raw) if sub.batch else [raw]
        guard = self.gaps.setdefault((sub.topic, sub.group_id), GapGuard())
        consumer: AIOKafkaConsumer = msg.consumer  # FastStream types it as its own protocol
        records = await guard.admit(delivered, consumer)
        if not records:
            return  # all held back: the consumer was sought to a hole, nothing to commit
        try:
            await sub.handle(Batch(records, msg.consumer))
        except Exception:
            if sub.commits is Commits.BY_SERVICE:
                raise
            # The broker runs with logger=None: without this a failure would be redelivered
            # silently.
            self.log.exception(sub.failure)
            if sub.commits is Commits.WHEN_HANDLED:
                raise  # FastStream seeks back
            await asyncio.sleep(sub.retry_pause_s)
            await msg.nack()
            return
        if sub.commits is Commits.WHEN_HANDLED_PAUSED:
            await msg.ack()

    async def on_startup(self) -> None:
        await self.prepare()
        await self.service.open()

    async def after_startup(self) -> None:
        await self.service.start()
        self.running = True
        self.started.set()
        self.log.info("%s started", self.service.name)

    async def on_shutdown(self) -> None:
        self.running = False
        self.started.set()  # handlers still waiting give up
        self.stopping.waiting_for = f"{self.service.name} to drain (finish and commit its work)"
        await self.service.drain()
        self.stopping.waiting_for = "the Kafka consumers and producer to close (broker stop)"

    async def after_shutdown(self) -> None:
        self.stopping.waiting_for = f"{self.service.name} to close its stores"
        await self.close_once()
        self.log.info("%s stopped", self.service.name)

    async def close_once(self) -> None:
        """``service.close()``, once: by the stop, or by the server when the stop timed out."""
        if not self.stopping.closed:
            self.stopping.closed = True
            await self.service.close()

    async def ready(self) -> Readiness:
        ok = self.running
        main: list[int] = []
        problems: dict[str, str] = {}
        for i, (sub, subscriber) in enumerate(self.subscribers):
            consumer = subscriber.consumer
            assigned = _partitions(consumer)
            if i == 0:
                main = assigned
            if consumer is None:
                ok = False
                continue
            health = self.health.setdefault(i, BrokerHealth())
            found = health.problems(consumer, needs_partitions=sub.needs_partitions)
            for key, reason in found.items():
                problems.setdefault(key, reason)
        ok = ok and not problems
        service_ok, detail = self.service.ready()
        return ok and service_ok, {"partitions": main, **detail, **problems}


def service_app(
    service: Service,
    broker: KafkaBroker,
    *,
    consumer_options: Mapping[str, Any],
    prepare: Callable[[], Awaitable[object]],
) -> AsgiFastStream:
    """``service`` on ``broker``: its subscriptions with their commit modes, its lifecycle
    as FastStream hooks, ``/healthz``, ``/readyz``, ``/metrics`` (its registry) and
    ``/asyncapi``, with ``prefstream_consumer_lag_records`` of every subscription added
    to the registry. ``prepare`` (creating the topics) runs before ``open``;
    ``consumer_options`` are the subscriber settings every subscription shares."""
    lifecycle = _Lifecycle(service, prepare)
    for sub in service.subscriptions():
        lifecycle.subscribe(broker, sub, consumer_options)
    service.registry.register(
        ConsumerLag(lambda: [(s.group_id, sub.consumer) for s, sub in lifecycle.subscribers])
    )
    app = asgi_app(
        broker,
        service=service.name,
        ready=lifecycle.ready,
        registry=service.registry,
        on_startup=[lifecycle.on_startup],
        after_startup=[lifecycle.after_startup],
        on_shutdown=[lifecycle.on_shutdown],
        after_shutdown=[lifecycle.after_shutdown],
    )
    track(app, lifecycle.stopping)
    return app
