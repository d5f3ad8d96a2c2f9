"""Restart: kill nmp-local mid-job, start it on the same data dir, and the job carries on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prefstream_nmp_local.testing import NmpLocalError, NmpLocalProcess, running_nmp_local

from .conftest import CONFIG, FAST_CLOCKS, dpo_rows, hf, hyper, jsonl, sdk
from .test_dpo_flow import wait_for


@pytest.fixture
def slow_job_nmp(tmp_path: Path) -> Iterator[NmpLocalProcess]:
    settings = {**FAST_CLOCKS, "job_seconds_per_epoch": 0.5}
    with running_nmp_local(tmp_path / "state", **settings) as proc:
        yield proc


def test_job_survives_kill_and_restart(slow_job_nmp: NmpLocalProcess) -> None:
    nmp = slow_job_nmp
    client, api = sdk(nmp.base_url), hf(nmp.base_url)
    client.namespaces.create(id="rs")
    api.create_repo("rs/ds", repo_type="dataset")
    api.upload_file(
        path_or_fileobj=jsonl(dpo_rows(16)),
        path_in_repo="training/training_file.jsonl",
        repo_id="rs/ds",
        repo_type="dataset",
    )
    client.datasets.create(name="ds", namespace="rs", files_url="hf://datasets/rs/ds")
    job = client.customization.jobs.create(
        config=CONFIG,
        dataset={"name": "ds", "namespace": "rs"},
        hyperparameters=hyper(epochs=4),
    )
    assert job.id is not None
    job_id = job.id
    before = wait_for(
        lambda: client.customization.jobs.status(job_id),
        lambda s: s.status == "running" and (s.percentage_done or 0) > 0,
    )[-1]
    assert before.percentage_done is not None
    assert before.percentage_done < 100

    base_url = nmp.base_url
    nmp.kill()  # SIGKILL: no graceful shutdown
    assert not nmp.is_running()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base_url}/health", timeout=1.0)

    nmp.start()
    assert nmp.base_url == base_url  # same port: clients made before the crash keep working
    after = client.customization.jobs.status(job_id)
    assert after.status in ("running", "completed")
    assert after.percentage_done is not None
    assert after.percentage_done >= before.percentage_done
    assert after.created_at == before.created_at
    final = wait_for(
        lambda: client.customization.jobs.status(job_id), lambda s: s.status == "completed"
    )[-1]
    assert final.percentage_done == 100.0
    assert final.epochs_completed == 4
    assert client.models.retrieve(f"llama-3.2-1b-instruct@{job_id}", namespace="rs").name

    # Graceful stop, start again: everything is still there, nothing duplicated.
    assert nmp.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    nmp.start()
    assert client.customization.jobs.retrieve(job_id).status == "completed"
    assert [j.id for j in client.customization.jobs.list().data] == [job_id]
    assert client.customization.configs.list().pagination.total_results == 6  # type: ignore[union-attr]
    assert api.list_repo_files("rs/ds", repo_type="dataset") == ["training/training_file.jsonl"]


def test_startup_failure_is_reported(tmp_path: Path) -> None:
    blocker = NmpLocalProcess(tmp_path / "a").start()
    try:
        clash = NmpLocalProcess(tmp_path / "b", port=blocker.port, startup_timeout=10)
        with pytest.raises(NmpLocalError, match="exited with code"):
            clash.start()
    finally:
        blocker.stop()
