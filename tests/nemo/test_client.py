"""The NeMo platform client: error mapping, retries, credentials, LFS, and a whole flow
against a server written only from the reference contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefstream_nemo import NemoClient
from prefstream_nemo.errors import Exists, Missing, Permanent, Transient
from prefstream_nemo.http import request
from prefstream_nemo.models import JobProgress
from prefstream_nemo.retry import RetryPolicy, create_once
from prefstream_stores.ledger import Ledger
from prefstream_submission.dataset_files import dataset_from_directory, local_files
from prefstream_submission.flow import FlowSettings, SubmissionFlow
from prefstream_submission.job_events import Emitter

from tests.support.fake_nemo import ListSink, write_dataset

from .contract_server import ContractState, contract_server

FAST = RetryPolicy(attempts=3, max_seconds=0.01, initial_seconds=0.001)


@pytest.fixture
def server() -> Iterator[tuple[str, ContractState]]:
    with contract_server() as running:
        yield running


def client_for(
    handler: Any, *, hf_token: str = "", api_token: str | None = None
) -> tuple[NemoClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        response: httpx.Response = handler(request)
        return response

    client = NemoClient(
        entity_host="http://nmp.test",
        datastore_host="http://ds.test",
        hf_token=hf_token,
        api_token=api_token,
        policy=FAST,
        transport=httpx.MockTransport(record),
    )
    return client, seen


@pytest.mark.parametrize(
    ("status", "create", "expected"),
    [
        (409, False, Exists),
        (409, True, Exists),
        (422, True, Exists),
        (422, False, Permanent),
        (404, False, Missing),
        (400, True, Permanent),
        (401, False, Permanent),
        (429, False, Transient),
        (500, False, Transient),
        (503, True, Transient),
    ],
)
async def test_status_codes_map_to_the_four_cases(
    status: int, create: bool, expected: type[Exception]
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(status, json={"detail": "why"}))
    ) as http:
        with pytest.raises(expected) as info:
            await request(http, "POST", "http://x.test/v1/thing", "make thing", create=create)
    assert "make thing: HTTP" in str(info.value)
    assert "why" in str(info.value)


async def test_401_says_which_token_to_set() -> None:
    client, _ = client_for(lambda r: httpx.Response(401, json={"detail": "no"}))
    with pytest.raises(Permanent, match="set api_token"):
        await client.job_status("cust-1")
    await client.aclose()


async def test_connection_errors_and_timeouts_are_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client, seen = client_for(refuse)
    with pytest.raises(Transient, match="ConnectError"):
        await client.get_dataset("ns", "d")
    assert len(seen) == FAST.attempts
    await client.aclose()


async def test_reads_retry_5xx_and_honour_retry_after() -> None:
    answers = iter(
        [
            httpx.Response(503, headers={"retry-after": "0"}, json={"detail": "busy"}),
            httpx.Response(502, text="<html>bad gateway</html>"),
            httpx.Response(200, json={"status": "running", "percentage_done": 12.5}),
        ]
    )
    retried: list[str] = []
    client, seen = client_for(lambda r: next(answers))
    client.customizer._policy = RetryPolicy(
        attempts=3, max_seconds=0.01, on_retry=lambda what, exc: retried.append(what)
    )
    progress = await client.job_status("cust-1")
    assert progress.percentage_done == 12.5
    assert len(seen) == 3
    assert retried == ["read status of job cust-1"] * 2
    await client.aclose()


async def test_a_create_is_sent_once_and_a_transient_failure_leads_to_a_lookup() -> None:
    calls: list[str] = []
    made: list[str] = []

    async def create() -> str:
        calls.append("create")
        made.append("job")
        raise Transient("response lost")

    async def lookup() -> str | None:
        calls.append("lookup")
        return "job" if made else None

    found, created = await create_once(FAST, "create job", create, lookup)
    assert (found, created) == ("job", False)
    assert calls == ["create", "lookup"]
    assert made == ["job"]


async def test_exists_without_a_match_is_permanent() -> None:
    async def create() -> str:
        raise Exists("create dataset: HTTP 422: invalid name", status=422)

    async def lookup() -> str | None:
        return None

    with pytest.raises(Permanent, match="no matching one could be found"):
        await create_once(FAST, "create dataset", create, lookup)


async def test_create_dataset_is_never_retried_by_the_client() -> None:
    client, seen = client_for(lambda r: httpx.Response(503, json={"detail": "busy"}))
    with pytest.raises(Transient):
        await client.create_dataset({"name": "d", "namespace": "n", "files_url": "hf://x"})
    assert len(seen) == 1
    await client.aclose()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "created"}, None),
        ({"status": "pending", "percentage_done": None}, None),
        ({"status": "running", "percentage_done": "n/a"}, None),
        ({"status": "running", "percentage_done": 140.0}, 100.0),
        ({"status": "running", "percentage_done": 33.3}, 33.3),
    ],
)
def test_percentage_done_may_be_absent_null_or_odd(body: dict[str, Any], expected: Any) -> None:
    assert JobProgress.parse(body).percentage_done == expected


def test_losses_are_live_while_running_and_best_when_completed() -> None:
    metrics = {
        "metrics": {
            "train_loss": [{"step": 1, "value": 0.5}, {"step": 2, "value": 0.3}],
            "val_loss": [{"step": 2, "value": 0.45}],
        }
    }
    running = JobProgress.parse({"status": "running", "train_loss": 0.4, "metrics": metrics})
    done = JobProgress.parse(
        {"status": "completed", "train_loss": 0.4, "val_loss": 0.44, "metrics": metrics}
    )
    assert (running.train_loss, running.val_loss) == (0.3, 0.45)
    assert (done.train_loss, done.val_loss) == (0.4, 0.44)


async def test_job_lookup_walks_every_page_of_an_unfiltered_list(
    server: tuple[str, ContractState],
) -> None:
    base, state = server
    for i in range(230):
        job_id = f"cust-{i}"
        state.jobs[job_id] = {"id": job_id, "output_model": f"other/m{i}", "status": "completed"}
    state.jobs["cust-mine"] = {"id": "cust-mine", "output_model": "ns/mine", "status": "running"}
    for i in range(230, 250):  # newer ones on top: ours ends up on the third page
        state.jobs[f"cust-{i}"] = {"id": f"cust-{i}", "output_model": "x/y", "status": "created"}
    client = NemoClient(entity_host=base, datastore_host=base, policy=FAST)
    state.jobs = dict(reversed(list(state.jobs.items())))

    found = await client.find_job("ns", "ns/mine")
    missing = await client.find_job("ns", "ns/none")

    assert found is not None
    assert found.id == "cust-mine"
    assert missing is None
    await client.aclose()


async def test_empty_hf_token_sends_no_auth_and_never_a_saved_token(
    server: tuple[str, ContractState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, state = server
    monkeypatch.setenv("HF_TOKEN", "hf_SAVED_environment_token")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    (tmp_path / "hf-home").mkdir()
    (tmp_path / "hf-home" / "token").write_text("hf_SAVED_file_token")
    dataset = dataset_from_directory(write_dataset(tmp_path / "tok-1", rows=40))
    client = NemoClient(entity_host=base, datastore_host=base, hf_token="", policy=FAST)
    await client.ensure_namespaces("ns")
    assert await client.create_repo("ns/tok-1") is True
    await client.commit("ns/tok-1", local_files(dataset), "files")
    await client.aclose()

    data_store = state.seen("/v1/hf") + state.seen("/v1/datastore") + state.seen("/lfs-store")
    assert len(data_store) >= 5
    assert all("authorization" not in r.headers for r in data_store)


async def test_tokens_go_only_to_their_own_hosts(
    server: tuple[str, ContractState], tmp_path: Path
) -> None:
    base, state = server
    dataset = dataset_from_directory(write_dataset(tmp_path / "auth-1"))
    ledger = Ledger(":memory:")
    sub = ledger.add(dataset)
    assert sub is not None
    client = NemoClient(
        entity_host=base,
        datastore_host=base,
        hf_token="hf-DATASTORE",
        api_token="api-GATEWAY",
        policy=FAST,
    )
    flow = SubmissionFlow(
        sub,
        platform=client,
        emitter=Emitter(ledger, ListSink(), namespace="ns"),
        settings=FlowSettings(
            namespace="ns",
            customization_config="meta/llama-3.2-1b-instruct@v1.0.0+A100",
            hyperparameters={"training_type": "dpo", "finetuning_type": "all_weights"},
            poll_interval_seconds=0.01,
        ),
        resumed=False,
    )
    await flow.run()
    await client.aclose()

    for r in state.seen("/v1/hf") + state.seen("/v1/datastore"):
        assert r.headers.get("authorization") == "Bearer hf-DATASTORE", r.path
    platform = state.seen("/v1/namespaces") + state.seen("/v1/datasets")
    platform += state.seen("/v1/customization")
    assert platform
    for r in platform:
        assert r.headers.get("authorization") == "Bearer api-GATEWAY", r.path


async def test_whole_flow_against_the_contract_server_with_lfs_and_quirks(
    server: tuple[str, ContractState], tmp_path: Path
) -> None:
    base, state = server
    state.lfs_threshold = 2048  # the training file is bigger: it must go through git-LFS
    dataset = dataset_from_directory(write_dataset(tmp_path / "big-1", rows=60))
    assert dataset.training.bytes > 2048 > dataset.validation.bytes
    settings = FlowSettings(
        namespace="ns",
        customization_config="meta/llama-3.2-1b-instruct@v1.0.0+A100",
        hyperparameters={"training_type": "dpo", "finetuning_type": "all_weights"},
        poll_interval_seconds=0.01,
        deploy_on_completion=True,
    )

    async def run_once() -> Any:
        ledger = Ledger(":memory:")
        sub = ledger.add(dataset)
        assert sub is not None
        sink = ListSink()
        client = NemoClient(entity_host=base, datastore_host=base, policy=FAST)
        flow = SubmissionFlow(
            sub,
            platform=client,
            emitter=Emitter(ledger, sink, namespace="ns"),
            settings=settings,
            resumed=True,
        )
        done = await flow.run()
        await client.aclose()
        return done, sink.events

    first, events = await run_once()
    second, _ = await run_once()  # as `prefstream submit` run twice: follows, creates nothing

    assert first.status.value == "completed", first.error
    assert events[-1].deployment is not None
    assert events[-1].deployment.status == "ready"
    assert second.status.value == "completed"
    assert second.job_id == first.job_id
    assert len(state.jobs) == 1
    assert len(state.commits) == 1
    assert len(state.datasets) == 1
    repo = state.repos["ns/big-1"]
    assert repo["training/training_file.jsonl"]["sha256"] == dataset.training.sha256
    assert "sha256" not in repo["validation/validation_file.jsonl"]
    assert state.seen("/lfs-store"), "the LFS upload went elsewhere"
    assert not [r for r in state.requests if "xet" in r.path]
    assert [e.percentage_done for e in events if e.status.value in ("created", "pending")] == [
        None
    ] * len([e for e in events if e.status.value in ("created", "pending")])
