"""``prefstream watch`` shows evaluated models beside the jobs: W/D/L per opponent, illegal
moves, score ± error vs the baseline, PROMOTED or rejected."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prefstream_cli.commands.watch import render, watch_jobs, watched_events
from prefstream_config import KafkaConfig
from prefstream_events import (
    EvaluationEvent,
    JobCurves,
    JobMetricsEvent,
    JobStatus,
    JobStatusEvent,
    encode,
    metric_chunks,
)
from prefstream_events.boards import Boards
from prefstream_kafka.evaluations import EvaluationPublisher
from prefstream_kafka.topics import ensure_topics, topic_specs
from rich.console import Console

from tests.conftest import KafkaBroker
from tests.support.evaluations import evaluation_fields


def evaluation(model: str, promoted: bool, **overrides: Any) -> EvaluationEvent:
    fields = evaluation_fields(model=model, promoted=promoted, **overrides)
    return EvaluationEvent.model_validate(fields)


def job(name: str) -> JobStatusEvent:
    return JobStatusEvent(
        job_key=f"key-{name}",
        seq=5,
        dataset_id=f"key-{name}",
        dataset_name=name,
        status=JobStatus.COMPLETED,
        output_model=f"ns/{name}-dpo",
    )


def shown(boards: Boards) -> str:
    console = Console(record=True, width=220, color_system=None)
    console.print(render(boards))
    return console.export_text()


def test_evaluations_table_shows_results_scores_and_verdicts() -> None:
    boards = Boards()
    boards.apply(job("ttt-1"))
    boards.apply(evaluation("ns/base", True))
    boards.apply(
        evaluation(
            "ns/ttt-1-dpo",
            False,
            baseline_model="ns/base",
            score=0.52,
            score_stderr=0.02,
            baseline_score=0.71,
            baseline_stderr=0.012,
            tolerance=0.047,
            reason="worse beyond noise",
        )
    )
    text = shown(boards)
    assert "prefstream jobs" in text
    assert "prefstream evaluations" in text
    assert "random 410/50/40" in text
    assert "minimax 0/150/50" in text
    assert "0.710 ± 0.012" in text
    assert "0.520 ± 0.020 vs 0.710 ± 0.012 (tolerance 0.047)" in text
    assert "PROMOTED" in text
    assert "rejected" in text
    assert "worse beyond noise" in text
    rows = [line for line in text.splitlines() if "ns/ttt-1-dpo" in line and "ns/base" in line]
    assert rows, text
    assert " 3 " in rows[0]  # illegal moves


def test_no_evaluations_no_evaluations_table() -> None:
    boards = Boards()
    boards.apply(job("ttt-1"))
    assert "prefstream evaluations" not in shown(boards)


@pytest.mark.timeout(120)
async def test_watch_reads_both_topics(kafka_broker: KafkaBroker, unique_name: str) -> None:
    kafka = KafkaConfig.model_validate(
        {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
            "topics": {"jobs": f"{unique_name}.jobs", "evaluations": f"{unique_name}.evals"},
        }
    )
    await ensure_topics(kafka, [s for s in topic_specs(kafka) if s.name == kafka.topics.jobs])
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(kafka.topics.jobs, encode(job("ttt-1")), key=b"key-ttt-1")
    finally:
        await producer.stop()
    async with EvaluationPublisher.connect(kafka) as publisher:
        await publisher.publish(evaluation("ns/ttt-1-dpo", True))

    boards = Boards()
    events = watched_events(kafka, from_beginning=True)
    try:

        async def until_both() -> None:
            async for event in events:
                boards.apply(event)
                if boards.jobs.jobs and boards.evaluations.evaluations:
                    return

        await asyncio.wait_for(until_both(), 30)
    finally:
        await events.aclose()
    text = shown(boards)
    assert "ttt-1" in text
    assert "PROMOTED" in text


@dataclass(frozen=True)
class Logged:
    step: int
    value: float
    at: str | None = None


@pytest.mark.timeout(120)
async def test_watch_json_prints_every_point_of_the_curves_before_it_exits(
    kafka_broker: KafkaBroker, unique_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kafka = KafkaConfig.model_validate(
        {
            "bootstrap_servers": kafka_broker.bootstrap_servers,
            "topics": {
                "jobs": f"{unique_name}.jobs",
                "job_metrics": f"{unique_name}.job-metrics",
                "evaluations": f"{unique_name}.evals",
            },
        }
    )
    wanted = {kafka.topics.jobs, kafka.topics.job_metrics}
    await ensure_topics(kafka, [s for s in topic_specs(kafka) if s.name in wanted])
    series = {
        "train_loss": [Logged(s, 1.0 / (s + 1)) for s in range(0, 250, 2)],
        "val_loss": [Logged(99, 0.6), Logged(199, 0.5)],
    }
    chunks = metric_chunks("key-ttt-1", "cust-1", series)
    assert len(chunks) == 3
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for chunk in chunks:
            await producer.send_and_wait(
                kafka.topics.job_metrics, encode(chunk), key=chunk.key.encode()
            )
        await producer.send_and_wait(kafka.topics.jobs, encode(job("ttt-1")), key=b"key-ttt-1")
    finally:
        await producer.stop()

    await asyncio.wait_for(watch_jobs(kafka, from_beginning=True, as_json=True, exit_after=1), 60)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    printed = [JobMetricsEvent.model_validate(doc) for doc in lines if "chunk" in doc]
    curves = JobCurves()
    for chunk in printed:
        curves.apply(chunk)
    drawn = curves.curves("key-ttt-1")
    assert [(p.step, p.value) for p in drawn["train_loss"]] == [
        (p.step, p.value) for p in series["train_loss"]
    ]
    assert [p.step for p in drawn["val_loss"]] == [99, 199]
    assert any(doc.get("status") == "completed" for doc in lines)
