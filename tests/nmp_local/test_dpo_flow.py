"""The whole DPO flow through the official clients against a running nmp-local.

``nemo-microservices`` runs with ``_strict_response_validation=True`` so every response is
checked against the SDK's schemas; ``huggingface_hub.HfApi`` runs with Xet disabled so the
large file goes through git-LFS.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from nemo_microservices import ConflictError, NotFoundError
from prefstream_nmp_local.testing import NmpLocalProcess

from .conftest import CONFIG, DPO_HYPER, NIM, dpo_rows, hf, hyper, jsonl, sdk, write

T = TypeVar("T")
pytestmark = pytest.mark.filterwarnings("ignore:Use .content=<...>.:DeprecationWarning")


def wait_for(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 20.0) -> list[T]:
    """Poll ``fetch`` until ``done``; returns every observation (for progress checks)."""
    seen: list[T] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(fetch())
        if done(seen[-1]):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"condition not reached in {timeout}s; last: {seen[-1] if seen else None}")


def test_full_dpo_flow(nmp: NmpLocalProcess, tmp_path: Path) -> None:
    client = sdk(nmp.base_url)
    api = hf(nmp.base_url)
    ns, name = "team-a", "dpo-run-1"
    repo_id = f"{ns}/{name}"

    # Namespaces in the Entity Store and (form-encoded) in the Data Store.
    created = client.namespaces.create(id=ns, description="prefstream test namespace")
    assert created.id == ns
    assert created.created_at is not None
    assert client.namespaces.retrieve(ns).description == "prefstream test namespace"
    resp = httpx.post(f"{nmp.base_url}/v1/datastore/namespaces", data={"namespace": ns})
    assert resp.status_code == 201

    # Dataset repo; exist_ok=True on an existing repo must still succeed.
    url = api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    assert (url.repo_id, url.repo_type) == (repo_id, "dataset")
    assert api.create_repo(repo_id, repo_type="dataset", exist_ok=True).repo_id == repo_id

    # Both JSONL files in one commit.
    train, val = dpo_rows(24, "train"), dpo_rows(6, "val")
    commit = api.create_commit(
        repo_id,
        repo_type="dataset",
        operations=[
            CommitOperationAdd("training/training_file.jsonl", jsonl(train)),
            CommitOperationAdd("validation/validation_file.jsonl", jsonl(val)),
        ],
        commit_message="DPO dataset",
    )
    assert sorted(api.list_repo_files(repo_id, repo_type="dataset")) == [
        "training/training_file.jsonl",
        "validation/validation_file.jsonl",
    ]
    info = api.dataset_info(repo_id)
    assert info.sha == commit.oid
    assert info.last_modified is not None
    assert info.last_modified.tzinfo is not None

    # An unchanged re-upload (the peer's upload_file path) is a no-op: same head commit.
    again = api.upload_file(
        path_or_fileobj=jsonl(train),
        path_in_repo="training/training_file.jsonl",
        repo_id=repo_id,
        repo_type="dataset",
    )
    assert again.oid == commit.oid
    local = api.hf_hub_download(
        repo_id, "training/training_file.jsonl", repo_type="dataset", cache_dir=tmp_path / "c1"
    )
    assert Path(local).read_bytes() == jsonl(train)

    # A > 10 MB file goes through git-LFS (batch → PUT → verify → lfsFile commit).
    big = random.Random(7).randbytes(10 * 1024 * 1024 + 512 * 1024)
    big_path = write(tmp_path, "big.bin", big)
    lfs_commit = api.upload_file(
        path_or_fileobj=str(big_path),
        path_in_repo="extra/big.bin",
        repo_id=repo_id,
        repo_type="dataset",
    )
    tree = {f.path: f for f in api.list_repo_tree(repo_id, repo_type="dataset", recursive=True)}
    big_entry: Any = tree["extra/big.bin"]
    assert big_entry.lfs is not None
    assert big_entry.lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert big_entry.lfs.size == len(big)
    assert getattr(tree["training/training_file.jsonl"], "lfs", None) is None
    assert (
        api.upload_file(
            path_or_fileobj=str(big_path),
            path_in_repo="extra/big.bin",
            repo_id=repo_id,
            repo_type="dataset",
        ).oid
        == lfs_commit.oid
    )
    local_big = api.hf_hub_download(
        repo_id, "extra/big.bin", repo_type="dataset", cache_dir=tmp_path / "c2"
    )
    assert hashlib.sha256(Path(local_big).read_bytes()).hexdigest() == big_entry.lfs.sha256

    # Dataset registration.
    ds = client.datasets.create(
        name=name, namespace=ns, files_url=f"hf://datasets/{repo_id}", description="DPO pairs"
    )
    assert ds.id is not None
    assert ds.id.startswith("dataset-")
    assert [d.name for d in client.datasets.list(filter={"namespace": ns})] == [name]

    # Config listing with auto-pagination (page_size 2 → several pages, then an empty one).
    configs = list(client.customization.configs.list(page_size=2, filter={"training_type": "dpo"}))
    names = [f"{c.namespace}/{c.name}" for c in configs]
    assert CONFIG in names
    assert "meta/llama-3.3-70b-instruct@v1.0.0+A100" not in names  # SFT-only
    assert len(configs) > 2
    assert len(set(names)) == len(names)
    first = client.customization.configs.list(page_size=2, filter={"training_type": "dpo"})
    assert first.pagination is not None
    assert first.pagination.total_results == len(configs)
    cfg = client.customization.configs.retrieve(
        "llama-3.2-1b-instruct@v1.0.0+A100", namespace="meta"
    )
    assert any(o.training_type == "dpo" for o in cfg.training_options)

    # Job with an explicit output_model, polled to completion.
    job = client.customization.jobs.create(
        config=CONFIG,
        dataset={"name": name, "namespace": ns},
        hyperparameters=DPO_HYPER,
        output_model=f"{ns}/policy-v1",
    )
    assert job.id is not None
    assert job.id.startswith("cust-")
    assert job.output_model == f"{ns}/policy-v1"
    assert job.status == "created"
    job_id = job.id
    seen = wait_for(
        lambda: client.customization.jobs.status(job_id), lambda s: s.status == "completed"
    )
    statuses = [s.status for s in seen]
    assert "running" in statuses
    pct = [s.percentage_done for s in seen]
    assert all(p is not None for p in pct)
    assert pct == sorted(pct)  # type: ignore[type-var]
    final = seen[-1]
    steps_per_epoch = math.ceil(len(train) / DPO_HYPER["batch_size"])
    assert final.percentage_done == 100.0
    assert final.epochs_completed == DPO_HYPER["epochs"]
    assert final.steps_per_epoch == steps_per_epoch
    assert final.steps_completed == DPO_HYPER["epochs"] * steps_per_epoch
    assert final.train_loss is not None
    assert final.val_loss is not None
    assert 0 < final.train_loss < math.log(2)
    assert final.metrics is not None
    assert final.metrics.metrics is not None
    curve = [m.value for m in final.metrics.metrics.train_loss or []]
    assert len(curve) == final.steps_completed
    assert curve[0] is not None
    assert curve[-1] is not None
    assert curve[-1] < curve[0]
    messages = [log.message for log in final.status_logs or []]
    for phase in ("created", "pending", "running", "completed"):
        assert phase in messages
    full = client.customization.jobs.retrieve(job_id)
    assert full.status == "completed"
    assert full.status_details is not None
    assert full.status_details.percentage_done == 100.0

    # The output model is registered in the Entity Store.
    model = client.models.retrieve("policy-v1", namespace=ns)
    assert model.base_model == "meta/llama-3.2-1b-instruct"
    listed = client.customization.jobs.list(filter={"status": "completed", "dataset": repo_id})
    assert job_id in [j.id for j in listed.data]

    # Another job (server-generated output_model), cancelled while it runs.
    other = client.customization.jobs.create(
        config=CONFIG,
        dataset={"name": name, "namespace": ns},
        hyperparameters=hyper(epochs=50),
    )
    assert other.id is not None
    assert other.output_model == f"{ns}/llama-3.2-1b-instruct@{other.id}"
    cancelled = client.customization.jobs.cancel(other.id)
    assert cancelled.status == "cancelled"
    status = client.customization.jobs.status(other.id)
    assert status.status == "cancelled"
    assert status.percentage_done is not None
    assert status.percentage_done < 100.0
    with pytest.raises(ConflictError):
        client.customization.jobs.cancel(other.id)
    cancelled_ids = [
        j.id for j in client.customization.jobs.list(filter={"status": "cancelled"}).data
    ]
    assert cancelled_ids == [other.id]

    # Deployment of the trained model, to ready.
    client.deployment.configs.create(
        name="policy-v1-cfg",
        namespace=ns,
        model=f"{ns}/policy-v1",
        nim_deployment=NIM,
    )
    dep = client.deployment.model_deployments.create(
        name="policy-v1", namespace=ns, config=f"{ns}/policy-v1-cfg"
    )
    assert dep.status_details.status in ("pending", "ready")
    ready = wait_for(
        lambda: client.deployment.model_deployments.retrieve("policy-v1", namespace=ns),
        lambda d: d.status_details.status == "ready",
    )[-1]
    assert ready.deployed is True
    assert ready.models == [f"{ns}/policy-v1"]
    assert any(d.name == "policy-v1" for d in client.deployment.model_deployments.list().data)

    # Deletion.
    client.deployment.model_deployments.delete("policy-v1", namespace=ns)
    with pytest.raises(NotFoundError):
        client.deployment.model_deployments.retrieve("policy-v1", namespace=ns)
    client.deployment.configs.delete("policy-v1-cfg", namespace=ns)
    deleted = client.datasets.delete(name, namespace=ns)
    assert deleted.id == ds.id
    with pytest.raises(NotFoundError):
        client.datasets.retrieve(name, namespace=ns)
    client.models.delete("policy-v1", namespace=ns)
    api.delete_repo(repo_id, repo_type="dataset")
    assert not api.repo_exists(repo_id, repo_type="dataset")
