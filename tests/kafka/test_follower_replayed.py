"""``TopicFollower.replayed()``: caught up with what the topic held when the follower
connected; at once for a topic that did not exist yet."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from aiokafka import AIOKafkaProducer
from prefstream_config import KafkaConfig
from prefstream_events import DeadLetter, SourceOffset, encode
from prefstream_kafka.readers import TopicFollower
from prefstream_kafka.topics import ensure_topics, topic_specs

from tests.conftest import KafkaBroker


def letter(offset: int) -> DeadLetter:
    source = SourceOffset(topic="t", partition=0, offset=offset)
    return DeadLetter(reason="not_json", detail="", service="s", source=source, original=b"{")


@pytest.mark.timeout(60)
async def test_replayed_once_the_records_there_at_the_start_are_read(
    kafka_broker: KafkaBroker, unique_name: str
) -> None:
    kafka = KafkaConfig.model_validate(
        {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
            "topics": {"deadletter": f"{unique_name}.dl", "evaluations": f"{unique_name}.ev"},
        }
    )
    topic = kafka.topics.deadletter
    await ensure_topics(kafka, [s for s in topic_specs(kafka) if s.name == topic])
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(topic, encode(letter(i)))
        follower = TopicFollower(kafka, topic, DeadLetter, from_beginning=True)
        assert not await follower.replayed()  # not connected yet
        async with follower:
            await producer.send_and_wait(topic, encode(letter(3)))  # after the start
            seen = [await asyncio.wait_for(anext(follower), 10) for _ in range(2)]
            assert not await follower.replayed()
            seen.append(await asyncio.wait_for(anext(follower), 10))
            assert [e.source.offset for e in seen] == [0, 1, 2]
            assert await follower.replayed()  # the record published later is not awaited
    finally:
        await producer.stop()


@pytest.mark.timeout(60)
async def test_a_topic_that_does_not_exist_yet_is_replayed_at_once(
    kafka_broker: KafkaBroker, unique_name: str
) -> None:
    kafka = KafkaConfig.model_validate({"bootstrap_servers": kafka_broker.bootstrap_servers})
    follower = TopicFollower(kafka, f"{unique_name}.absent", DeadLetter, from_beginning=True)
    waiting = asyncio.create_task(follower.start())  # waits for the topic
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the follower looks for the topic meanwhile
            if await follower.replayed():
                break
            await asyncio.sleep(0.05)
        assert await follower.replayed()
        assert not waiting.done()
    finally:
        await follower.aclose()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
