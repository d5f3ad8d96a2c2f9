"""Every wait of the flow on a failing platform ends: a step that keeps failing, and job
status that stays unreadable, fail the dataset after ``retry_timeout_seconds``."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefstream_events import DatasetReady, JobStatus
from prefstream_nemo.errors import Transient
from prefstream_stores.ledger import Ledger
from prefstream_submission.dataset_files import dataset_from_directory
from prefstream_submission.flow import FlowHooks, FlowSettings, SubmissionFlow
from prefstream_submission.job_events import Emitter

from tests.support.fake_nemo import FakePlatform, ListSink, write_dataset

FOREVER = 10_000


class Clock:
    """Time that moves only when the flow sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def dataset(tmp_path: Path) -> DatasetReady:
    return dataset_from_directory(write_dataset(tmp_path / "dpo-1"))


async def run(
    tmp_path: Path, dataset: DatasetReady, platform: FakePlatform, clock: Clock
) -> tuple[JobStatus, str | None, list[str]]:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    sub = ledger.add(dataset)
    assert sub is not None
    progress: list[str] = []
    settings = FlowSettings(
        namespace="team",
        customization_config="meta/llama-3.2-1b-instruct@v1.0.0+A100",
        hyperparameters={"epochs": 1},
        poll_interval_seconds=1.0,
        step_retry_seconds=5.0,
        retry_timeout_seconds=60.0,
    )
    flow = SubmissionFlow(
        sub,
        platform=platform,
        emitter=Emitter(ledger, ListSink(), namespace="team"),
        settings=settings,
        resumed=False,
        hooks=FlowHooks(progress=lambda s, text: progress.append(text)),
        sleep=clock.sleep,
        clock=clock,
    )
    done = await flow.run()
    ledger.close()
    return done.status, done.error, progress


async def test_a_step_that_keeps_failing_fails_the_dataset_after_the_bound(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    platform, clock = FakePlatform(), Clock()
    platform.fail("ensure_namespaces", *[Transient("ensure namespace: ConnectError")] * FOREVER)

    status, error, progress = await run(tmp_path, dataset, platform, clock)

    assert status is JobStatus.FAILED
    assert error is not None
    assert "ConnectError" in error
    assert "retry_timeout_seconds" in error
    assert clock.now - 1000.0 <= 60.0
    assert "ConnectError" in progress[0]  # the first failure already names its cause


async def test_job_status_unreadable_for_longer_than_the_bound_fails_the_dataset(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    platform, clock = FakePlatform(), Clock()
    platform.fail("job_status", *[Transient("read status: HTTP 503")] * FOREVER)

    status, error, _ = await run(tmp_path, dataset, platform, clock)

    assert status is JobStatus.FAILED
    assert error is not None
    assert "HTTP 503" in error
    assert "retry_timeout_seconds" in error
    assert clock.now - 1000.0 <= 60.0 + 5.0
