"""The scheduler in-process (ledger + in-memory platform): concurrency, policies, resume."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefstream_events import DatasetReady, JobStatus
from prefstream_nemo.models import JobInfo
from prefstream_stores.ledger import Ledger
from prefstream_submission.dataset_files import dataset_from_directory
from prefstream_submission.flow import FlowHooks, FlowSettings
from prefstream_submission.job_events import Emitter, initial_event
from prefstream_submission.model import Step
from prefstream_submitter_service.scheduler import (
    FLOW_RESTART_FIRST_SECONDS,
    FLOW_RESTART_MAX_SECONDS,
    Scheduler,
)

from tests.support.fake_nemo import FakePlatform, ListSink, write_dataset

TERMINAL = {"completed", "failed", "cancelled"}


class CountingPlatform(FakePlatform):
    """Remembers how many jobs were still running whenever a new one was created."""

    def __init__(self) -> None:
        super().__init__()
        self.running_at_create: list[int] = []

    async def create_job(self, body: dict[str, Any]) -> JobInfo:
        job = await super().create_job(body)
        others = [j for k, j in self.jobs.items() if k != job.id and j["status"] not in TERMINAL]
        self.running_at_create.append(len(others))
        return job


def make(
    tmp_path: Path, platform: FakePlatform, *, policy: str = "fifo", slots: int = 1
) -> tuple[Scheduler, Ledger, ListSink]:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    sink = ListSink()
    scheduler = Scheduler(
        ledger=ledger,
        emitter=Emitter(ledger, sink, namespace="ns"),
        platform=platform,
        settings=FlowSettings(
            namespace="ns",
            customization_config="cfg@v1",
            hyperparameters={"training_type": "dpo", "finetuning_type": "lora"},
            poll_interval_seconds=0.01,
            step_retry_seconds=0.01,
        ),
        max_concurrent_jobs=slots,
        queue_policy=policy,  # type: ignore[arg-type]
        hooks=FlowHooks(),
    )
    return scheduler, ledger, sink


def dataset(tmp_path: Path, lineage: str, sequence: int) -> DatasetReady:
    """``<lineage>-<sequence>``, as the batcher names its cuts."""
    made = dataset_from_directory(write_dataset(tmp_path / f"{lineage}-{sequence}"))
    return made.model_copy(update={"sequence": sequence})


async def until(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def statuses(sink: ListSink, dataset_id: str) -> list[str]:
    return [e.status.value for e in sink.events if e.job_key == dataset_id]


async def test_fifo_runs_one_job_at_a_time_in_arrival_order(tmp_path: Path) -> None:
    platform = CountingPlatform()
    scheduler, ledger, sink = make(tmp_path, platform, slots=1)
    items = [dataset(tmp_path, "a", i) for i in (1, 2, 3)]
    await scheduler.start()
    for item in items:
        assert await scheduler.admit(item)
    assert not await scheduler.admit(items[0])  # a re-delivery is a no-op

    await until(lambda: all(s.closed for s in ledger.all()))
    await scheduler.stop()

    assert platform.running_at_create == [0, 0, 0]
    assert [b["dataset"]["name"] for b in platform.job_bodies] == ["a-1", "a-2", "a-3"]
    for item in items:
        assert statuses(sink, item.dataset_id)[0] == "queued"
        assert statuses(sink, item.dataset_id)[-1] == "completed"


async def test_concurrency_limit_allows_parallel_jobs(tmp_path: Path) -> None:
    platform = CountingPlatform()
    gate = asyncio.Event()
    original = platform.job_status

    async def held(job_id: str) -> Any:
        await gate.wait()  # every job keeps running until released
        return await original(job_id)

    platform.job_status = held  # type: ignore[method-assign]
    scheduler, ledger, _ = make(tmp_path, platform, slots=2)
    await scheduler.start()
    for i in (1, 2, 3, 4):
        await scheduler.admit(dataset(tmp_path, "p", i))

    await until(lambda: len(platform.job_bodies) == 2)
    assert (scheduler.in_flight(), scheduler.queued()) == (2, 2)
    gate.set()
    await until(lambda: all(s.closed for s in ledger.all()))
    await scheduler.stop()

    assert platform.running_at_create[:2] == [0, 1]
    assert max(platform.running_at_create) <= 1
    assert len(platform.job_bodies) == 4


async def test_latest_supersedes_queued_older_datasets_of_the_same_name(tmp_path: Path) -> None:
    platform = FakePlatform()
    gate = asyncio.Event()
    original = platform.job_status

    async def held(job_id: str) -> Any:
        await gate.wait()  # keep the first job running while newer datasets arrive
        return await original(job_id)

    platform.job_status = held  # type: ignore[method-assign]
    scheduler, ledger, sink = make(tmp_path, platform, policy="latest", slots=1)
    await scheduler.start()
    a1, a2, a3, b1 = (dataset(tmp_path, *x) for x in (("a", 1), ("a", 2), ("a", 3), ("b", 1)))
    await scheduler.admit(a1)
    await until(lambda: len(platform.job_bodies) == 1)
    await scheduler.admit(a2)
    await scheduler.admit(b1)
    await scheduler.admit(a3)
    late = dataset(tmp_path, "a", 0)
    await scheduler.admit(late)  # older than one already running: superseded on arrival
    gate.set()

    await until(lambda: all(s.closed for s in ledger.all()))
    await scheduler.stop()

    assert statuses(sink, a2.dataset_id) == ["queued", "superseded"]
    assert statuses(sink, late.dataset_id) == ["queued", "superseded"]
    superseded = [e for e in sink.events if e.status is JobStatus.SUPERSEDED]
    assert superseded[0].message is not None
    assert a3.dataset_id in superseded[0].message
    assert [b["dataset"]["name"] for b in platform.job_bodies] == ["a-1", "b-1", "a-3"]


async def test_restart_resumes_started_work_and_republishes_the_lost_event(
    tmp_path: Path,
) -> None:
    platform = FakePlatform()
    scheduler, ledger, sink = make(tmp_path, platform, slots=1)
    first, second = dataset(tmp_path, "r", 1), dataset(tmp_path, "r", 2)
    sub = ledger.add(first)
    assert sub is not None
    sub.step = Step.STARTED
    sub.seq, sub.published_seq = 1, 0  # recorded, never acknowledged by the broker
    sub.last_event = initial_event(sub, "ns").model_copy(
        update={"seq": 1, "status": JobStatus.SUBMITTING}
    )
    ledger.save(sub)
    assert ledger.add(second) is not None  # recorded, crash before its queued event

    await scheduler.start()
    await until(lambda: all(s.closed for s in ledger.all()))
    await scheduler.stop()

    assert statuses(sink, first.dataset_id)[0] == "submitting"
    assert statuses(sink, first.dataset_id)[-1] == "completed"
    assert statuses(sink, second.dataset_id)[0] == "queued"
    assert next(e.seq for e in sink.events if e.job_key == first.dataset_id) == 1
    assert len(platform.job_bodies) == 2


class BrokenFlowPlatform(FakePlatform):
    """Every flow run fails with something that is not a platform error (a ledger or
    broker fault, a bug): the scheduler restarts the flow."""

    async def ensure_namespaces(self, namespace: str) -> None:
        raise RuntimeError("ledger write failed: disk I/O error")


async def test_a_flow_that_keeps_failing_backs_off_then_fails_its_dataset(tmp_path: Path) -> None:
    """Restarts back off exponentially (with jitter) on the injected clock; once the flow
    has failed for ``retry_timeout_seconds`` the dataset is failed with the cause on the
    jobs topic and its slot frees, instead of a restart every few seconds forever."""
    now = [0.0]
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    restarts: list[float] = []
    ledger = Ledger(tmp_path / "ledger.duckdb")
    sink = ListSink()
    scheduler = Scheduler(
        ledger=ledger,
        emitter=Emitter(ledger, sink, namespace="ns"),
        platform=BrokenFlowPlatform(),
        settings=FlowSettings(
            namespace="ns",
            customization_config="cfg@v1",
            hyperparameters={"training_type": "dpo", "finetuning_type": "lora"},
            step_retry_seconds=0.01,
            retry_timeout_seconds=600.0,
            create_namespace_if_missing=True,
        ),
        max_concurrent_jobs=1,
        queue_policy="fifo",
        hooks=FlowHooks(),
        on_flow_restart=lambda: restarts.append(now[0]),
        sleep=sleep,
        clock=lambda: now[0],
    )
    item = dataset(tmp_path, "f", 1)
    await scheduler.start()
    await scheduler.admit(item)
    await until(lambda: all(s.closed for s in ledger.all()), within=20)
    await scheduler.stop()

    assert len(pauses) >= 4
    for n, seconds in enumerate(pauses, start=1):
        # The documented envelope: FIRST * 2**(n-1), at most MAX, times a jitter in
        # [0.5, 1]. Consecutive pauses at the cap may shrink (two draws from [150, 300]).
        bound = min(FLOW_RESTART_FIRST_SECONDS * 2 ** (n - 1), FLOW_RESTART_MAX_SECONDS)
        assert bound * 0.5 <= seconds <= bound, (n, pauses)
    assert pauses[-1] > pauses[0] * 4, pauses
    assert now[0] <= 600.0 + pauses[-1], now[0]
    assert len(restarts) == len(pauses)
    last = [e for e in sink.events if e.job_key == item.dataset_id][-1]
    assert last.status is JobStatus.FAILED
    assert last.error is not None
    assert "disk I/O error" in last.error, last.error
    assert "retry_timeout_seconds" in last.error, last.error
    assert scheduler.in_flight() == 0
