"""Real DPO training (TRL) inside nmp-local, driven through the strict official SDK.

nmp-local runs as a real process with ``trainer=trl``; the base model is the demo's tiny
GPT-2 (110k parameters, character tokenizer), registered through the public HTTP API.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

import httpx
from huggingface_hub import HfApi, snapshot_download
from nemo_microservices import NeMoMicroservices, UnprocessableEntityError
from nemo_microservices.types.customization import CustomizationJob, CustomizationStatusDetails
from prefstream_nmp_local.testing import NmpLocalProcess, running_nmp_local

from .conftest import jsonl, sdk
from .test_dpo_flow import wait_for

TRL_SETTINGS: dict[str, Any] = {
    "trainer": "trl",
    "training_device": "cpu",
    "tick_seconds": 0.05,
    "job_created_seconds": 0.0,
    "job_pending_seconds": 0.0,
    "startup_timeout": 60.0,
}
WORKER_START = 120.0
"""Seconds allowed for a worker's first progress: a fresh spare imports torch + trl (~14 s
alone on 2 cores, measured; more when the suite runs beside it)."""


def board_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    """Learnable pairs: the chosen move is the first empty square, the rejected one another."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        board = list("".join(rng.choice("XO.") for _ in range(9)))
        if "." not in board:
            board[rng.randrange(9)] = "."
        good = board.index(".")
        bad = rng.choice([d for d in range(9) if d != good])
        rows.append(
            {
                "prompt": f"X|{''.join(board)}|",
                "chosen_response": str(good),
                "rejected_response": str(bad),
            }
        )
    return rows


def hf_api(url: str) -> HfApi:
    return HfApi(endpoint=f"{url}/v1/hf", token=False)


def register_model(url: str, model_dir: Path, ns: str, name: str) -> str:
    """What ``add-model`` does, through the public API: repo + files, model entity, config."""
    api = hf_api(url)
    api.create_repo(repo_id=f"{ns}/{name}", repo_type="model", exist_ok=True)
    api.upload_folder(folder_path=str(model_dir), repo_id=f"{ns}/{name}", repo_type="model")
    client = sdk(url)
    artifact: Any = {"files_url": f"hf://models/{ns}/{name}", "status": "upload_completed"}
    client.models.create(name=name, namespace=ns, artifact=artifact)
    create_config(url, ns, f"{name}@local", f"{ns}/{name}", max_seq_length=64)
    return f"{ns}/{name}@local"


def create_config(url: str, ns: str, name: str, base_model: str, max_seq_length: int) -> None:
    """A DPO/all_weights config on ``base_model``, with what the strict SDK needs echoed."""
    target: Any = {
        "name": base_model.split("/")[1],
        "namespace": ns,
        "base_model": base_model,
        "model_path": base_model.split("/")[1],
        "model_uri": f"hf://models/{base_model}",
        "num_parameters": 110_000,
        "precision": "fp32",
        "enabled": True,
    }
    options: Any = [
        {
            "training_type": "dpo",
            "finetuning_type": "all_weights",
            "num_gpus": 1,
            "micro_batch_size": 1,
        }
    ]
    sdk(url).customization.configs.create(
        name=name,
        namespace=ns,
        target=target,
        training_options=options,
        max_seq_length=max_seq_length,
        training_precision="fp32",
    )


def register_dataset(url: str, ns: str, name: str, rows: list[dict[str, Any]]) -> None:
    api = hf_api(url)
    api.create_repo(repo_id=f"{ns}/{name}", repo_type="dataset", exist_ok=True)
    api.upload_file(
        path_or_fileobj=jsonl(rows),
        path_in_repo="training/training_file.jsonl",
        repo_id=f"{ns}/{name}",
        repo_type="dataset",
    )
    sdk(url).datasets.create(name=name, namespace=ns, files_url=f"hf://datasets/{ns}/{name}")


def hyper(**overrides: Any) -> Any:
    return {
        "training_type": "dpo",
        "finetuning_type": "all_weights",
        "epochs": 2,
        "batch_size": 16,
        "learning_rate": 5e-3,
        "log_every_n_steps": 2,
        "dpo": {"ref_policy_kl_penalty": 0.1},
        **overrides,
    }


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by nmp-local) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def training_job(url: str, model_dir: Path, ns: str, rows: list[Any], **overrides: Any) -> str:
    """A DPO job on ``rows`` of a fresh tiny model, once its worker has taken a step."""
    config = register_model(url, model_dir, ns, "tiny")
    register_dataset(url, ns, "boards", rows)
    client = sdk(url)
    job = client.customization.jobs.create(
        config=config,
        dataset={"name": "boards", "namespace": ns},
        hyperparameters=hyper(**overrides),
    )
    assert job.id is not None
    job_id = job.id
    wait_for(
        lambda: client.customization.jobs.status(job_id),
        lambda s: s.status == "running" and (s.steps_completed or 0) > 0,
        timeout=WORKER_START,
    )
    return job_id


def statuses_until_done(
    client: NeMoMicroservices, job: CustomizationJob, timeout: float
) -> tuple[str, list[CustomizationStatusDetails]]:
    """The created job's id and every status polled until it ended (completed, failed or
    cancelled)."""
    assert job.id is not None
    job_id = job.id
    seen = wait_for(
        lambda: client.customization.jobs.status(job_id),
        lambda s: s.status in ("completed", "failed", "cancelled"),
        timeout=timeout,
    )
    return job_id, seen


def worker_pid(url: str, job_id: str) -> int:
    logs = httpx.get(f"{url}/v1/customization/jobs/{job_id}/container-logs").json()
    pid = logs["entries"]["training"]["status"]["worker_pid"]
    assert isinstance(pid, int)
    return pid


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prefstream_demo.policy_model.architecture import save_untrained

    return save_untrained(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="module")
def trl_nmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NmpLocalProcess]:
    with running_nmp_local(tmp_path_factory.mktemp("nmp-trl"), **TRL_SETTINGS) as proc:
        yield proc


def test_real_dpo_job_trains_and_publishes_the_model(
    trl_nmp: NmpLocalProcess, tiny_model: Path, tmp_path: Path
) -> None:
    url = trl_nmp.base_url
    config = register_model(url, tiny_model, "tt", "tiny")
    register_dataset(url, "tt", "boards", board_pairs(240, seed=1))
    client = sdk(url)
    job = client.customization.jobs.create(
        config=config,
        dataset={"name": "boards", "namespace": "tt"},
        hyperparameters=hyper(),
        output_model="tt/tiny-dpo",
    )
    job_id, seen = statuses_until_done(client, job, timeout=WORKER_START + 120)
    final = seen[-1]
    assert final.status == "completed", final.status_logs
    assert {s.status for s in seen} <= {"created", "pending", "running", "completed"}
    assert final.percentage_done == 100.0
    # 216 training rows (10 % held out), batch 16: 14 steps an epoch, 2 epochs.
    assert final.steps_per_epoch == 14
    assert final.steps_completed == 28
    assert final.epochs_completed == 2
    assert final.metrics is not None
    assert final.metrics.metrics is not None
    train_loss = final.metrics.metrics.train_loss or []
    val_loss = final.metrics.metrics.val_loss or []
    assert len(train_loss) == 14  # every 2nd step
    assert len(val_loss) == 2  # once an epoch
    assert train_loss[-1].value is not None
    assert train_loss[0].value is not None
    assert train_loss[-1].value < train_loss[0].value
    assert final.best_epoch in (1, 2)
    assert final.metrics.metrics.train_accuracy  # DPO rewards/accuracies
    running = [s for s in seen if s.status == "running"]
    done = [s.percentage_done or 0.0 for s in running]
    assert done == sorted(done)

    # The output model: in the Data Store (weights through LFS) and loadable.
    folder = snapshot_download(
        "tt/tiny-dpo",
        repo_type="model",
        endpoint=f"{url}/v1/hf",
        token=False,
        local_dir=tmp_path / "out",
    )
    summary = json.loads((Path(folder) / "training_summary.json").read_text())
    assert summary["train_pairs"]["rewards/accuracies"] > 0.5
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.num_parameters() > 100_000
    assert tokenizer.chat_template
    info = hf_api(url).model_info("tt/tiny-dpo", files_metadata=True)
    weights = [f for f in info.siblings or [] if f.rfilename == "model.safetensors"]
    assert weights[0].lfs is not None

    # Lineage in the Entity Store.
    entity = client.models.retrieve("tiny-dpo", namespace="tt")
    assert entity.base_model == "tt/tiny"
    lineage: dict[str, Any] = dict(entity.custom_fields or {})
    assert lineage["customization_job_id"] == job_id
    assert lineage["trainer"] == "trl"
    assert lineage["dataset"] == "tt/boards"
    head = hf_api(url).dataset_info("tt/boards").sha
    assert lineage["dataset_revision"] == head
    assert lineage["base_model_revision"] == hf_api(url).model_info("tt/tiny").sha
    assert lineage["customization_config"] == config
    assert lineage["hyperparameters"]["learning_rate"] == 5e-3

    logs = client.customization.jobs.container_logs(job_id)
    assert logs.entries is not None
    assert "training job " + job_id in str(logs.entries["training"].logs)


def test_max_steps_inside_an_epoch_and_val_check_interval_in_real_training(
    trl_nmp: NmpLocalProcess, tiny_model: Path
) -> None:
    """The SDK options TRL honours reach it (DPOConfig takes them, TRL evaluates where they
    say), and a run cut short by max_steps claims no epoch it did not finish."""
    url = trl_nmp.base_url
    config = register_model(url, tiny_model, "tm", "tiny")
    register_dataset(url, "tm", "boards", board_pairs(200, seed=8))
    client = sdk(url)
    options = hyper(
        max_steps=8,
        val_check_interval=0.25,
        warmup_steps=2,
        weight_decay=0.01,
        seed=3,
        dpo={"ref_policy_kl_penalty": 0.1, "max_grad_norm": 0.5},
    )
    job = client.customization.jobs.create(
        config=config, dataset={"name": "boards", "namespace": "tm"}, hyperparameters=options
    )
    _, seen = statuses_until_done(client, job, timeout=WORKER_START + 60)
    final = seen[-1]
    assert final.status == "completed", final.status_logs
    # 180 training rows (10 % held out), batch 16: 12 steps an epoch; a quarter is 3 steps.
    assert (final.steps_per_epoch, final.steps_completed) == (12, 8)
    assert (final.epochs_completed, final.best_epoch) == (0, None)
    assert final.metrics is not None
    assert final.metrics.metrics is not None
    assert [p.step for p in final.metrics.metrics.val_loss or []] == [3, 6, 8]
    assert final.val_loss is not None
    messages = [log.message or "" for log in final.status_logs or []]
    assert "Validation at step 3 (epoch 0.25)" in messages
    assert "Validation at step 8 (epoch 0.667)" in messages
    assert not [m for m in messages if m.startswith("Epoch ")]


def test_cancel_stops_the_worker(trl_nmp: NmpLocalProcess, tiny_model: Path) -> None:
    url = trl_nmp.base_url
    job_id = training_job(url, tiny_model, "tc", board_pairs(240, seed=2), epochs=500)
    client = sdk(url)
    pid = worker_pid(url, job_id)
    assert pid_alive(pid)
    cancelled = client.customization.jobs.cancel(job_id)
    assert cancelled.status == "cancelled"
    wait_for(lambda: pid_alive(pid), lambda alive: not alive, timeout=15)
    status = client.customization.jobs.status(job_id)
    assert status.status == "cancelled"
    assert (status.percentage_done or 0) < 100
    with pytest.raises(Exception, match="409"):
        client.customization.jobs.cancel(job_id)


def test_kill_nine_mid_job_resumes_from_checkpoint(tmp_path: Path, tiny_model: Path) -> None:
    # 108 training rows, batch 16: 7 steps an epoch, 14 in all; checkpoints every 4 steps
    # (a save took 0.2-5 s on the loaded 2-core CI machine, so few keep the test short).
    settings = {**TRL_SETTINGS, "checkpoint_every_steps": 4}
    with running_nmp_local(tmp_path / "state", **settings) as nmp:
        url = nmp.base_url
        config = register_model(url, tiny_model, "tk", "tiny")
        register_dataset(url, "tk", "boards", board_pairs(120, seed=3))
        client = sdk(url)
        job = client.customization.jobs.create(
            config=config,
            dataset={"name": "boards", "namespace": "tk"},
            hyperparameters=hyper(epochs=2),
        )
        assert job.id is not None
        job_id = job.id
        wait_for(
            lambda: client.customization.jobs.status(job_id),
            lambda s: s.status == "running" and (s.steps_completed or 0) > 4,
            timeout=WORKER_START,
        )
        pid = worker_pid(url, job_id)
        nmp.kill()
        wait_for(lambda: pid_alive(pid), lambda alive: not alive, timeout=10)  # PDEATHSIG

        nmp.start()  # recovery runs before the server answers
        after = client.customization.jobs.status(job_id)
        assert after.status == "running"
        resumed = [log for log in after.status_logs or [] if log.message == "resumed"]
        assert "resuming from checkpoint-" in (resumed[0].detail or "")
        assert (after.steps_completed or 0) >= 4  # the checkpoint's step, not 0
        final = wait_for(
            lambda: client.customization.jobs.status(job_id),
            lambda s: s.status != "running",
            timeout=WORKER_START + 120,
        )[-1]
        assert final.status == "completed", final.status_logs
        assert final.steps_completed == 2 * 7
        assert client.models.retrieve(f"tiny@{job_id}", namespace="tk").base_model == "tk/tiny"


def test_kill_nine_before_any_checkpoint_fails_with_a_reason(
    tmp_path: Path, tiny_model: Path
) -> None:
    settings = {**TRL_SETTINGS, "checkpoint_every_steps": 10_000}
    with running_nmp_local(tmp_path / "state", **settings) as nmp:
        url = nmp.base_url
        job_id = training_job(url, tiny_model, "tf", board_pairs(240, seed=4), epochs=500)
        client = sdk(url)
        nmp.kill()
        nmp.start()
        status = client.customization.jobs.status(job_id)
        assert status.status == "failed"
        last = (status.status_logs or [])[-1]
        assert "no checkpoint had been saved" in (last.detail or "")


def test_weightless_base_model_is_refused(trl_nmp: NmpLocalProcess) -> None:
    url = trl_nmp.base_url
    register_dataset(url, "tw", "boards", board_pairs(20, seed=5))
    client: NeMoMicroservices = sdk(url)
    with pytest.raises(UnprocessableEntityError) as err:
        client.customization.jobs.create(
            config="meta/llama-3.2-1b-instruct@v1.0.0+A100",
            dataset={"name": "boards", "namespace": "tw"},
            hyperparameters=hyper(),
        )
    assert "prefstream nmp-local add-model DIR --name NS/NAME" in str(err.value.body)
    assert "meta/llama-3.2-1b-instruct" in str(err.value.body)


def test_unhonourable_hyperparameters_are_refused(
    trl_nmp: NmpLocalProcess, tiny_model: Path
) -> None:
    url = trl_nmp.base_url
    config = register_model(url, tiny_model, "th", "tiny")
    register_dataset(url, "th", "boards", board_pairs(20, seed=6))
    client = sdk(url)
    bad = hyper(optimizer="adamw_with_cosine_annealing", dpo={"surprise_knob": 3})
    with pytest.raises(UnprocessableEntityError) as err:
        client.customization.jobs.create(
            config=config, dataset={"name": "boards", "namespace": "th"}, hyperparameters=bad
        )
    detail = str(err.value.body)
    assert "hyperparameters.optimizer" in detail
    assert "hyperparameters.dpo.surprise_knob" in detail
    jobs = client.customization.jobs.list(page_size=1000).data
    assert [j for j in jobs if getattr(j.dataset, "namespace", None) == "th"] == []


def test_a_failing_worker_fails_the_job_with_its_error(
    trl_nmp: NmpLocalProcess, tiny_model: Path
) -> None:
    """max_seq_length smaller than every prompt: TRL drops all rows and raises; we report it."""
    url = trl_nmp.base_url
    register_model(url, tiny_model, "tx", "tiny")
    register_dataset(url, "tx", "boards", board_pairs(20, seed=7))
    client = sdk(url)
    create_config(url, "tx", "tiny@short", "tx/tiny", max_seq_length=1)
    job = client.customization.jobs.create(
        config="tx/tiny@short",
        dataset={"name": "boards", "namespace": "tx"},
        hyperparameters=hyper(),
    )
    assert job.id is not None
    job_id = job.id
    start = time.monotonic()
    final = wait_for(
        lambda: client.customization.jobs.status(job_id),
        lambda s: s.status in ("completed", "failed"),
        timeout=WORKER_START,
    )[-1]
    assert time.monotonic() - start < WORKER_START
    assert final.status == "failed"
    assert "training failed" in ((final.status_logs or [])[-1].detail or "")
