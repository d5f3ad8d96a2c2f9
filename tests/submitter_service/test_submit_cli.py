"""``prefstream submit DATASET_DIR`` run as a user runs it, against nmp-local and against a
server written only from the reference contract."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefstream_events import JobCurves, JobMetricsEvent, JobStatus, JobStatusEvent
from prefstream_nmp_local.testing import NmpLocalProcess

from .conftest import set_faults
from .harness import jobs_for, submit_config, write_rows


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli_config(path: Path, base_url: str, **adapter: Any) -> Path:
    return submit_config(
        path,
        base_url,
        submitter={"retry_max_seconds": 0.5},
        hyperparameters={"epochs": 1},
        poll_interval_seconds=0.2,
        **adapter,
    )


async def submit(*args: str) -> Run:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prefstream_cli",
        "submit",
        *args,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return Run(int(proc.returncode or 0), out.decode(), err.decode())


async def test_hand_made_directory_completes_and_a_second_run_follows_the_same_job(
    tmp_path: Path, nmp: NmpLocalProcess
) -> None:
    directory = write_rows(tmp_path / "my tic tac toe")
    config = cli_config(tmp_path / "c.yml", nmp.base_url)

    first = await submit(str(directory), "--config", str(config))
    second = await submit(str(directory), "--config", str(config))

    assert first.code == 0, first.err
    assert "as cli/my-tic-tac-toe" in first.out
    assert "created job cust-" in first.out
    assert "running" in first.out
    assert "completed: output model cli/my-tic-tac-toe-dpo" in first.out
    assert second.code == 0, second.err
    assert "found existing job" in second.out
    assert len(await jobs_for(nmp.base_url, "cli/my-tic-tac-toe-dpo")) == 1


async def test_dataset_name_override_and_json_events(tmp_path: Path, nmp: NmpLocalProcess) -> None:
    directory = write_rows(tmp_path / "whatever")
    config = cli_config(tmp_path / "c.yml", nmp.base_url)

    run = await submit(
        str(directory),
        "-c",
        str(config),
        "-o",
        "trainer_adapters.nemo.dataset_name",
        "named-set",
        "--json",
    )

    assert run.code == 0, run.err
    docs = [json.loads(line) for line in run.out.splitlines()]
    events = [JobStatusEvent.model_validate(d) for d in docs if "chunk" not in d]
    assert events[0].status is JobStatus.SUBMITTING
    assert events[-1].status is JobStatus.COMPLETED
    assert {e.dataset_name for e in events} == {"named-set"}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    curves = JobCurves()
    for doc in docs:
        if "chunk" in doc:
            curves.apply(JobMetricsEvent.model_validate(doc))
    assert set(curves.curves(events[-1].job_key)) >= {"train_loss", "val_loss"}


async def test_failed_job_exits_non_zero_with_the_platform_error(
    tmp_path: Path, nmp: NmpLocalProcess
) -> None:
    directory = write_rows(tmp_path / "doomed")
    config = cli_config(tmp_path / "c.yml", nmp.base_url)
    set_faults(nmp, fail_jobs_at_percent=40)
    try:
        run = await submit(str(directory), "-c", str(config))
    finally:
        set_faults(nmp)

    assert run.code == 1
    assert "ended failed" in run.err
    assert "injected by nmp-local fault injection" in run.err


async def test_invalid_rows_fail_naming_the_line_before_anything_is_created(
    tmp_path: Path, nmp: NmpLocalProcess
) -> None:
    directory = write_rows(tmp_path / "broken", bad_line=2)
    config = cli_config(tmp_path / "c.yml", nmp.base_url)

    run = await submit(str(directory), "-c", str(config))

    assert run.code == 1
    assert "training/training_file.jsonl line 2: rejected_response: field required" in run.err


async def test_missing_files_and_missing_adapter_say_what_to_do(
    tmp_path: Path, nmp: NmpLocalProcess
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_adapter = tmp_path / "none.yml"
    no_adapter.write_text("logging: {level: INFO}\n")

    missing = await submit(str(empty), "-c", str(cli_config(tmp_path / "c.yml", nmp.base_url)))
    unconfigured = await submit(str(empty), "-c", str(no_adapter))

    assert missing.code == 1
    assert "has no training/training_file.jsonl" in missing.err
    assert unconfigured.code == 2
    assert "trainer_adapters" in unconfigured.err
