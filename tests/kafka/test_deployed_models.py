"""Agents follow the jobs topic and see each deployed model once (real broker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from prefstream_config import KafkaConfig
from prefstream_events import DeploymentState, JobStatus, JobStatusEvent, ce_headers, encode
from prefstream_events.cloudevents import as_kafka_headers
from prefstream_kafka import ensure_topics, topic_specs
from prefstream_kafka.deployed_models import (
    DeployedModels,
    follow_deployed_models,
    latest_deployed_model,
    latest_deployed_model_now,
)

from tests.conftest import KafkaBroker

pytestmark = pytest.mark.timeout(120)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job_event(
    name: str,
    seq: int,
    deployment: str | None = None,
    *,
    url: str | None = "auto",
    minute: int = 0,
) -> JobStatusEvent:
    state = None
    if deployment is not None:
        state = DeploymentState(
            name=f"{name}-deploy",
            namespace="ns",
            status=deployment,
            url=f"http://serve/{name}/v1" if url == "auto" else url,
        )
    return JobStatusEvent(
        job_key=f"key-{name}",
        seq=seq,
        dataset_id=f"key-{name}",
        dataset_name=name,
        status=JobStatus.COMPLETED if deployment else JobStatus.RUNNING,
        job_id=f"cust-{name}",
        output_model=f"ns/{name}-dpo",
        namespace="ns",
        deployment=state,
        updated_at=T0 + timedelta(minutes=minute),
    )


# -- pure: the fold -----------------------------------------------------------------------


def test_each_model_once_whatever_the_order_or_mix() -> None:
    seen = DeployedModels()
    events = [
        job_event("a", 1),
        job_event("a", 4, "ready", minute=4),
        job_event("a", 3, "pending", minute=3),  # older seq after the newer one
        job_event("a", 4, "ready", minute=4),  # a producer retry
        job_event("b", 2, "failed"),
        job_event("c", 3, "ready", url=None),  # ready but nothing to call
        job_event("d", 2, "Ready", minute=9),
        job_event("a", 5, "ready", minute=12),  # a later change of an already seen model
    ]
    new = [found.model for e in events if (found := seen.apply(e)) is not None]
    assert new == ["ns/a-dpo", "ns/d-dpo"]
    latest = seen.latest()
    assert latest is not None
    assert latest.model == "ns/d-dpo"
    a = seen.models["ns/a-dpo"]
    assert (a.url, a.job_key, a.job_id, a.dataset_id, a.dataset_name) == (
        "http://serve/a/v1",
        "key-a",
        "cust-a",
        "key-a",
        "a",
    )
    assert a.deployed_at == T0 + timedelta(minutes=4)
    assert a.job.seq == 4


def test_no_models_no_latest() -> None:
    assert DeployedModels().latest() is None


# -- real broker --------------------------------------------------------------------------


@pytest.fixture
def kafka(kafka_broker: KafkaBroker, unique_name: str) -> KafkaConfig:
    return KafkaConfig.model_validate(
        {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
            "topics": {"jobs": f"{unique_name}.jobs", "evaluations": f"{unique_name}.evals"},
        }
    )


@pytest.fixture
async def producer(kafka: KafkaConfig) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def send(producer: AIOKafkaProducer, kafka: KafkaConfig, *events: JobStatusEvent) -> None:
    for event in events:
        headers = ce_headers("JobStatusEvent", "test", subject=event.job_key)
        await producer.send_and_wait(
            kafka.topics.jobs,
            encode(event),
            key=event.job_key.encode(),
            headers=as_kafka_headers(headers),
        )


async def jobs_topic(kafka: KafkaConfig) -> None:
    await ensure_topics(kafka, [s for s in topic_specs(kafka) if s.name == kafka.topics.jobs])


async def test_replay_yields_each_deployed_model_once_then_new_ones(
    kafka: KafkaConfig, producer: AIOKafkaProducer
) -> None:
    await jobs_topic(kafka)
    await send(
        producer,
        kafka,
        job_event("a", 1),
        job_event("a", 4, "ready", minute=4),
        job_event("a", 4, "ready", minute=4),
        job_event("a", 3, "pending", minute=3),
        job_event("b", 2, "failed"),
        job_event("c", 3, "ready", url=None),
        job_event("d", 2, "ready", minute=9),
        job_event("a", 4, "ready", minute=4),
    )
    await producer.send_and_wait(kafka.topics.jobs, b"not json", key=b"x")
    follower = follow_deployed_models(kafka, from_beginning=True)
    try:
        first = [await anext(follower), await anext(follower)]
        await send(producer, kafka, job_event("a", 6, "ready"), job_event("e", 2, "ready"))
        third = await asyncio.wait_for(anext(follower), 30)
    finally:
        await follower.aclose()
    assert [m.model for m in first] == ["ns/a-dpo", "ns/d-dpo"]
    assert third.model == "ns/e-dpo"
    assert third.url == "http://serve/e/v1"


async def test_from_now_skips_earlier_deployments_and_close_stops_the_consumer(
    kafka: KafkaConfig, producer: AIOKafkaProducer
) -> None:
    await jobs_topic(kafka)
    await send(producer, kafka, job_event("old", 2, "ready"))
    async with follow_deployed_models(kafka, from_beginning=False) as follower:
        await send(producer, kafka, job_event("new", 2, "ready"))
        found = await asyncio.wait_for(anext(follower), 30)
        consumer = follower.events._consumer
        assert consumer is not None
    assert found.model == "ns/new-dpo"
    assert consumer._closed is True
    with pytest.raises(StopAsyncIteration):
        await anext(follower)


async def test_waits_for_a_jobs_topic_that_does_not_exist_yet(
    kafka: KafkaConfig, producer: AIOKafkaProducer
) -> None:
    follower = follow_deployed_models(kafka, from_beginning=True)
    try:
        waiting = asyncio.ensure_future(anext(follower))
        await jobs_topic(kafka)
        await send(producer, kafka, job_event("late", 2, "ready"))
        found = await asyncio.wait_for(waiting, 30)
    finally:
        await follower.aclose()
    assert found.model == "ns/late-dpo"


async def test_latest_deployed_model_right_now(
    kafka: KafkaConfig, producer: AIOKafkaProducer
) -> None:
    assert await latest_deployed_model(kafka) is None  # no topic yet
    await jobs_topic(kafka)
    assert await latest_deployed_model(kafka) is None  # empty topic
    await send(
        producer,
        kafka,
        job_event("x", 2, "ready", minute=5),
        job_event("y", 2, "ready", minute=7),
        job_event("z", 2, "failed", minute=9),
    )
    latest = await latest_deployed_model(kafka)
    assert latest is not None
    assert latest.model == "ns/y-dpo"
    from_thread = await asyncio.to_thread(latest_deployed_model_now, kafka)
    assert from_thread is not None
    assert from_thread.model == "ns/y-dpo"
