"""The web view against a real broker: ready once it has replayed the topics (one of them
not created yet), its JSON API and page show what was published before and after it
started, an open page's refresh gets 204 while nothing changes, and it joins no group."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prefstream_config import PrefstreamConfig
from prefstream_events import JobStatus, encode
from prefstream_kafka.evaluations import EvaluationPublisher
from prefstream_kafka.local_brokers import free_ports
from prefstream_kafka.topics import ensure_topics, topic_specs
from prefstream_ui_service.app import build_app, serve

from tests.conftest import KafkaBroker
from tests.support.unclosed import unclosed_consumers
from tests.ui_service.events import curve, dataset, evaluation, job, letter

DEADLINE_S = 30.0


def private_config(bootstrap: str, name: str) -> PrefstreamConfig:
    topics = ("jobs", "job_metrics", "datasets", "deadletter", "evaluations", "control")
    return PrefstreamConfig.model_validate(
        {
            "kafka": {
                "bootstrap_servers": bootstrap,
                "topics": {t: f"{name}.{t}" for t in topics},
            },
            "ui": {"http_port": free_ports(1)[0], "refresh_seconds": 0.5},
        }
    )


@contextlib.asynccontextmanager
async def running_view(config: PrefstreamConfig) -> AsyncIterator[httpx.AsyncClient]:
    """The app served by uvicorn in this process, and a client for it."""
    task = asyncio.create_task(
        serve(build_app(config), host=config.ui.http_host, port=config.ui.http_port)
    )
    base = f"http://{config.ui.http_host}:{config.ui.http_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            yield client
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """``check()``'s first truthy result, polled until the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if last := await check():
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not seen within {DEADLINE_S}s (last: {last!r})")


async def publish(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


@pytest.mark.timeout(120)
async def test_the_view_replays_then_follows_the_topics(
    kafka_broker: KafkaBroker, unique_name: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    config = private_config(bootstrap, unique_name)
    kafka = config.kafka
    t = kafka.topics
    created = {t.jobs, t.job_metrics, t.datasets, t.deadletter}  # no evaluations topic yet
    await ensure_topics(kafka, [s for s in topic_specs(kafka) if s.name in created])
    chunks = curve("a", 130)
    await publish(
        bootstrap,
        [
            (t.jobs, b"ds-a", encode(job("a", seq=1, percentage_done=50.0, steps_completed=130))),
            *[(t.job_metrics, c.key.encode(), encode(c)) for c in chunks],
            (t.datasets, b"ds-a", encode(dataset("a", 1))),
            (t.deadletter, b"k", encode(letter("not_json", 1))),
            (t.deadletter, b"k", encode(letter("not_json", 1))),  # a replayed letter
            (t.deadletter, b"k", encode(letter("too_large", 2))),
            (t.jobs, b"x", b"not an event"),  # skipped, not fatal
        ],
    )

    async with running_view(config) as client:

        async def ready() -> dict[str, Any] | None:
            r = await client.get("/readyz")
            return dict(r.json()) if r.status_code == 200 else None

        readiness = await until(ready, "/readyz 200")
        assert readiness["phase"] == "live"
        assert readiness["topics"][t.evaluations] == "replayed"  # absent at start
        assert (await client.get("/healthz")).json()["status"] == "ok"

        # Ready means replayed: everything published before the start is there.
        state = (await client.get("/api/state")).json()
        (row,) = state["jobs"]
        assert (row["job_key"], row["status"]) == ("ds-a", "running")
        assert row["curve_points"] == {"train_loss": 130, "val_loss": 13}
        assert state["datasets"][0]["num_pairs"] == 100
        assert state["deadletters"]["total"] == 2
        assert [c["reason"] for c in state["deadletters"]["by_reason"]] == ["not_json", "too_large"]
        curves = (await client.get("/api/jobs/ds-a/curves")).json()
        assert [p["step"] for p in curves["series"]["train_loss"]] == list(range(1, 131))
        assert (await client.get("/api/jobs/nope/curves")).status_code == 404

        page = await client.get("/")
        assert page.status_code == 200
        assert 'data-chart="loss" data-job="ds-a"' in page.text
        assert 'data-series="train_loss" data-points="130"' in page.text
        version = page.headers["X-View-Version"]
        unchanged = await client.get("/view", params={"since": version})
        assert unchanged.status_code == 204
        script = await client.get("/static/ui.js")
        assert script.status_code == 200
        assert "X-View-Version" in script.text

        # Live: what is published now shows up, on a topic created after the start too.
        async with EvaluationPublisher.connect(kafka) as publisher:
            await publisher.publish(evaluation("ns/a-dpo", True, minutes=3, job_key="ds-a"))
        done = job("a", seq=2, status=JobStatus.COMPLETED, output_model="ns/a-dpo")
        await publish(bootstrap, [(t.jobs, b"ds-a", encode(done))])

        async def finished() -> dict[str, Any] | None:
            doc = dict((await client.get("/api/state")).json())
            return doc if doc["jobs"][0]["status"] == "completed" and doc["evaluations"] else None

        state = await until(finished, "the completed job and the evaluation")
        assert state["promoted_model"] == "ns/a-dpo"
        changed = await client.get("/view", params={"since": version})
        assert changed.status_code == 200
        assert 'data-chart="win-rate"' in changed.text
        job_page = await client.get("/jobs/ds-a")
        assert job_page.status_code == 200
        assert "ns/a-dpo" in job_page.text

        metrics = (await client.get("/metrics")).text
        assert f'prefstream_ui_events_consumed_total{{topic="{t.jobs}"}}' in metrics
        assert "prefstream_ui_jobs 1.0" in metrics

    # Stopping the view closed every consumer its topic readers made.
    assert unclosed_consumers() == []

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = {group for group, _ in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    assert not any(unique_name in group or group.endswith("-ui") for group in groups)


@pytest.mark.timeout(60)
async def test_without_kafka_it_is_alive_but_not_ready() -> None:
    (dead,) = free_ports(1)
    config = private_config(f"127.0.0.1:{dead}", "nobroker")
    async with running_view(config) as client:

        async def not_ready() -> dict[str, Any] | None:
            r = await client.get("/readyz")
            body = dict(r.json())
            return body if r.status_code == 503 and body.get("waiting_for") else None

        body = await until(not_ready, "/readyz 503 with the reason")
        assert body["phase"] == "waiting"
        assert "Kafka" in body["waiting_for"]
        assert (await client.get("/healthz")).status_code == 200
        page = await client.get("/")
        assert page.status_code == 200
        assert "replaying the topics" in page.text
