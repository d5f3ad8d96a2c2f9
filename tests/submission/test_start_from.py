"""``retraining.start_from``: a job trains the base model (default) or the model promoted
last, through a customization config made for it; the choice is recorded and survives a
crash; one config per promoted model."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from prefstream_events import DatasetReady, JobStatus
from prefstream_nemo.errors import Exists
from prefstream_stores.ledger import Ledger
from prefstream_submission import flow as flow_module
from prefstream_submission.dataset_files import dataset_from_directory
from prefstream_submission.flow import RETRAINING_CRASH_POINTS, FlowSettings, SubmissionFlow
from prefstream_submission.job_events import Emitter
from prefstream_submission.model import Submission
from prefstream_submission.start_model import Retraining, config_name_for

from tests.support.fake_nemo import LOSE, FakePlatform, ListSink, no_sleep, write_dataset

NS = "team"
SOURCE = "meta/llama-3.2-1b-instruct@v1.0.0+A100"
HYPER = {"training_type": "dpo", "finetuning_type": "all_weights", "epochs": 1}
SOURCE_BODY: dict[str, Any] = {
    "id": "customization-config-1",
    "name": "llama-3.2-1b-instruct@v1.0.0+A100",
    "namespace": "meta",
    "description": "preloaded",
    "target": {
        "name": "llama-3.2-1b-instruct@2.0",
        "namespace": "meta",
        "base_model": "meta/llama-3.2-1b-instruct",
        "model_uri": "ngc://nvidia/nemo/llama-3_2-1b-instruct:2.0",
        "model_path": "llama-3_2-1b-instruct_2_0",
        "model_type": "hf",
        "num_parameters": 1_235_814_400,
        "precision": "bf16-mixed",
        "enabled": True,
        "status": "ready",
    },
    "training_options": [{"training_type": "dpo", "finetuning_type": "all_weights"}],
    "training_precision": "bf16-mixed",
    "max_seq_length": 4096,
    "prompt_template": "{prompt} {completion}",
    "created_at": "2026-01-01T00:00:00Z",
}


class FakeConfigs(FakePlatform):
    """The in-memory platform plus Customizer's customization configs."""

    def __init__(self) -> None:
        super().__init__()
        self.configs: dict[str, dict[str, Any]] = {f"meta/{SOURCE_BODY['name']}": SOURCE_BODY}
        self.created_configs: list[dict[str, Any]] = []

    async def get_customization_config(self, namespace: str, name: str) -> dict[str, Any] | None:
        await self._enter("get_customization_config")
        found = self.configs.get(f"{namespace}/{name}")
        return copy.deepcopy(found) if found is not None else None

    async def create_customization_config(self, body: dict[str, Any]) -> dict[str, Any]:
        outcome = await self._enter("create_customization_config")
        key = f"{body['namespace']}/{body['name']}"
        if key in self.configs:
            raise Exists(f"customization config {key} exists", status=409)
        self.configs[key] = {**body, "id": f"customization-config-{len(self.configs) + 1}"}
        self.created_configs.append(body)
        self._lost("create_customization_config", outcome)
        return self.configs[key]


class Promoted:
    def __init__(self, model: str | None = None) -> None:
        self.model = model
        self.asked = 0

    async def latest_promoted(self) -> str | None:
        self.asked += 1
        return self.model


class Harness:
    def __init__(self, tmp_path: Path, *, start_from: str, promoted: str | None = None) -> None:
        self.tmp_path = tmp_path
        self.platform = FakeConfigs()
        self.promoted = Promoted(promoted)
        self.sink = ListSink()
        self.ledger = Ledger(tmp_path / "ledger.duckdb")
        self.settings = FlowSettings(
            namespace=NS,
            customization_config=SOURCE,
            hyperparameters=HYPER,
            poll_interval_seconds=0.01,
            step_retry_seconds=0.01,
            start_from=start_from,  # type: ignore[arg-type]
        )
        self.retraining: Retraining | None = Retraining(
            configs=self.platform, promoted=self.promoted
        )

    def add(self, name: str) -> DatasetReady:
        dataset = dataset_from_directory(write_dataset(self.tmp_path / name))
        assert self.ledger.add(dataset) is not None
        return dataset

    async def run(self, dataset: DatasetReady, *, resumed: bool = False) -> Submission:
        sub = self.ledger.get(dataset.dataset_id)
        assert sub is not None
        return await SubmissionFlow(
            sub,
            platform=self.platform,
            emitter=Emitter(self.ledger, self.sink, namespace=NS),
            settings=self.settings,
            resumed=resumed,
            sleep=no_sleep,
            retraining=self.retraining,
        ).run()

    def events(self, dataset: DatasetReady) -> list[Any]:
        return [e for e in self.sink.events if e.job_key == dataset.dataset_id]


PROMOTED = "team/dpo-0-dpo"
PROMOTED_CONFIG = f"{NS}/start-from-team-dpo-0-dpo"


async def test_base_is_todays_behaviour_and_says_which_config(tmp_path: Path) -> None:
    h = Harness(tmp_path, start_from="base", promoted=PROMOTED)
    dataset = h.add("dpo-1")
    sub = await h.run(dataset)
    assert sub.status is JobStatus.COMPLETED
    assert [e.status.value for e in h.events(dataset)] == [
        "submitting",
        "created",
        "pending",
        "running",
        "completed",
    ]
    (body,) = h.platform.job_bodies
    assert body["config"] == SOURCE
    assert h.promoted.asked == 0
    assert "get_customization_config" not in h.platform.calls
    last = h.events(dataset)[-1]
    assert (last.customization_config, last.start_model) == (SOURCE, None)


async def test_latest_without_a_promoted_model_trains_the_base_model(tmp_path: Path) -> None:
    h = Harness(tmp_path, start_from="latest", promoted=None)
    dataset = h.add("dpo-1")
    sub = await h.run(dataset)
    assert sub.status is JobStatus.COMPLETED
    (body,) = h.platform.job_bodies
    assert body["config"] == SOURCE
    assert h.platform.created_configs == []
    chosen = h.events(dataset)[1]  # the choice, recorded before the job exists
    assert chosen.status is JobStatus.SUBMITTING
    assert (chosen.customization_config, chosen.start_model) == (SOURCE, None)


async def test_latest_trains_the_promoted_model_through_a_config_made_for_it(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, start_from="latest", promoted=PROMOTED)
    dataset = h.add("dpo-1")
    sub = await h.run(dataset)
    assert sub.status is JobStatus.COMPLETED

    assert config_name_for(PROMOTED) == "start-from-team-dpo-0-dpo"
    (created,) = h.platform.created_configs
    assert (created["namespace"], created["name"]) == (NS, "start-from-team-dpo-0-dpo")
    assert created["target"]["base_model"] == PROMOTED
    assert created["target"]["num_parameters"] == 1_235_814_400
    assert "model_uri" not in created["target"]  # the base model's weights, not ours
    for key in ("training_options", "training_precision", "max_seq_length", "prompt_template"):
        assert created[key] == SOURCE_BODY[key]
    assert created["custom_fields"]["prefstream_start_model"] == PROMOTED
    (body,) = h.platform.job_bodies
    assert body["config"] == PROMOTED_CONFIG
    events = h.events(dataset)
    assert [e.status.value for e in events][:3] == ["submitting", "submitting", "created"]
    assert all(
        (e.customization_config, e.start_model) == (PROMOTED_CONFIG, PROMOTED) for e in events[1:]
    )
    # the choice came before any config call: the intent is written first
    history = [detail or "" for _, _, detail in h.ledger.history(dataset.dataset_id)]
    chose = next(i for i, d in enumerate(history) if d.startswith("starting from team/dpo-0"))
    made = next(i for i, d in enumerate(history) if d.startswith("creating job"))
    assert chose < made


async def test_one_config_per_promoted_model_and_a_new_one_when_it_changes(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, start_from="latest", promoted=PROMOTED)
    first, second, third = h.add("dpo-1"), h.add("dpo-2"), h.add("dpo-3")
    await h.run(first)
    await h.run(second)
    h.promoted.model = "team/dpo-2-dpo"
    await h.run(third)
    assert [c["target"]["base_model"] for c in h.platform.created_configs] == [
        PROMOTED,
        "team/dpo-2-dpo",
    ]
    assert [b["config"] for b in h.platform.job_bodies] == [
        PROMOTED_CONFIG,
        PROMOTED_CONFIG,
        f"{NS}/start-from-team-dpo-2-dpo",
    ]


@pytest.mark.parametrize("point", sorted(RETRAINING_CRASH_POINTS | {"after_job_create"}))
async def test_a_crash_keeps_the_recorded_choice_and_makes_one_config(
    tmp_path: Path, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crash(BaseException):
        pass

    def crash(name: str) -> None:
        if name == point:
            raise Crash(name)

    h = Harness(tmp_path, start_from="latest", promoted=PROMOTED)
    dataset = h.add("dpo-1")
    monkeypatch.setattr(flow_module, "crash_point", crash)
    with pytest.raises(Crash):
        await h.run(dataset)
    monkeypatch.setattr(flow_module, "crash_point", lambda name: None)
    h.promoted.model = "team/newer-dpo"  # promoted while we were down

    sub = await h.run(dataset, resumed=True)

    assert sub.status is JobStatus.COMPLETED
    assert h.promoted.asked == 1
    assert [c["target"]["base_model"] for c in h.platform.created_configs] == [PROMOTED]
    assert len(h.platform.jobs) == 1
    assert next(iter(h.platform.jobs.values()))["config"] == PROMOTED_CONFIG
    assert h.events(dataset)[-1].start_model == PROMOTED


async def test_lost_config_create_response_is_looked_up(tmp_path: Path) -> None:
    h = Harness(tmp_path, start_from="latest", promoted=PROMOTED)
    h.platform.fail("create_customization_config", LOSE)
    dataset = h.add("dpo-1")
    sub = await h.run(dataset)
    assert sub.status is JobStatus.COMPLETED
    assert len(h.platform.created_configs) == 1
    assert h.platform.job_bodies[0]["config"] == PROMOTED_CONFIG


async def test_a_config_of_that_name_for_another_model_fails_the_dataset(tmp_path: Path) -> None:
    h = Harness(tmp_path, start_from="latest", promoted=PROMOTED)
    h.platform.configs[PROMOTED_CONFIG] = {
        "name": "start-from-team-dpo-0-dpo",
        "namespace": NS,
        "target": {"base_model": "someone/else"},
    }
    dataset = h.add("dpo-1")
    sub = await h.run(dataset)
    assert sub.status is JobStatus.FAILED
    assert "exists for model someone/else, not team/dpo-0-dpo" in (sub.error or "")
    assert h.platform.jobs == {}


async def test_missing_source_config_fails_with_its_name(tmp_path: Path) -> None:
    h = Harness(tmp_path, start_from="latest", promoted=PROMOTED)
    h.platform.configs.clear()
    dataset = h.add("dpo-1")
    sub = await h.run(dataset)
    assert sub.status is JobStatus.FAILED
    assert f"customization config {SOURCE} (customization_config) not found" in (sub.error or "")


async def test_latest_without_a_source_of_promoted_models_says_so(tmp_path: Path) -> None:
    h = Harness(tmp_path, start_from="latest", promoted=PROMOTED)
    h.retraining = None
    dataset = h.add("dpo-1")
    sub = await h.run(dataset)
    assert sub.status is JobStatus.FAILED
    assert "use start_from: base" in (sub.error or "")
    assert h.platform.jobs == {}
