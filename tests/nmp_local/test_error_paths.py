"""Error paths through the official clients: duplicates, missing objects, invalid DPO rows,
unsupported options, and injected faults (5xx, dropped connections, latency, failing jobs)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from nemo_microservices import (
    APIConnectionError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    UnprocessableEntityError,
)
from prefstream_nmp_local.testing import NmpLocalProcess, running_nmp_local

from .conftest import CONFIG, DPO_HYPER, NIM, dpo_rows, hf, hyper, jsonl, sdk
from .test_dpo_flow import wait_for
from .test_metrics import requests, samples

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


def make_dataset(nmp: NmpLocalProcess, ns: str, name: str, files: dict[str, bytes]) -> None:
    """Namespace (tolerating 409), repo, one commit of ``files``, dataset registration."""
    client, api = sdk(nmp.base_url), hf(nmp.base_url)
    with contextlib.suppress(ConflictError):
        client.namespaces.create(id=ns)
    api.create_repo(f"{ns}/{name}", repo_type="dataset", exist_ok=True)
    api.create_commit(
        f"{ns}/{name}",
        repo_type="dataset",
        operations=[CommitOperationAdd(p, data) for p, data in files.items()],
        commit_message="data",
    )
    client.datasets.create(name=name, namespace=ns, files_url=f"hf://datasets/{ns}/{name}")


def valid_files(n: int = 8) -> dict[str, bytes]:
    return {
        "training/training_file.jsonl": jsonl(dpo_rows(n, "t")),
        "validation/validation_file.jsonl": jsonl(dpo_rows(2, "v")),
    }


def test_duplicate_creates(nmp: NmpLocalProcess) -> None:
    client, api = sdk(nmp.base_url), hf(nmp.base_url)
    make_dataset(nmp, "dup", "ds", valid_files())

    before = requests(samples(nmp.base_url), "/v1/namespaces", "409", method="POST")
    with pytest.raises(ConflictError) as err:
        client.namespaces.create(id="dup")
    # x-should-retry: false stops the SDK's two retries: the server saw one request.
    assert requests(samples(nmp.base_url), "/v1/namespaces", "409", method="POST") == before + 1
    assert err.value.response.headers["x-should-retry"] == "false"
    assert "already exists" in str(err.value.body)

    with pytest.raises(ConflictError):
        client.datasets.create(name="ds", namespace="dup", files_url="hf://datasets/dup/ds")
    resp = httpx.post(f"{nmp.base_url}/v1/datastore/namespaces", data={"namespace": "dup"})
    assert resp.status_code == 201
    resp = httpx.post(f"{nmp.base_url}/v1/datastore/namespaces", data={"namespace": "dup"})
    assert resp.status_code == 409

    with pytest.raises(HfHubHTTPError) as hf_err:
        api.create_repo("dup/ds", repo_type="dataset")
    assert hf_err.value.response.status_code == 409
    assert hf_err.value.response.json()["url"].endswith("/v1/hf/datasets/dup/ds")

    client.models.create(name="m1", namespace="dup")
    with pytest.raises(ConflictError):
        client.models.create(name="m1", namespace="dup")
    with pytest.raises(ConflictError):
        client.customization.jobs.create(
            config=CONFIG,
            dataset={"name": "ds", "namespace": "dup"},
            hyperparameters=DPO_HYPER,
            output_model="dup/m1",
        )
    client.deployment.configs.create(name="c", namespace="dup", model="dup/m1", nim_deployment=NIM)
    with pytest.raises(ConflictError):
        client.deployment.configs.create(
            name="c", namespace="dup", model="dup/m1", nim_deployment=NIM
        )
    client.deployment.model_deployments.create(name="d", namespace="dup", config="dup/c")
    with pytest.raises(ConflictError):
        client.deployment.model_deployments.create(name="d", namespace="dup", config="dup/c")


def test_missing_objects(nmp: NmpLocalProcess, tmp_path: Any) -> None:
    client, api = sdk(nmp.base_url), hf(nmp.base_url)
    missing: list[Callable[[], object]] = [
        lambda: client.namespaces.retrieve("nope"),
        lambda: client.datasets.retrieve("nope", namespace="nope"),
        lambda: client.models.retrieve("nope", namespace="nope"),
        lambda: client.customization.configs.retrieve("nope@v1", namespace="meta"),
        lambda: client.customization.jobs.retrieve("cust-missing"),
        lambda: client.customization.jobs.status("cust-missing"),
        lambda: client.customization.jobs.cancel("cust-missing"),
        lambda: client.deployment.model_deployments.retrieve("nope", namespace="nope"),
        lambda: client.deployment.model_deployments.delete("nope", namespace="nope"),
        lambda: client.customization.jobs.create(
            config="meta/nope@v1",
            dataset={"name": "x", "namespace": "y"},
            hyperparameters=DPO_HYPER,
        ),
        lambda: client.customization.jobs.create(
            config=CONFIG, dataset={"name": "nope", "namespace": "nope"}, hyperparameters=DPO_HYPER
        ),
    ]
    for call in missing:
        with pytest.raises(NotFoundError):
            call()
    assert httpx.get(f"{nmp.base_url}/v1/datastore/namespaces/nope").status_code == 404

    make_dataset(nmp, "miss", "ds", valid_files())
    assert not api.repo_exists("miss/nope", repo_type="dataset")
    assert api.repo_exists("miss/ds", repo_type="dataset")
    assert not api.file_exists("miss/ds", "nope.jsonl", repo_type="dataset")
    with pytest.raises(RepositoryNotFoundError):
        api.hf_hub_download("miss/nope", "a.jsonl", repo_type="dataset", cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download("miss/ds", "a.jsonl", repo_type="dataset", cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        api.hf_hub_download(
            "miss/ds", "a.jsonl", repo_type="dataset", revision="v9", cache_dir=tmp_path
        )
    resp = httpx.get(f"{nmp.base_url}/v1/hf/api/datasets/miss/nope")
    assert resp.status_code == 404
    assert resp.headers["X-Error-Code"] == "RepoNotFound"


def test_invalid_dpo_rows_fail_the_job(nmp: NmpLocalProcess) -> None:
    client = sdk(nmp.base_url)
    val = dpo_rows(4, "v")
    del val[2]["chosen_response"]
    train = jsonl(dpo_rows(6, "t")).decode().split("\n")
    train[1] = "{not json"
    train[3] = '{"prompt": 5, "chosen_response": "a", "rejected_response": "b"}'
    make_dataset(
        nmp,
        "bad",
        "ds",
        {
            "training/training_file.jsonl": "\n".join(train).encode(),
            "validation/validation_file.jsonl": jsonl(val),
        },
    )
    job = client.customization.jobs.create(
        config=CONFIG, dataset={"name": "ds", "namespace": "bad"}, hyperparameters=DPO_HYPER
    )
    assert job.id is not None
    assert job.status == "created"
    job_id = job.id
    final = wait_for(
        lambda: client.customization.jobs.status(job_id), lambda s: s.status == "failed"
    )[-1]
    assert final.percentage_done == 0.0
    detail = "\n".join(log.detail or "" for log in final.status_logs or [])
    assert "validation/validation_file.jsonl line 3: chosen_response: field required" in detail
    assert "training/training_file.jsonl line 2: invalid JSON" in detail
    assert "training/training_file.jsonl line 4: prompt: expected a string or a list" in detail
    logs = client.customization.jobs.container_logs(job_id)
    assert logs.error is not None
    assert logs.error.file == "training/training_file.jsonl"
    assert logs.error.line == 2
    with pytest.raises(NotFoundError):  # no output model for a failed job
        client.models.retrieve(f"llama-3.2-1b-instruct@{job_id}", namespace="bad")


def test_invalid_requests_are_422(nmp: NmpLocalProcess) -> None:
    client = sdk(nmp.base_url)
    make_dataset(nmp, "inv", "ds", valid_files())
    with pytest.raises(UnprocessableEntityError, match="does not support"):
        client.customization.jobs.create(
            config=CONFIG,
            dataset={"name": "ds", "namespace": "inv"},
            hyperparameters=hyper(finetuning_type="lora"),
        )
    resp = httpx.post(
        f"{nmp.base_url}/v1/customization/jobs", json={"config": CONFIG, "dataset": "inv/ds"}
    )
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "hyperparameters"]
    resp = httpx.post(f"{nmp.base_url}/v1/datasets", json={"name": "x", "namespace": "inv"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "files_url"]


def test_injected_5xx(nmp: NmpLocalProcess, faults: Any) -> None:
    client = sdk(nmp.base_url, max_retries=0)
    api = hf(nmp.base_url)
    make_dataset(nmp, "flaky", "ds", valid_files())
    faults(error_rate={"GET /v1/namespaces/*": 1.0}, error_status=503)
    with pytest.raises(InternalServerError) as err:
        client.namespaces.retrieve("flaky")
    assert err.value.status_code == 503
    before = httpx.get(f"{nmp.base_url}/v1/nmp-local/faults").json()["injected"]["error"]
    with pytest.raises(InternalServerError):  # the SDK retries 5xx: 2 attempts, both fail
        sdk(nmp.base_url, max_retries=1).namespaces.retrieve("flaky")
    after = httpx.get(f"{nmp.base_url}/v1/nmp-local/faults").json()["injected"]["error"]
    assert after - before == 2
    assert client.datasets.retrieve("ds", namespace="flaky").name == "ds"  # other routes fine

    faults(error_rate={"POST /v1/hf/api/datasets/*/commit/*": 1.0})
    with pytest.raises(HfHubHTTPError) as hf_err:
        api.upload_file(
            path_or_fileobj=b'{"x": 1}',
            path_in_repo="extra.jsonl",
            repo_id="flaky/ds",
            repo_type="dataset",
        )
    assert hf_err.value.response.status_code == 503
    assert not api.file_exists("flaky/ds", "extra.jsonl", repo_type="dataset")

    faults()
    assert client.namespaces.retrieve("flaky").id == "flaky"


def test_dropped_connections_and_latency(nmp: NmpLocalProcess, faults: Any) -> None:
    client = sdk(nmp.base_url, max_retries=0)
    client.namespaces.create(id="drops")
    faults(drop_rate={"GET /v1/namespaces/*": 1.0})
    with pytest.raises(APIConnectionError):
        client.namespaces.retrieve("drops")

    # The request is handled but its response is lost: the namespace exists afterwards.
    faults(drop_response_rate={"POST /v1/namespaces": 1.0})
    with pytest.raises(APIConnectionError):
        client.namespaces.create(id="drops-2")
    faults()
    assert client.namespaces.retrieve("drops-2").id == "drops-2"

    faults(latency_ms={"GET /v1/namespaces/*": 300})
    started = time.monotonic()
    client.namespaces.retrieve("drops")
    assert time.monotonic() - started >= 0.3


def test_jobs_fail_at_given_percentage(nmp: NmpLocalProcess, faults: Any) -> None:
    client = sdk(nmp.base_url)
    make_dataset(nmp, "doomed", "ds", valid_files(16))
    faults(fail_jobs_at_percent=50)
    job = client.customization.jobs.create(
        config=CONFIG, dataset={"name": "ds", "namespace": "doomed"}, hyperparameters=DPO_HYPER
    )
    per_job = client.customization.jobs.create(
        config=CONFIG,
        dataset={"name": "ds", "namespace": "doomed"},
        hyperparameters=DPO_HYPER,
        custom_fields={"nmp_local_fail_at_percent": "25"},
    )
    for job_id, pct in ((job.id, 50.0), (per_job.id, 25.0)):
        assert job_id is not None
        final = wait_for(
            lambda jid=job_id: client.customization.jobs.status(jid),  # type: ignore[misc]
            lambda s: s.status in ("failed", "completed"),
        )[-1]
        assert final.status == "failed"
        assert final.percentage_done == pct
        assert "fault injection" in (final.status_logs or [])[-1].detail  # type: ignore[operator]


def test_faults_from_startup_settings(tmp_path: Any) -> None:
    """Faults set at start (passed as ``NMP_LOCAL_*`` env) apply from the first request."""
    with running_nmp_local(
        tmp_path, error_rate={"GET /v1/namespaces/*": 1.0}, error_status=502
    ) as nmp:
        assert httpx.get(f"{nmp.base_url}/health").status_code == 200  # never faulted
        assert httpx.get(f"{nmp.base_url}/v1/namespaces/x").status_code == 502
        assert httpx.get(f"{nmp.base_url}/v1/namespaces").status_code == 200
        config = httpx.get(f"{nmp.base_url}/v1/nmp-local/faults").json()
        assert config["error_rate"] == {"GET /v1/namespaces/*": 1.0}
