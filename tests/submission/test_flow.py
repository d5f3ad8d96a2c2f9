"""The per-dataset flow against an in-memory platform: steps, events, crash recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prefstream_config import NIMDeploymentConfig
from prefstream_events import DatasetReady, JobStatus
from prefstream_nemo.errors import Permanent, Transient
from prefstream_nemo.models import RemoteFile
from prefstream_stores.ledger import Ledger
from prefstream_submission import flow as flow_module
from prefstream_submission.dataset_files import dataset_from_directory, file_hashes
from prefstream_submission.flow import CRASH_POINTS, FlowHooks, FlowSettings, SubmissionFlow
from prefstream_submission.job_events import Emitter
from prefstream_submission.model import Step, Submission

from tests.support.fake_nemo import LOSE, FakePlatform, ListSink, no_sleep, write_dataset

NS = "team"
HYPER = {
    "training_type": "dpo",
    "finetuning_type": "all_weights",
    "epochs": 3,
    "batch_size": 4,
    "learning_rate": 5e-5,
    "dpo": {
        "ref_policy_kl_penalty": 0.1,
        "preference_loss_weight": 1.0,
        "preference_average_log_probs": False,
        "sft_loss_weight": 0.0,
    },
}


def settings(**overrides: Any) -> FlowSettings:
    base: dict[str, Any] = {
        "namespace": NS,
        "customization_config": "meta/llama-3.2-1b-instruct@v1.0.0+A100",
        "hyperparameters": HYPER,
        "poll_interval_seconds": 0.01,
        "step_retry_seconds": 0.01,
    }
    return FlowSettings(**{**base, **overrides})


class Harness:
    def __init__(self, tmp_path: Path, dataset: DatasetReady, **flow_settings: Any) -> None:
        self.platform = FakePlatform()
        self.sink = ListSink()
        self.ledger = Ledger(tmp_path / "ledger.duckdb")
        self.settings = settings(**flow_settings)
        self.progress: list[str] = []
        self.latencies: list[float] = []
        added = self.ledger.add(dataset)
        assert added is not None
        self.dataset_id = dataset.dataset_id

    def reload(self) -> Submission:
        sub = self.ledger.get(self.dataset_id)
        assert sub is not None
        return sub

    async def run(self, *, resumed: bool = False) -> Submission:
        hooks = FlowHooks(
            progress=lambda sub, text: self.progress.append(text),
            job_created=lambda sub, latency: self.latencies.append(latency),
        )
        flow = SubmissionFlow(
            self.reload(),
            platform=self.platform,
            emitter=Emitter(self.ledger, self.sink, namespace=NS),
            settings=self.settings,
            resumed=resumed,
            hooks=hooks,
            sleep=no_sleep,
        )
        return await flow.run()

    def statuses(self) -> list[str]:
        return [e.status.value for e in self.sink.events]


@pytest.fixture
def dataset(tmp_path: Path) -> DatasetReady:
    return dataset_from_directory(write_dataset(tmp_path / "dpo-1"))


async def test_happy_path_steps_and_events(tmp_path: Path, dataset: DatasetReady) -> None:
    h = Harness(tmp_path, dataset)
    sub = await h.run()

    assert sub.closed
    assert sub.step is Step.DONE
    assert sub.status is JobStatus.COMPLETED
    assert h.statuses() == ["submitting", "created", "pending", "running", "completed"]
    assert [e.seq for e in h.sink.events] == [1, 2, 3, 4, 5]
    last = h.sink.events[-1]
    assert (last.train_loss, last.val_loss, last.percentage_done) == (0.4, 0.5, 100.0)
    assert last.job_id == sub.job_id
    assert last.output_model == f"{NS}/dpo-1-dpo"
    assert last.job_key == dataset.dataset_id
    assert last.namespace == NS

    (body,) = h.platform.job_bodies
    assert body["hyperparameters"] == HYPER
    assert body["dataset"] == {"name": "dpo-1", "namespace": NS}
    assert body["output_model"] == f"{NS}/dpo-1-dpo"
    assert body["config"] == "meta/llama-3.2-1b-instruct@v1.0.0+A100"
    assert h.platform.commits == [
        (f"{NS}/dpo-1", ["training/training_file.jsonl", "validation/validation_file.jsonl"])
    ]
    assert h.platform.datasets[f"{NS}/dpo-1"]["files_url"] == f"hf://datasets/{NS}/dpo-1"
    steps = [step for step, _, _ in h.ledger.history(dataset.dataset_id)]
    for step in ("repo_created", "uploaded", "registered", "job_requested", "job_created"):
        assert step in steps
    assert steps[-1] == "done"
    assert len(h.latencies) == 1


@pytest.mark.parametrize("point", sorted(CRASH_POINTS))
async def test_crash_at_each_step_then_resume_makes_exactly_one_of_everything(
    tmp_path: Path, dataset: DatasetReady, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crash(BaseException):
        pass

    def crash(name: str) -> None:
        if name == point:
            raise Crash(name)

    h = Harness(tmp_path, dataset)
    monkeypatch.setattr(flow_module, "crash_point", crash)
    with pytest.raises(Crash):
        await h.run()
    monkeypatch.setattr(flow_module, "crash_point", lambda name: None)

    sub = await h.run(resumed=True)

    assert sub.status is JobStatus.COMPLETED
    assert sub.closed
    assert len(h.platform.jobs) == 1
    assert len(h.platform.datasets) == 1
    assert len(h.platform.commits) == 1
    assert h.sink.events[-1].status is JobStatus.COMPLETED
    seqs = [e.seq for e in h.sink.events]
    assert seqs == sorted(set(seqs)), "seq must stay monotonic across the restart"


async def test_lost_job_create_response_is_looked_up_not_retried(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(tmp_path, dataset)
    h.platform.fail("create_job", LOSE)
    h.platform.fail("create_dataset", LOSE)
    h.platform.fail("commit", LOSE)

    sub = await h.run()

    assert sub.status is JobStatus.COMPLETED
    assert len(h.platform.jobs) == 1
    assert len(h.platform.job_bodies) == 1
    assert len(h.platform.commits) == 1
    assert len(h.platform.datasets) == 1
    create = h.platform.calls.index("create_job")
    assert h.platform.calls[create + 1] == "find_job"


async def test_outage_longer_than_client_retries_waits_and_resumes(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(tmp_path, dataset)
    h.platform.fail("find_job", *[Transient("503")] * 3)
    h.platform.fail("create_job", *[Transient("503")] * 6)

    sub = await h.run()

    assert sub.status is JobStatus.COMPLETED
    assert len(h.platform.job_bodies) == 1
    assert any("create job: NeMo platform unavailable" in p for p in h.progress)


async def test_invalid_row_fails_with_file_and_line_before_any_remote_call(
    tmp_path: Path,
) -> None:
    directory = write_dataset(tmp_path / "bad", rows=10)
    dataset = dataset_from_directory(directory)
    (directory / "training" / "training_file.jsonl").write_text(
        '{"prompt": "q", "chosen_response": "a", "rejected_response": "b"}\n'
        '{"prompt": "q", "chosen_response": "a"}\n'
    )
    h = Harness(tmp_path, dataset)

    sub = await h.run()

    assert sub.status is JobStatus.FAILED
    assert sub.error is not None
    assert "changed after the dataset was cut" in sub.error
    assert h.platform.calls == []


async def test_invalid_rows_of_an_unchanged_file_name_the_line(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "bad", rows=10)
    dataset = dataset_from_directory(directory)
    train = directory / "training" / "training_file.jsonl"
    train.write_text(train.read_text() + '{"prompt": 3, "chosen_response": "a"}\n')
    size, sha, _ = file_hashes(train)
    dataset = dataset.model_copy(
        update={"training": dataset.training.model_copy(update={"sha256": sha, "bytes": size})}
    )
    h = Harness(tmp_path, dataset)

    sub = await h.run()

    assert sub.status is JobStatus.FAILED
    assert sub.error == (
        "training/training_file.jsonl line 9: prompt: expected a string or a list of "
        "messages, got int"
    )
    assert h.sink.events[-1].error == sub.error
    assert h.platform.calls == []


async def test_failed_job_carries_platform_error_text(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(tmp_path, dataset)
    h.platform.script = [
        {"status": "running", "percentage_done": 10.0},
        {
            "status": "failed",
            "percentage_done": 40.0,
            "status_logs": [
                {"message": "running", "detail": "Training started"},
                {"message": "failed", "detail": "CUDA out of memory at step 3"},
            ],
        },
    ]

    sub = await h.run()

    assert sub.status is JobStatus.FAILED
    assert h.sink.events[-1].error == "failed: CUDA out of memory at step 3"
    assert h.sink.events[-1].percentage_done == 40.0


async def test_absent_percentage_done_is_fine(tmp_path: Path, dataset: DatasetReady) -> None:
    h = Harness(tmp_path, dataset)
    h.platform.script = [{"status": "created"}, {"status": "pending"}, {"status": "completed"}]

    sub = await h.run()

    assert sub.status is JobStatus.COMPLETED
    assert all(e.percentage_done is None for e in h.sink.events)


async def test_unreadable_status_becomes_unknown_then_recovers(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(tmp_path, dataset, max_consecutive_status_failures=2)
    h.platform.policy = h.platform.policy.__class__(attempts=1, max_seconds=0)
    h.platform.fail("job_status", Transient("503 a"), Transient("503 b"))

    sub = await h.run()

    assert sub.status is JobStatus.COMPLETED
    unknown = [e for e in h.sink.events if e.status is JobStatus.UNKNOWN]
    assert len(unknown) == 1
    assert unknown[0].error is not None
    assert "503 b" in unknown[0].error
    assert h.sink.events[-1].error is None


async def test_job_deadline_fails_and_cancels(tmp_path: Path, dataset: DatasetReady) -> None:
    h = Harness(tmp_path, dataset, job_timeout_seconds=0.2)
    h.platform.script = [{"status": "running", "percentage_done": 1.0}]
    h.settings = settings(job_timeout_seconds=0.2, poll_interval_seconds=0.05)

    flow = SubmissionFlow(
        h.reload(),
        platform=h.platform,
        emitter=Emitter(h.ledger, h.sink, namespace=NS),
        settings=h.settings,
        resumed=False,
        sleep=asyncio.sleep,
    )
    sub = await flow.run()

    assert sub.status is JobStatus.FAILED
    assert sub.error is not None
    assert "job_timeout_seconds=0.2" in sub.error
    assert h.platform.cancelled == [sub.job_id]


async def test_deploy_on_completion_waits_for_ready(tmp_path: Path, dataset: DatasetReady) -> None:
    h = Harness(tmp_path, dataset, deploy_on_completion=True)

    sub = await h.run()

    assert sub.status is JobStatus.COMPLETED
    assert sub.step is Step.DONE
    deployments = [e.deployment.status for e in h.sink.events if e.deployment is not None]
    assert deployments == ["requested", "pending", "ready"]
    (config,) = h.platform.deploy_configs.values()
    assert config["model"] == sub.output_model
    assert config["nim_deployment"] == {
        "image_name": "nvcr.io/nim/meta/llama-3.1-8b-instruct",
        "image_tag": "latest",
        "gpu": 1,
    }
    assert h.sink.events[-1].deployment is not None
    assert h.sink.events[-1].deployment.url == f"http://nim/{NS}/dpo-1-deploy"


async def test_deploy_failure_keeps_completed_and_reports(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(
        tmp_path,
        dataset,
        deploy_on_completion=True,
        deployment=NIMDeploymentConfig(deployment_name="shared"),
    )
    h.platform.deployment_script = ["pending", "failed"]

    sub = await h.run()

    last = h.sink.events[-1]
    assert sub.closed
    assert last.status is JobStatus.COMPLETED
    assert last.deployment is not None
    assert last.deployment.status == "failed"
    assert last.error is not None
    assert "deployment team/shared failed" in last.error


async def test_repo_with_other_files_is_never_overwritten(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(tmp_path, dataset)
    h.platform.repos[f"{NS}/dpo-1"] = {
        "training/training_file.jsonl": RemoteFile("training/training_file.jsonl", "0" * 40, 3)
    }

    sub = await h.run()

    assert sub.status is JobStatus.FAILED
    assert sub.error is not None
    assert "already holds a different training" in sub.error
    assert h.platform.commits == []
    assert h.platform.jobs == {}


async def test_job_of_another_dataset_with_same_output_model_is_a_conflict(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(tmp_path, dataset)
    h.platform.jobs["cust-old"] = {
        "id": "cust-old",
        "namespace": NS,
        "output_model": f"{NS}/dpo-1-dpo",
        "status": "completed",
        "dataset": {"name": "dpo-1", "namespace": NS},
        "custom_fields": {"prefstream_dataset_id": "someone-else"},
    }
    h.platform.fail("create_job", Permanent("never called"))

    sub = await h.run(resumed=True)

    assert sub.status is JobStatus.FAILED
    assert sub.error is not None
    assert "already written by job cust-old" in sub.error


async def test_event_lost_between_ledger_and_broker_is_republished_with_same_seq(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    h = Harness(tmp_path, dataset)
    h.sink.fail_next = ConnectionError("broker down")
    with pytest.raises(ConnectionError):
        await h.run()
    stored = h.reload()
    assert stored.seq == 1
    assert stored.published_seq == 0

    await h.run(resumed=True)

    assert h.sink.events[0].seq == 1
    assert h.sink.events[0].status is JobStatus.SUBMITTING
    assert [e.seq for e in h.sink.events] == list(range(1, len(h.sink.events) + 1))
