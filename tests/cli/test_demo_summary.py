"""The simulated demo's summary: jobs as ``watch`` shows them, every candidate accounted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from prefstream_cli.closed_loop import LoopResult
from prefstream_cli.closed_loop_summary import loop_summary
from prefstream_cli.demo_run import (
    DemoResult,
    _jobs,
    candidate_accounting,
    final_board,
    summary,
)
from prefstream_config import PrefstreamConfig
from prefstream_events import JobStatus, JobStatusEvent, encode
from prefstream_events.job_board import JobBoard
from prefstream_kafka.topics import ensure_topics, topic_specs

from tests.conftest import KafkaBroker
from tests.support.unclosed import unclosed_consumers


def _job(status: JobStatus, seq: int) -> JobStatusEvent:
    return JobStatusEvent(
        job_key="key-ttt-1", seq=seq, dataset_id="key-ttt-1", dataset_name="ttt-1", status=status
    )


async def test_the_summary_shows_a_job_as_the_topic_ends_as_watch_does(
    kafka_broker: KafkaBroker, unique_name: str
) -> None:
    """The demo stopped following jobs once enough had completed: a job it last saw
    ``queued`` was still shown ``queued`` when ``watch`` showed it ``pending``."""
    config = PrefstreamConfig.model_validate(
        {
            "kafka": {
                "bootstrap_servers": kafka_broker.bootstrap_servers,
                "topics": {"jobs": f"{unique_name}.jobs"},
            }
        }
    )
    kafka = config.kafka
    await ensure_topics(kafka, [s for s in topic_specs(kafka) if s.name == kafka.topics.jobs])
    since = datetime.now(UTC) - timedelta(minutes=1)
    followed = JobBoard()
    queued = _job(JobStatus.QUEUED, 1)
    followed.apply(queued)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for event in (queued, _job(JobStatus.PENDING, 2)):
            await producer.send_and_wait(kafka.topics.jobs, encode(event), key=b"key-ttt-1")
    finally:
        await producer.stop()
    board = await final_board(config, since, followed)
    assert board.jobs["key-ttt-1"].status is JobStatus.PENDING
    text = summary(config, DemoResult(board=board))
    assert "ttt-1" in text
    assert " pending " in text
    assert " queued " not in text


async def test_following_jobs_until_enough_completed_closes_its_consumer(
    kafka_broker: KafkaBroker, unique_name: str
) -> None:
    """The demo stops reading the jobs topic from inside the loop once enough jobs
    completed. Its consumer was closed only later, by a task the event loop's finalizer
    hook starts, or never when the loop stopped first (as at the end of a test)."""
    config = PrefstreamConfig.model_validate(
        {
            "kafka": {
                "bootstrap_servers": kafka_broker.bootstrap_servers,
                "topics": {"jobs": f"{unique_name}.jobs"},
            },
            "demo": {"jobs_to_complete": 1},
        }
    )
    kafka = config.kafka
    await ensure_topics(kafka, [s for s in topic_specs(kafka) if s.name == kafka.topics.jobs])
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for event in (_job(JobStatus.RUNNING, 1), _job(JobStatus.COMPLETED, 2)):
            await producer.send_and_wait(kafka.topics.jobs, encode(event), key=b"key-ttt-1")
    finally:
        await producer.stop()
    result = DemoResult()
    async with asyncio.timeout(60):  # no task of its own: nothing runs between the two lines
        await _jobs(config, datetime.now(UTC) - timedelta(minutes=1), result)
    assert unclosed_consumers() == []  # closed before _jobs returned
    assert result.board.count(JobStatus.COMPLETED) == 1


def test_every_published_candidate_is_in_exactly_one_part() -> None:
    counts = {
        "candidates_paired_total": 2600.0,
        "candidates_unpaired_total": 60.0,
        "duplicates_total": 1.0,
        "filtered_total": 4.0,
        "candidates_open": 3.0,
        "deadletter_total": 2.0,
    }
    parts = dict(candidate_accounting(2675, counts))
    assert parts["not yet consumed"] == 5
    assert sum(parts.values()) == 2675
    caught_up = dict(candidate_accounting(2670, counts))
    assert "not yet consumed" not in caught_up
    assert sum(caught_up.values()) == 2670


def test_a_demo_stopped_by_a_signal_says_so_and_a_finished_one_says_finished() -> None:
    config = PrefstreamConfig()
    stopped = summary(config, DemoResult(seconds=41, stopped_by="SIGTERM"))
    assert "prefstream demo stopped by SIGTERM after 41s" in stopped
    assert "prefstream demo finished in 90s" in summary(config, DemoResult(seconds=90))
    loop = loop_summary(config, LoopResult(seconds=12, stopped_by="SIGHUP"))
    assert "prefstream demo (closed loop) stopped by SIGHUP after 12s" in loop
