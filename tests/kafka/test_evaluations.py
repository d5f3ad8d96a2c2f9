"""The evaluations topic on a real broker: published with CloudEvents headers, keyed by
model, created compacted; read back as "the model promoted last"."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prefstream_config import KafkaConfig
from prefstream_events import EvaluationEvent, parse_ce_headers
from prefstream_kafka.evaluations import (
    EvaluationPublisher,
    evaluations,
    follow_evaluations,
    latest_promoted_model,
)

from tests.conftest import KafkaBroker

pytestmark = pytest.mark.timeout(120)


def verdict(model: str, promoted: bool, seed: int = 1, baseline: str | None = None) -> Any:
    return EvaluationEvent.model_validate(
        {
            "model": model,
            "baseline_model": baseline,
            "opponents": [{"opponent": "random", "games": 10, "wins": 6, "draws": 2, "losses": 2}],
            "score": 0.7,
            "score_stderr": 0.05,
            "promoted": promoted,
            "reason": "test",
            "seed": seed,
        }
    )


@pytest.fixture
def kafka(kafka_broker: KafkaBroker, unique_name: str) -> KafkaConfig:
    return KafkaConfig.model_validate(
        {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
            "topics": {"evaluations": f"{unique_name}.evals"},
        }
    )


async def test_publish_then_latest_promoted_and_follow(kafka: KafkaConfig) -> None:
    assert await latest_promoted_model(kafka) is None  # no topic yet
    async with EvaluationPublisher.connect(kafka) as publisher:
        assert await latest_promoted_model(kafka) is None  # the topic, empty
        follower = follow_evaluations(kafka, from_beginning=False)
        await follower.start()
        for event in (
            verdict("ns/base", True),
            verdict("ns/m1", True, baseline="ns/base"),
            verdict("ns/m2", False, baseline="ns/m1"),
        ):
            await publisher.publish(event)
        followed = [await asyncio.wait_for(anext(follower), 30) for _ in range(3)]
        await follower.aclose()
    assert [(e.model, e.promoted) for e in followed] == [
        ("ns/base", True),
        ("ns/m1", True),
        ("ns/m2", False),
    ]
    started = time.perf_counter()
    latest = await latest_promoted_model(kafka)
    seconds = time.perf_counter() - started
    assert latest is not None
    assert latest.model == "ns/m1"
    assert latest.baseline_model == "ns/base"
    assert seconds < 10, f"reading the evaluations topic took {seconds:.2f}s"
    board = await evaluations(kafka)
    assert [e.model for e in board.ordered()] == ["ns/base", "ns/m1", "ns/m2"]


async def test_records_carry_cloudevents_headers_and_the_model_as_key(kafka: KafkaConfig) -> None:
    event = verdict("ns/keyed", True)
    async with EvaluationPublisher.connect(kafka) as publisher:
        await publisher.publish(event)
    consumer = AIOKafkaConsumer(
        kafka.topics.evaluations,
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert record.key == b"ns/keyed"
    attrs = parse_ce_headers(list(record.headers))
    assert attrs.type == "dev.prefstream.evaluation.v1"
    assert attrs.id == event.evaluation_id
    assert attrs.subject == "ns/keyed"


async def test_topic_is_created_compacted(kafka: KafkaConfig, kafka_broker: KafkaBroker) -> None:
    if kafka_broker.kind != "apache":
        pytest.skip("topic configs are read back from Apache Kafka only")
    async with EvaluationPublisher.connect(kafka):
        pass
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, kafka.topics.evaluations)]
        )
    finally:
        await admin.close()
    (resource,) = response.resources
    assert {entry[0]: entry[1] for entry in resource[4]}["cleanup.policy"] == "compact"


async def test_hostile_records_never_hide_the_promoted_model(kafka: KafkaConfig) -> None:
    """What a stray producer can write to the topic: bytes that are not UTF-8 or not JSON,
    JSON nested too deep, a valid shape with a NaN score, outcomes that do not add up, a
    huge record, an empty value. Readers skip each; the last promotion still wins."""
    good = verdict("ns/good", True)
    bad_sum = verdict("ns/bad", True).model_dump(mode="json")
    bad_sum["opponents"][0]["wins"] = 9  # 9 + 2 + 2 != 10 games
    hostile = [
        b"\xff\xfe\x00garbage",
        b"not json",
        b"[" * 5000 + b"]" * 5000,
        json.dumps({**bad_sum, "score": "NaN"}).encode(),
        json.dumps(bad_sum).encode(),
        b'{"model": "' + b"x" * 900_000 + b'"}',
        b"",
    ]
    async with EvaluationPublisher.connect(kafka) as publisher:
        await publisher.publish(good)
        follower = follow_evaluations(kafka, from_beginning=True)
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            for value in hostile:
                await producer.send_and_wait(kafka.topics.evaluations, value, key=b"ns/bad")
        finally:
            await producer.stop()
        await publisher.publish(verdict("ns/later", False))
        try:
            seen = [await asyncio.wait_for(anext(follower), 30) for _ in range(2)]
        finally:
            await follower.aclose()
    assert [e.model for e in seen] == ["ns/good", "ns/later"]
    latest = await latest_promoted_model(kafka)
    assert latest is not None
    assert latest.model == "ns/good"
