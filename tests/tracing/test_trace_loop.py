"""One trace from a candidate to its job, through the real services on a real broker,
exported over OTLP/HTTP to a contract receiver; and, with tracing off, no spans and no
traceparent headers at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from prefstream_config import TracingConfig
from prefstream_kafka import CandidatePublisher
from prefstream_runtime.trace_headers import span_context_from, traceparent_of

from tests.batcher_service.harness import Env
from tests.runtime.service_process import Service
from tests.tracing.otlp_receiver import OtlpReceiver, ReceivedSpan

DEADLINE_S = 90.0


@pytest.fixture
async def env(kafka_broker: Any, tmp_path: Path) -> Env:
    environment = Env(kafka_broker.bootstrap_servers, tmp_path)
    await environment.create_topics()
    return environment


async def read_topic(env: Env, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=env.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + DEADLINE_S
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    assert len(records) >= count, f"{len(records)} records on {topic}, wanted {count}"
    return records


async def until(what: str, check: Callable[[], bool], services: list[Service]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not check():
        for s in services:
            assert s.proc.is_running, f"{s.name} exited:\n{s.proc.tail(40)}"
        assert time.monotonic() < deadline, f"no {what} in {DEADLINE_S}s"
        await asyncio.sleep(0.2)


def ids(traceparent: str | None) -> tuple[str, str]:
    sc = span_context_from(traceparent)
    assert sc is not None, traceparent
    return f"{sc.trace_id:032x}", f"{sc.span_id:016x}"


@pytest.mark.parametrize("enabled", [True, False], ids=["traced", "untraced"])
async def test_a_candidates_trace_reaches_its_job(
    env: Env, enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OtlpReceiver() as receiver:
        # Spans leave each process within 200 ms; the endpoint comes from the config alone.
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            monkeypatch.delenv(var, raising=False)
        if not enabled:  # anything exporting regardless would reach the receiver
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
        tracing = {"tracing.enabled": enabled, "tracing.otlp_endpoint": receiver.endpoint}
        services = [
            Service("pairing", env, **tracing),
            Service("batcher", env, **tracing, **{"batcher.min_new_pairs": 1}),
            Service("submitter", env, **tracing),
        ]
        try:
            for s in services:
                await s.wait_ready(DEADLINE_S)
            kafka = env.config().kafka
            async with CandidatePublisher.connect(
                kafka, tracing=TracingConfig.model_validate(tracing_of(tracing))
            ) as publisher:
                await publisher.publish_turn("ex-1", "t-1", "prompt", ["bad", "good"], [0.1, 0.9])

            candidates = await read_topic(env, env.topic("candidates"), 2)
            [pair] = await read_topic(env, env.pairs, 1)
            [dataset] = await read_topic(env, env.datasets, 1)
            jobs = await read_topic(env, env.topic("jobs"), 1)
            traces = [traceparent_of(r.headers) for r in [*candidates, pair, dataset, *jobs]]
            if not enabled:
                assert traces == [None] * len(traces)
                for s in services:
                    s.stop(30)
                assert receiver.snapshot() == []
                return

            by_output = {b'"good"' in r.value: ids(traceparent_of(r.headers)) for r in candidates}
            chosen, rejected = by_output[True], by_output[False]
            pair_ids = ids(traceparent_of(pair.headers))
            dataset_ids = ids(traceparent_of(dataset.headers))

            def span(service: str, name: str, span_id: str | None = None) -> ReceivedSpan | None:
                return next(
                    (
                        s
                        for s in receiver.snapshot()
                        if s.service == f"prefstream-{service}"
                        and s.name.startswith(name)
                        and (span_id is None or s.span_id == span_id)
                    ),
                    None,
                )

            await until("pair span", lambda: span("pairing", "pairing pair") is not None, services)
            await until(
                "cut span", lambda: span("batcher", "batcher dataset") is not None, services
            )
            await until(
                "job span", lambda: span("submitter", "submitter job") is not None, services
            )

            pair_span = span("pairing", "pairing pair")
            assert pair_span is not None
            assert (pair_span.trace_id, pair_span.span_id) == pair_ids
            assert set(pair_span.links) == {chosen, rejected}
            assert pair_span.trace_id == chosen[0]
            assert pair_span.parent_span_id == chosen[1]

            cut = span("batcher", "batcher dataset")
            assert cut is not None
            assert pair_ids in cut.links
            # The DatasetReady's context is the cut span's, or a publish span under it.
            assert dataset_ids[0] == cut.trace_id

            job = span("submitter", "submitter job")
            assert job is not None
            assert (job.trace_id, job.parent_span_id) == dataset_ids
            assert any(ids(traceparent_of(r.headers))[0] == cut.trace_id for r in jobs)
            for s in services:
                s.stop(30)
        finally:
            for s in services:
                s.proc.kill()


def tracing_of(overrides: dict[str, Any]) -> dict[str, Any]:
    return {key.split(".", 1)[1]: value for key, value in overrides.items()}
