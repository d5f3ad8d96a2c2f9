"""Group-less readers of prefstream's topics, for tools that watch without taking part.

A reader with a consumer group would take partitions away from the services (and commit
offsets for them), so these readers join no group and commit nothing.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Generic, Self, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prefstream_config import KafkaConfig
from prefstream_events import DatasetReady, InvalidEvent, JobStatusEvent, decode
from pydantic import BaseModel

from prefstream_kafka.factory import client_options


async def topic_partitions(kafka: KafkaConfig, topic: str) -> set[int]:
    """The partitions of ``topic`` as the cluster reports them now; empty when it does not
    exist. Asks for every topic's metadata, so a broker that auto-creates topics does not
    create this one."""
    admin = AIOKafkaAdminClient(client_id=f"{kafka.client_id}-admin", **client_options(kafka))
    await admin.start()
    try:
        described = await admin.describe_topics()
    finally:
        await admin.close()
    return {
        int(p["partition"])
        for t in described
        if t["topic"] == topic and not t["error_code"]
        for p in t["partitions"]
    }


async def started(consumer: AIOKafkaConsumer) -> AIOKafkaConsumer:
    """``consumer``, started; stopped again when starting fails or is cancelled (refused,
    timed out): aiokafka warns "Unclosed AIOKafkaConsumer" for any consumer it made that was
    never stopped, started or not."""
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()
        raise
    return consumer


class DatasetWatcher:
    """Reads the datasets topic from its end as of ``start()`` (no consumer group), to find
    the DatasetReady that answers a cut request."""

    def __init__(self, kafka: KafkaConfig, *, client_id: str | None = None) -> None:
        self._kafka = kafka
        self.topic = kafka.topics.datasets
        self.consumer = AIOKafkaConsumer(
            **client_options(kafka),
            client_id=client_id or kafka.client_id,
            enable_auto_commit=False,
        )

    async def start(self) -> None:
        """Fix the end to watch from; on failure the consumer is stopped (no :meth:`stop`
        needed)."""
        try:
            partitions = await topic_partitions(self._kafka, self.topic) or {0}
            await self.consumer.start()
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            self.consumer.assign(tps)
            await self.consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the end now, before the request is sent
                await self.consumer.position(tp)
        except BaseException:
            await self.consumer.stop()
            raise

    async def find(self, request_id: str, wait_seconds: float) -> DatasetReady | None:
        """The first DatasetReady for ``request_id`` within ``wait_seconds``, else ``None``."""
        deadline = time.monotonic() + wait_seconds
        while (left := deadline - time.monotonic()) > 0:
            batches = await self.consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for records in batches.values():
                for record in records:
                    try:
                        event = decode(DatasetReady, record.value or b"")
                    except InvalidEvent:
                        continue
                    if event.request_id == request_id:
                        return event
        return None

    async def stop(self) -> None:
        await self.consumer.stop()


E = TypeVar("E", bound=BaseModel)

TOPIC_POLL_SECONDS = 1.0
"""How often a follower asks whether its topic exists yet (one metadata request each)."""


async def _wait_for_partitions(kafka: KafkaConfig, topic: str) -> set[int]:
    while True:  # polled: the topic is created by another process, nothing to wait on here
        if partitions := await topic_partitions(kafka, topic):
            return partitions
        await asyncio.sleep(TOPIC_POLL_SECONDS)


class Follower:
    """``async with``: :meth:`start` on entry, :meth:`aclose` on exit."""

    async def start(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class TopicFollower(Follower, Generic[E]):
    """The valid events of one topic as ``model``, from its beginning or from its end as of
    :meth:`start`, for as long as it is iterated (no consumer group, nothing committed:
    every follower sees every partition and takes none from the services).

    Iterating starts it; :meth:`start` may be awaited first to fix "now" before something
    is published. :meth:`aclose` (or leaving ``async with``) stops the consumer. Undecodable
    records are skipped. A topic that does not exist yet is waited for.
    :meth:`replayed` says whether what the topic held at the start has been returned.
    """

    def __init__(
        self,
        kafka: KafkaConfig,
        topic: str,
        model: type[E],
        *,
        from_beginning: bool,
        client_id: str | None = None,
    ) -> None:
        self._kafka = kafka
        self.topic = topic
        self._model = model
        self._from_beginning = from_beginning
        self._client_id = client_id or f"{kafka.client_id}-follower"
        self._consumer: AIOKafkaConsumer | None = None
        self._closed = False
        self._starting = asyncio.Lock()
        self._absent_at_start = False
        self._ends: dict[TopicPartition, int] = {}

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        """The connected consumer (``None`` before :meth:`start` connected), for its lag."""
        return self._consumer

    async def start(self) -> None:
        """Connect and fix the start position (idempotent)."""
        async with self._starting:
            if self._consumer is not None or self._closed:
                return
            consumer = await self._connect()
            if self._closed:  # closed while it waited for the topic
                await consumer.stop()
            else:
                self._consumer = consumer

    async def _connect(self) -> AIOKafkaConsumer:
        partitions = await topic_partitions(self._kafka, self.topic)
        if not partitions:
            self._absent_at_start = True
            partitions = await _wait_for_partitions(self._kafka, self.topic)
        consumer = AIOKafkaConsumer(
            **client_options(self._kafka),
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # only after compaction/retention removed our place
        )
        await started(consumer)
        try:
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            if self._from_beginning:
                await consumer.seek_to_beginning(*tps)
            else:
                await consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the position now, not at the first fetch
                await consumer.position(tp)
            self._ends = await consumer.end_offsets(tps)
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E:
        await self.start()
        consumer = self._consumer
        if consumer is None:
            raise StopAsyncIteration
        while True:
            record = await consumer.getone()
            if record.value is None:
                continue
            try:
                return decode(self._model, record.value, max_bytes=self._kafka.max_record_bytes)
            except InvalidEvent:
                continue

    async def replayed(self) -> bool:
        """Whether every record the topic held when the follower connected has been returned
        (or skipped): "caught up as of the start". True at once for a topic that did not
        exist when the follower first looked (all it will hold is new); False before the
        follower connected."""
        if self._absent_at_start:
            return True
        consumer = self._consumer
        if consumer is None:
            return False
        for tp, end in self._ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def aclose(self) -> None:
        self._closed = True
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()


def job_events(kafka: KafkaConfig, *, from_beginning: bool) -> TopicFollower[JobStatusEvent]:
    """Every valid event on the jobs topic, as ``async with job_events(...) as events``:
    a follower (no consumer group: a watcher must not steal partitions) whose consumer is
    stopped when the block is left, however the iteration ends."""
    return TopicFollower(kafka, kafka.topics.jobs, JobStatusEvent, from_beginning=from_beginning)


async def read_topic(
    kafka: KafkaConfig, topic: str, model: type[E], *, client_id: str | None = None
) -> list[E]:
    """Every valid event of ``topic`` up to its end as of the call, in partition order
    (one partition: publish order); empty when the topic does not exist."""
    partitions = await topic_partitions(kafka, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        client_id=client_id or f"{kafka.client_id}-reader",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await started(consumer)
    events: list[E] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        pending = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    if (
                        record.value is None
                        or record.offset >= ends[TopicPartition(record.topic, record.partition)]
                    ):
                        continue
                    try:
                        events.append(decode(model, record.value, max_bytes=kafka.max_record_bytes))
                    except InvalidEvent:
                        continue
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return events
