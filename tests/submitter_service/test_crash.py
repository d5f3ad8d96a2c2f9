"""SIGKILL the submitter at each step boundary, restart it, and count what exists.

The test hook ``PREFSTREAM_CRASH_AT`` makes the service kill itself right after the remote
call of that step succeeded and before its ledger knows: the worst moment.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from huggingface_hub import HfApi
from prefstream_events import JobStatus
from prefstream_runtime.crash import CRASH_ENV
from prefstream_submission.flow import CRASH_POINTS

from .conftest import Stack
from .harness import JobsReader, dataset_event, final, get_json, jobs_for, publish, terminal
from .harness import write_rows as rows


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
async def test_sigkill_at_each_step_then_restart_gives_exactly_one_job(
    stack: Stack, point: str
) -> None:
    # Four epochs keep the job running past the restart, so only the submitter's own
    # lookup (not nmp-local's "output model exists" 409) can prevent a second job.
    config = stack.config(adapter={"hyperparameters": {"epochs": 4, "batch_size": 4}})
    dataset = dataset_event(rows(stack.tmp_path / "crash-1"), f"{stack.name}-1", 1)
    crashing = stack.submitter(config, env={CRASH_ENV: point}, log="crashing.log")
    crashing.start().wait_ready()

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, dataset)
        assert await crashing.wait_exit(within=60) == -signal.SIGKILL
        assert f"SIGKILL at {point}" in crashing.logs()

        restarted = stack.submitter(config, log="restarted.log")
        restarted.start().wait_ready()
        events = await reader.wait_for(terminal(dataset.dataset_id), 60, "the job to finish")

    mine = [e for e in events if e.job_key == dataset.dataset_id]
    last = final(events, dataset.dataset_id)
    assert last is not None
    assert last.status is JobStatus.COMPLETED, last
    assert [e.seq for e in mine] == sorted(e.seq for e in mine), "seq went backwards"
    assert last.output_model is not None
    assert len(await jobs_for(stack.nmp.base_url, last.output_model)) == 1
    datasets = await get_json(f"{stack.nmp.base_url}/v1/datasets", **{"filter[name]": dataset.name})
    assert len(datasets["data"]) == 1
    api = HfApi(endpoint=f"{stack.nmp.base_url}/v1/hf", token=False)
    commits = await asyncio.to_thread(
        api.list_repo_commits, f"prefstream-test/{dataset.name}", repo_type="dataset"
    )
    uploads = [c for c in commits if dataset.dataset_id in c.title]
    assert len(uploads) == 1, [c.title for c in commits]
    assert "test hook" not in restarted.logs()
