"""`prefstream up` survives kill -9 of a service child, and `prefstream watch` shows the jobs.

One stack run serves both checks: each service child is killed once (pairing before the
agents start, batcher and submitter mid-stream) and the supervisor restarts it; every
dataset that gets cut is trained exactly once; meanwhile `prefstream watch` runs in a
pseudo-terminal and its screen must show the jobs completing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
from collections.abc import Iterator

import pexpect
import pytest
from prefstream_config import PrefstreamConfig, load_config
from prefstream_demo.agents import play_games
from prefstream_events import JobStatus
from prefstream_events.job_board import JobBoard
from prefstream_kafka.readers import job_events

from .support import DEMO_CONFIG, ROOT, CliProcess, as_argv

pytestmark = pytest.mark.slow


@pytest.fixture
def up(loop_overrides: list[tuple[str, str]]) -> Iterator[CliProcess]:
    process = CliProcess(["up"], loop_overrides, stop_timeout=90)
    try:
        process.wait_for(r"everything is running", timeout=180)
        yield process
    finally:
        process.stop()


def nmp_jobs(base_url: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{base_url}/v1/customization/jobs?page_size=100") as r:
        data: list[dict[str, object]] = json.loads(r.read())["data"]
        return data


def kill_child(up: CliProcess, name: str) -> None:
    """SIGKILL one supervised child and wait until the supervisor has replaced it."""
    pid = int(up.wait_for(rf"started {name} \(pid (\d+)\)").group(1))
    os.kill(pid, signal.SIGKILL)
    up.wait_for(rf"{name} exited with code -9; restart #1")
    up.wait_for(rf"started {name} \(pid (?!{pid}\))\d+\)")


async def play_until_jobs(
    config: PrefstreamConfig, jobs: int, deadline_s: float, up: CliProcess
) -> JobBoard:
    """Agents play while the batcher (once a dataset exists) and the submitter (once a job
    runs) are killed; ends when ``jobs`` jobs completed and none is still in flight."""
    board = JobBoard()
    stop = asyncio.Event()
    pending_kills = {"batcher": JobStatus.QUEUED, "submitter": JobStatus.RUNNING}

    async def agents() -> None:
        rounds = 0
        while not stop.is_set():
            await play_games(config, 2, 3, seed=rounds, stop=stop)
            rounds += 1

    async def watch() -> None:
        async for event in job_events(config.kafka, from_beginning=True):
            board.apply(event)
            for name, status in list(pending_kills.items()):
                if board.count(status):
                    del pending_kills[name]
                    await asyncio.to_thread(kill_child, up, name)
            if board.count(JobStatus.COMPLETED) >= jobs and board.all_terminal():
                return

    task = asyncio.create_task(agents())
    try:
        await asyncio.wait_for(watch(), deadline_s)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    return board


def test_up_restarts_a_killed_service_and_trains_every_dataset_once(
    up: CliProcess, loop_overrides: list[tuple[str, str]]
) -> None:
    config = load_config(DEMO_CONFIG, loop_overrides)
    bootstrap = f"127.0.0.1:{config.kafka.embedded_port}"
    config = config.model_copy(
        update={"kafka": config.kafka.model_copy(update={"bootstrap_servers": bootstrap})}
    )
    watcher = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "prefstream_cli",
            "watch",
            "--config",
            str(DEMO_CONFIG),
            *as_argv([*loop_overrides, ("kafka.bootstrap_servers", bootstrap)]),
        ],
        cwd=str(ROOT),
        dimensions=(40, 200),
        encoding="utf-8",
        timeout=240,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    try:
        kill_child(up, "pairing")
        board = asyncio.run(play_until_jobs(config, jobs=2, deadline_s=240, up=up))

        watcher.expect("completed")
        watcher.expect(r"tictactoe-dpo-\d+")
    finally:
        watcher.terminate(force=True)

    completed = [job for job in board.jobs.values() if job.status is JobStatus.COMPLETED]
    assert len(completed) >= 2
    assert all(job.status is JobStatus.COMPLETED for job in board.jobs.values())
    jobs = nmp_jobs(config.adapter().entity_host)
    per_dataset: dict[str, int] = {}
    for job in jobs:
        dataset = job["dataset"]
        name = dataset["name"] if isinstance(dataset, dict) else str(dataset)
        per_dataset[name] = per_dataset.get(name, 0) + 1
    assert per_dataset
    assert all(n == 1 for n in per_dataset.values()), per_dataset
    assert set(per_dataset) == {job.dataset_name for job in board.jobs.values()}
    assert up.stop() == 0
    assert not any("Traceback" in line for line in up.lines), "\n".join(up.lines[-80:])
