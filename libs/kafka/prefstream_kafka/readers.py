"""Group-less readers of prefstream's topics, for tools that watch without taking part.

A reader with a consumer group would take partitions away from the services (and commit
offsets for them), so these readers join no group and commit nothing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prefstream_config import KafkaConfig
from prefstream_events import DatasetReady, InvalidEvent, JobStatusEvent, decode

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


async def job_events(kafka: KafkaConfig, *, from_beginning: bool) -> AsyncIterator[JobStatusEvent]:
    """Every event on the jobs topic (no consumer group: a watcher must not steal partitions)."""
    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        consumer.subscribe([kafka.topics.jobs])  # no group: every partition, nothing committed
        async for record in consumer:
            if record.value is None:
                continue
            try:
                yield decode(JobStatusEvent, record.value)
            except InvalidEvent:
                continue
    finally:
        await consumer.stop()


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
        partitions = await topic_partitions(self._kafka, self.topic) or {0}
        await self.consumer.start()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end now, before the request is sent
            await self.consumer.position(tp)

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
