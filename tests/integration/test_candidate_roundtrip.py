"""CandidatePublisher -> real broker -> FastStream batch subscriber with manual commits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from prefstream_config import KafkaConfig, TopicsConfig
from prefstream_events import CandidateEvent, decode, parse_ce_headers
from prefstream_kafka import (
    CandidatePublisher,
    consumer_options,
    ensure_topics,
    make_broker,
    raw_body,
)
from prefstream_testing.kafka import test_profile

pytestmark = pytest.mark.kafka

TURNS = 250
CANDIDATES = 4


def kafka_config(bootstrap: str, topic: str) -> KafkaConfig:
    return test_profile(
        KafkaConfig(bootstrap_servers=bootstrap, topics=TopicsConfig(candidates=topic))
    )


async def committed_total(kafka: KafkaConfig, group: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=group)
    await consumer.start()
    try:
        total = 0
        for partition in range(kafka.partitions):
            total += (
                await consumer.committed(TopicPartition(kafka.topics.candidates, partition)) or 0
            )
        return total
    finally:
        await consumer.stop()


async def test_publish_and_consume_1000_candidates_with_manual_commits(
    kafka_broker: Any, unique_name: str
) -> None:
    kafka = kafka_config(kafka_broker.bootstrap_servers, f"candidates-{unique_name}")
    await ensure_topics(kafka)
    sent: list[CandidateEvent] = []
    async with CandidatePublisher.connect(kafka, agent_id="a1", policy_model="m0") as publisher:
        for turn in range(TURNS):
            sent += await publisher.publish_turn(
                f"game-{turn % 50}",
                f"move-{turn}",
                [{"role": "user", "content": f"board {turn}"}],
                [f"candidate {i}" for i in range(CANDIDATES)],
                [float(i) for i in range(CANDIDATES)],
                turn_index=turn,
            )
    assert len(sent) == TURNS * CANDIDATES

    received: list[CandidateEvent] = []
    keys_ok = headers_ok = True
    done = asyncio.Event()
    group = f"g-{unique_name}"
    broker = make_broker(kafka)

    @broker.subscriber(  # type: ignore[untyped-decorator]  # **options are Any
        kafka.topics.candidates,
        group_id=group,
        batch=True,
        max_records=300,
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        **consumer_options(kafka),
    )
    async def consume(bodies: list[bytes], message: KafkaMessage) -> None:
        nonlocal keys_ok, headers_ok
        batch = [decode(CandidateEvent, body) for body in bodies]
        for record, event in zip(message.raw_message, batch, strict=True):
            keys_ok &= record.key == event.example_id.encode()
            headers_ok &= parse_ce_headers(record.headers).type == "dev.prefstream.candidate.v1"
        received.extend(batch)
        await message.ack()
        if len(received) >= len(sent):
            done.set()

    async with broker:
        await broker.start()
        await asyncio.wait_for(done.wait(), timeout=60)

    assert sorted(received, key=repr) == sorted(sent, key=repr)
    assert keys_ok
    assert headers_ok
    assert all(e.num_candidates == CANDIDATES for e in received)
    assert sum(e.is_selected is True for e in received) == TURNS
    assert await committed_total(kafka, group) == len(sent)
