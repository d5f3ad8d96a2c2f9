"""The real submitter against a real broker and a running nmp-local."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prefstream_events import (
    DeadLetter,
    JobCurves,
    JobMetricsEvent,
    JobStatus,
    JobStatusEvent,
    parse_ce_headers,
)
from prefstream_kafka.readers import read_topic
from prefstream_nmp_local.testing import NmpLocalProcess

from .conftest import Stack, set_faults
from .harness import (
    JobsReader,
    dataset_event,
    final,
    get_json,
    jobs_for,
    publish,
    terminal,
    write_rows,
)

ORDER = [
    JobStatus.QUEUED,
    JobStatus.SUBMITTING,
    JobStatus.CREATED,
    JobStatus.PENDING,
    JobStatus.RUNNING,
    JobStatus.COMPLETED,
]


def metric(text: str, line_prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_prefix!r} in:\n{text}")


async def test_dataset_ready_gives_one_completed_job_and_the_expected_events(
    stack: Stack,
) -> None:
    proc = stack.submitter(stack.config())
    proc.start().wait_ready()
    dataset = dataset_event(write_rows(stack.tmp_path / "ttt-1"), f"{stack.name}-1", 1)
    key = dataset.dataset_id

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, dataset)
        await reader.wait_for(terminal(key), 60, "the job to finish")
        events = reader.events(key)
        headers = dict(reader.records[-1].headers)

    statuses = [e.status for e in events]
    assert statuses[:3] == [JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.CREATED]
    assert statuses[-1] is JobStatus.COMPLETED
    assert [ORDER.index(s) for s in statuses] == sorted(ORDER.index(s) for s in statuses)
    assert JobStatus.RUNNING in statuses
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    running = [e for e in events if e.status is JobStatus.RUNNING]
    assert any(e.percentage_done and 0 < e.percentage_done < 100 for e in running)
    last = events[-1]
    assert last.percentage_done == 100.0
    assert last.train_loss is not None
    assert last.val_loss is not None
    assert last.output_model == f"prefstream-test/{dataset.name}-dpo"
    ce = parse_ce_headers(headers)
    assert ce.type == "dev.prefstream.job.status.v1"
    assert ce.subject == key

    (job,) = await jobs_for(stack.nmp.base_url, last.output_model)
    assert job["id"] == last.job_id
    assert job["hyperparameters"]["training_type"] == "dpo"
    assert job["dataset"]["name"] == dataset.name
    assert last.hyperparameters == job["hyperparameters"]

    # The curves: every point the platform logged, on the job-metrics topic.
    status = await get_json(f"{stack.nmp.base_url}/v1/customization/jobs/{job['id']}/status")
    logged = {
        name: [(p["step"], p["value"]) for p in points]
        for name, points in status["metrics"]["metrics"].items()
        if points
    }
    assert len(logged["train_loss"]) >= 2
    assert logged["val_loss"]
    curves = JobCurves()
    for chunk in await read_topic(stack.kafka, stack.kafka.topics.job_metrics, JobMetricsEvent):
        assert chunk.job_key == key
        assert chunk.job_id == job["id"]
        curves.apply(chunk)
    drawn = {n: [(p.step, p.value) for p in pts] for n, pts in curves.curves(key).items()}
    assert drawn == logged

    assert proc.get("/healthz").status_code == 200
    ready = proc.get("/readyz").json()
    assert ready["ready"] is True
    metrics = proc.get("/metrics").text
    assert metric(metrics, 'prefstream_submitter_jobs{status="completed"}') == 1
    assert metric(metrics, "prefstream_submitter_submit_latency_seconds_count") == 1
    assert metric(metrics, "prefstream_submitter_poll_errors_total") == 0


async def test_redelivery_and_restart_never_submit_twice(stack: Stack) -> None:
    config = stack.config()
    proc = stack.submitter(config)
    proc.start().wait_ready()
    dataset = dataset_event(write_rows(stack.tmp_path / "again-1"), f"{stack.name}-1", 1)

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, dataset)
        await reader.wait_for(terminal(dataset.dataset_id), 60, "the job to finish")
        assert proc.stop() in (0, -15)
        assert "submitter stopped" in proc.logs()
        first = len(reader.events())

        again = stack.submitter(config, log="submitter-2.log")
        again.start().wait_ready()
        await publish(stack.kafka, dataset)  # the same DatasetReady, delivered again
        marker = dataset_event(write_rows(stack.tmp_path / "marker-1"), f"{stack.name}-m-1", 1)
        await publish(stack.kafka, marker)
        await reader.wait_for(terminal(marker.dataset_id), 60, "the marker dataset")
        after = reader.events(dataset.dataset_id)

    assert len(after) == first
    last = final(after, dataset.dataset_id)
    assert last is not None
    assert last.output_model is not None
    assert len(await jobs_for(stack.nmp.base_url, last.output_model)) == 1
    assert (
        metric(
            again.get("/metrics").text,
            'prefstream_submitter_datasets_consumed_total{outcome="duplicate"}',
        )
        == 1
    )


async def test_deploy_on_completion_ends_with_a_ready_deployment(stack: Stack) -> None:
    proc = stack.submitter(stack.config(adapter={"deploy_on_completion": True}))
    proc.start().wait_ready()
    dataset = dataset_event(write_rows(stack.tmp_path / "dep-1"), f"{stack.name}-1", 1)

    def deployed(events: list[JobStatusEvent]) -> bool:
        last = final(events, dataset.dataset_id)
        return (
            last is not None
            and last.deployment is not None
            and last.deployment.status
            in {
                "ready",
                "failed",
            }
        )

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, dataset)
        events = await reader.wait_for(deployed, 60, "the deployment")

    last = final(events, dataset.dataset_id)
    assert last is not None
    assert last.deployment is not None
    assert last.status is JobStatus.COMPLETED
    assert last.deployment.status == "ready"
    assert last.error is None
    states = [e.deployment.status for e in events if e.deployment is not None]
    assert states[0] == "requested"
    name = last.deployment.name
    base = f"{stack.nmp.base_url}/v1/deployment"
    body = await get_json(f"{base}/model-deployments/prefstream-test/{name}")
    assert body["status_details"]["status"] == "ready"
    config = await get_json(f"{base}/configs/prefstream-test/{name}-config")
    assert config["model"] == last.output_model


async def test_job_failing_in_nmp_local_gives_a_failed_event_with_its_error(
    stack: Stack, nmp: NmpLocalProcess
) -> None:
    proc = stack.submitter(stack.config())
    proc.start().wait_ready()
    dataset = dataset_event(write_rows(stack.tmp_path / "fail-1"), f"{stack.name}-1", 1)
    set_faults(nmp, fail_jobs_at_percent=50)
    try:
        async with JobsReader(stack.kafka) as reader:
            await publish(stack.kafka, dataset)
            events = await reader.wait_for(terminal(dataset.dataset_id), 60, "the job to fail")
    finally:
        set_faults(nmp)

    last = final(events, dataset.dataset_id)
    assert last is not None
    assert last.status is JobStatus.FAILED
    assert last.error is not None
    assert "injected by nmp-local fault injection" in last.error
    assert last.job_id is not None


async def test_invalid_rows_fail_with_the_line_and_bad_records_are_dead_lettered(
    stack: Stack,
) -> None:
    proc = stack.submitter(stack.config())
    proc.start().wait_ready()
    bad = dataset_event(
        write_rows(stack.tmp_path / "bad-1", rows=12, bad_line=4), f"{stack.name}-1", 1
    )

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, bad)
        events = await reader.wait_for(terminal(bad.dataset_id), 60, "the dataset to fail")

    last = final(events, bad.dataset_id)
    assert last is not None
    assert last.status is JobStatus.FAILED
    assert last.error == "training/training_file.jsonl line 4: rejected_response: field required"
    assert last.job_id is None

    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(stack.kafka.topics.datasets, b"{not json", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        stack.kafka.topics.deadletter,
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    letter = DeadLetter.model_validate_json(record.value)
    assert letter.reason == "not_json"
    assert letter.original == b"{not json"
    assert letter.source.topic == stack.kafka.topics.datasets
