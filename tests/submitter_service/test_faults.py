"""Under injected faults every dataset still ends in exactly one completed job.

nmp-local answers 30 % of requests with a 5xx after 500 ms of latency, and additionally
loses the response of some creates after performing them (the case where a blind retry
would make a second job or dataset).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefstream_events import JobStatusEvent
from prefstream_nmp_local.testing import NmpLocalProcess, running_nmp_local

from .conftest import Stack, set_faults
from .harness import (
    FAST_CLOCKS,
    JobsReader,
    dataset_event,
    final,
    get_json,
    jobs_for,
    publish,
    write_rows,
)

FAULTS = {
    "error_rate": 0.3,
    "latency_ms": 500,
    "drop_response_rate": {"POST /v1/customization/jobs": 0.3, "POST /v1/datasets": 0.3},
    "fault_seed": 7,
}
DATASETS = 3


@pytest.fixture(scope="module")
def nmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NmpLocalProcess]:
    with running_nmp_local(
        tmp_path_factory.mktemp("nmp-local-faults"), **FAST_CLOCKS, **FAULTS
    ) as proc:
        yield proc


async def test_30_percent_5xx_and_latency_still_give_one_completed_job_each(
    stack: Stack, nmp: NmpLocalProcess
) -> None:
    config = stack.config(
        submitter={"max_concurrent_jobs": DATASETS, "retry_attempts": 10, "retry_max_seconds": 1}
    )
    proc = stack.submitter(config)
    proc.start().wait_ready()
    datasets = [
        dataset_event(write_rows(stack.tmp_path / f"f-{i}"), f"{stack.name}-{i}", i)
        for i in range(1, DATASETS + 1)
    ]

    def all_done(events: list[JobStatusEvent]) -> bool:
        lasts = [final(events, d.dataset_id) for d in datasets]
        return all(e is not None and e.status.terminal for e in lasts)

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, *datasets)
        events = await reader.wait_for(all_done, 150, "every dataset to finish")

    set_faults(nmp)  # count what exists without faults in the way
    for dataset in datasets:
        last = final(events, dataset.dataset_id)
        assert last is not None
        assert last.status.value == "completed", (last.status, last.error)
        assert last.output_model is not None
        assert len(await jobs_for(nmp.base_url, last.output_model)) == 1
        listed = await get_json(f"{nmp.base_url}/v1/datasets", **{"filter[name]": dataset.name})
        assert len(listed["data"]) == 1
    injected = (await get_json(f"{nmp.base_url}/v1/nmp-local/faults"))["injected"]
    assert injected["error"] > 0
    retries = [
        line
        for line in proc.get("/metrics").text.splitlines()
        if line.startswith("prefstream_submitter_api_retries")
    ]
    assert any(
        line.startswith("prefstream_submitter_api_retries_total ") and float(line.split()[1]) > 0
        for line in retries
    )
