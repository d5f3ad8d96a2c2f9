"""`prefstream up` survives kill -9 of a service child, and `prefstream watch` shows the jobs;
no child outlives `up`, whatever ends it; a taken port stops it before anything starts.

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
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pexpect
import psutil
import pytest
from prefstream_config import PrefstreamConfig, load_config
from prefstream_demo.agents import play_games
from prefstream_events import JobStatus
from prefstream_events.job_board import JobBoard
from prefstream_kafka.readers import job_events

from .support import (
    DEMO_CONFIG,
    ROOT,
    CliProcess,
    all_children,
    as_argv,
    assert_none_survive,
    kill_survivors,
    service_ports,
)

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
        async with job_events(config.kafka, from_beginning=True) as events:
            async for event in events:
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
    assert up.stop() == 130  # Ctrl-C, as `prefstream submit`
    assert not any("Traceback" in line for line in up.lines), "\n".join(up.lines[-80:])


def small_stack(loop_overrides: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Broker, nmp-local and the three services: the web view adds nothing here."""
    return [*loop_overrides, ("ui.enabled", "false")]


def up_argv(overrides: list[tuple[str, str]]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "prefstream_cli",
        "up",
        "--config",
        str(DEMO_CONFIG),
        *as_argv(overrides),
    ]


EXIT_AFTER = {signal.SIGHUP: 129, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGKILL])
def test_no_child_outlives_up(sig: signal.Signals, loop_overrides: list[tuple[str, str]]) -> None:
    overrides = small_stack(loop_overrides)
    up = CliProcess(["up"], overrides, stop_timeout=90)
    children: list[psutil.Process] = []
    try:
        up.wait_for(r"everything is running", timeout=180)
        children = all_children(up.proc.pid)
        up.proc.send_signal(sig)
        code = up.proc.wait(timeout=90)
        assert_none_survive(children, service_ports(overrides))
        assert code == EXIT_AFTER[sig]
    finally:
        up.stop()
        kill_survivors(children)


def test_up_piped_into_a_closed_pipe_stops_every_child_on_ctrl_c(
    loop_overrides: list[tuple[str, str]],
) -> None:
    """``prefstream up 2>&1 | head -1``: stdout closes early; Ctrl-C must still stop all."""
    overrides = small_stack(loop_overrides)
    submitter_port = dict(overrides)["submitter.http_port"]
    up = subprocess.Popen(
        up_argv(overrides),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    assert up.stdout is not None
    head = subprocess.Popen(["head", "-1"], stdin=up.stdout, stdout=subprocess.PIPE, text=True)
    up.stdout.close()
    children: list[psutil.Process] = []
    try:
        first, _ = head.communicate(timeout=60)
        assert first.strip()
        deadline = time.monotonic() + 180
        while up.poll() is None and time.monotonic() < deadline:
            if http_ok(f"http://127.0.0.1:{submitter_port}/readyz"):
                break
            time.sleep(0.2)
        assert up.poll() is None, f"up exited with {up.returncode} once its stdout closed"
        assert http_ok(f"http://127.0.0.1:{submitter_port}/readyz")
        children = all_children(up.pid)
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        assert up.wait(timeout=90) == 130
        assert_none_survive(children, service_ports(overrides))
    finally:
        if up.poll() is None:
            up.kill()
        kill_survivors(children)


def test_a_taken_port_stops_up_before_anything_starts(
    loop_overrides: list[tuple[str, str]],
) -> None:
    overrides = small_stack(loop_overrides)
    port = int(dict(overrides)["batcher.http_port"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        up = CliProcess(["up"], overrides, stop_timeout=10)
        try:
            code = up.proc.wait(timeout=60)
        finally:
            up.stop()
    output = "\n".join(up.lines)
    assert code == 1, output
    assert f"port {port} (batcher) is in use by pid {os.getpid()}" in output, output
    assert "choose another with -o batcher.http_port PORT" in output
    assert "started " not in output


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
