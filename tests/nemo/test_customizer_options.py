"""Every Customizer job option the official SDK has: the config accepts each one, the
submitter sends each as configured (observed at a server written from the contract), unset
ones are not sent, and the W&B key travels only where the SDK puts it (a header of the
job-create request), masked everywhere else."""

from __future__ import annotations

import json
import logging
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from nemo_microservices.types.customization import JobCreateParams
from prefstream_config import (
    NeMoCustomizerTrainerAdapterConfig,
    load_config,
    masked_dict,
    render_yaml,
)
from prefstream_nemo import NemoClient
from prefstream_nemo.retry import RetryPolicy
from prefstream_stores.ledger import Ledger
from prefstream_submission.dataset_files import dataset_from_directory
from prefstream_submission.flow import FlowSettings, SubmissionFlow
from prefstream_submission.job_events import Emitter
from pydantic import ValidationError

from tests.support.fake_nemo import ListSink, write_dataset
from tests.support.sdk_hyperparameters import (
    EXCLUDED,
    EXCLUDED_VALUES,
    at,
    nested,
    samples,
    sdk_fields,
)

from .contract_server import ContractState, contract_server

FAST = RetryPolicy(attempts=3, max_seconds=0.01, initial_seconds=0.001)
REQUIRED: dict[str, Any] = {
    "_type": "nemo_customizer_trainer_adapter",
    "entity_host": "http://nmp.test",
    "datastore_host": "http://ds.test",
    "namespace": "ns",
    "customization_config": "meta/llama-3.1-8b-instruct@v1.0.0+A100",
}
FIELDS = samples()
WANDB_KEY = "wandb-key-3141592653589793"
WANDB: dict[str, Any] = {
    "wandb": {"project": "prefstream", "entity": "team", "notes": "nightly", "tags": ["dpo"]}
}
NOT_OFFERED = {
    "dataset_parameters": "Customizer's dataset options are for SFT/GRPO data shapes",
    "ownership": "access policies belong to whoever runs the platform",
    "project": "a project URN is platform bookkeeping, not a training option",
}
"""Top-level job-create options the submitter does not send."""
NAT_BODY = (
    '{"training_type": "dpo", "finetuning_type": "all_weights", "epochs": 3, "batch_size": 4, '
    '"learning_rate": 5e-05, "dpo": {"ref_policy_kl_penalty": 0.1, '
    '"preference_loss_weight": 1.0, "preference_average_log_probs": false, '
    '"sft_loss_weight": 0.0}}'
)
"""What a config without the new options sent before they existed, byte for byte."""


def adapter(**fields: Any) -> NeMoCustomizerTrainerAdapterConfig:
    return NeMoCustomizerTrainerAdapterConfig.model_validate({**REQUIRED, **fields})


@pytest.fixture
def server() -> Iterator[tuple[str, ContractState]]:
    with contract_server() as running:
        yield running


def test_the_walk_finds_the_sdk_sections() -> None:
    """Guards the walker itself: nested sections are entered, not taken as leaves."""
    paths = {f.dotted for f, _ in FIELDS}
    assert {"max_steps", "dpo.max_grad_norm", "lora.adapter_dim", "sft.hidden_dropout"} <= paths
    assert not {"dpo", "lora", "sft"} & paths


@pytest.mark.parametrize(("field", "value"), FIELDS, ids=[f.dotted for f, _ in FIELDS])
def test_the_config_accepts_every_sdk_hyperparameter(field: Any, value: Any) -> None:
    cfg = adapter(hyperparameters=nested([(field, value)]))
    assert at(FlowSettings.from_adapter(cfg).hyperparameters, field.path) == value


def test_every_literal_value_is_accepted_or_deliberately_refused() -> None:
    checked = 0
    for field in sdk_fields():
        for choice in field.choices():
            hyper = nested([(field, choice)])
            if choice in EXCLUDED_VALUES.get(field.path, frozenset()):
                with pytest.raises(ValidationError, match=field.path[-1]):
                    adapter(hyperparameters=hyper)
            else:
                sent = FlowSettings.from_adapter(adapter(hyperparameters=hyper)).hyperparameters
                assert at(sent, field.path) == choice
            checked += 1
    assert checked >= 10  # finetuning_type, training_type and optimizer at least


@pytest.mark.parametrize("path", list(EXCLUDED), ids=[".".join(p) for p in EXCLUDED])
def test_excluded_sections_are_refused_not_dropped(path: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match=path[-1]):
        adapter(hyperparameters={path[0]: {}})


@pytest.mark.parametrize("value", [1, 1.0, 50, 0.25])
def test_val_check_interval_keeps_its_type(value: float) -> None:
    """1 is every step, 1.0 once per epoch: the number is sent as written."""
    cfg = adapter(hyperparameters={"val_check_interval": value})
    sent = FlowSettings.from_adapter(cfg).hyperparameters["val_check_interval"]
    assert json.dumps(sent) == json.dumps(value)


def test_unset_options_leave_the_job_body_as_it_was() -> None:
    settings = FlowSettings.from_adapter(adapter())
    assert json.dumps(settings.hyperparameters) == NAT_BODY
    assert settings.integrations is None


async def test_the_submitter_sends_every_option_as_configured(
    server: tuple[str, ContractState], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base, state = server
    cfg = adapter(
        entity_host=base,
        datastore_host=base,
        poll_interval_seconds=0.01,
        hyperparameters=nested(FIELDS),
        integrations=[WANDB],
        wandb_api_key=WANDB_KEY,
    )
    ledger = Ledger(":memory:")
    sub = ledger.add(dataset_from_directory(write_dataset(tmp_path / "all-options")))
    assert sub is not None
    sink = ListSink()
    client = NemoClient.from_config(cfg, policy=FAST)
    flow = SubmissionFlow(
        sub,
        platform=client,
        emitter=Emitter(ledger, sink, namespace="ns"),
        settings=FlowSettings.from_adapter(cfg),
        resumed=False,
    )
    done = await flow.run()
    await client.aclose()
    assert done.status.value == "completed", done.error

    (body,) = state.jobs.values()
    for field, value in FIELDS:
        assert at(body["hyperparameters"], field.path) == value, field.dotted
    assert body["integrations"] == [{"type": "wandb", **WANDB}]
    sdk_options = set(typing.get_type_hints(JobCreateParams))
    assert sdk_options == (set(body) - {"id", "status", "created_at", "updated_at"}) | {
        "wandb_api_key"
    } | set(NOT_OFFERED)

    (create,) = [
        r for r in state.requests if r.method == "POST" and r.path == "/v1/customization/jobs"
    ]
    assert create.headers["wandb-api-key"] == WANDB_KEY
    assert [r.path for r in state.requests if "wandb-api-key" in r.headers] == [create.path]
    assert WANDB_KEY not in json.dumps(body)
    assert sink.events
    assert all(WANDB_KEY not in event.model_dump_json() for event in sink.events)
    assert WANDB_KEY not in caplog.text


async def test_no_wandb_key_sends_no_header(server: tuple[str, ContractState]) -> None:
    base, state = server
    client = NemoClient.from_config(adapter(entity_host=base, datastore_host=base), policy=FAST)
    await client.create_job({"output_model": "ns/out", "hyperparameters": {}})
    await client.aclose()
    (create,) = state.seen("/v1/customization/jobs")
    assert "wandb-api-key" not in create.headers
    assert "integrations" not in next(iter(state.jobs.values()))


def test_the_wandb_key_is_masked_in_config_show_and_repr(tmp_path: Path) -> None:
    file = tmp_path / "c.yml"
    adapter_yaml = {**REQUIRED, "integrations": [WANDB], "wandb_api_key": "${WANDB_API_KEY}"}
    file.write_text(yaml.safe_dump({"trainer_adapters": {"nemo": adapter_yaml}}))
    config = load_config(file, environ={"WANDB_API_KEY": WANDB_KEY})

    shown = render_yaml(config)
    assert WANDB_KEY not in shown
    assert WANDB_KEY not in repr(config)
    assert masked_dict(config)["trainer_adapters"]["nemo"]["wandb_api_key"] == "**********"
    assert "project: prefstream" in shown  # the integration itself is not a secret
    key = config.adapter().wandb_api_key
    assert key is not None
    assert key.get_secret_value() == WANDB_KEY
