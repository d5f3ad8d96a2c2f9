"""Every job-create option the official SDK has, sent by the SDK itself to nmp-local's
simulated trainer: accepted, echoed, honoured where it shapes the run (``max_steps``,
``val_check_interval``), W&B recorded but reported unused, and its key never kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from nemo_microservices import UnprocessableEntityError
from prefstream_nmp_local.testing import NmpLocalProcess

from tests.support.sdk_hyperparameters import at, nested, samples

from .conftest import hyper, sdk
from .test_dpo_flow import wait_for
from .test_error_paths import make_dataset, valid_files

LORA_CONFIG = "meta/llama-3.1-8b-instruct@v1.0.0+A100"
"""A preloaded config with a dpo/lora option (the samples ask for finetuning_type lora)."""
WANDB_KEY = "wandb-key-2718281828459045"
WANDB: Any = [{"type": "wandb", "wandb": {"project": "p", "tags": ["dpo"]}}]


def test_every_sdk_option_is_accepted_echoed_and_shapes_the_run(nmp: NmpLocalProcess) -> None:
    make_dataset(nmp, "opts", "ds", valid_files(40))
    client = sdk(nmp.base_url)
    fields = samples()
    options: Any = nested(fields)
    job = client.customization.jobs.create(
        config=LORA_CONFIG,
        dataset={"name": "ds", "namespace": "opts"},
        hyperparameters=options,
        integrations=WANDB,
        wandb_api_key=WANDB_KEY,
    )
    assert job.id is not None
    job_id = job.id
    echoed = httpx.get(f"{nmp.base_url}/v1/customization/jobs/{job_id}").json()
    for field, value in fields:
        assert at(echoed["hyperparameters"], field.path) == value, field.dotted
    assert echoed["integrations"] == WANDB
    assert [w.message for w in job.warnings or []] == ["integrations recorded but not used: wandb"]

    final = wait_for(
        lambda: client.customization.jobs.status(job_id), lambda s: s.status == "completed"
    )[-1]
    # 40 rows, batch_size 5: 8 steps an epoch; max_steps 19 stops in the third epoch;
    # val_check_interval 0.75 of an epoch validates every 6 steps, and where training stops.
    assert (options["batch_size"], options["max_steps"], options["val_check_interval"]) == (
        5,
        19,
        0.75,
    )
    assert (final.steps_per_epoch, final.steps_completed, final.epochs_completed) == (8, 19, 2)
    assert final.metrics is not None
    assert final.metrics.metrics is not None
    assert [p.step for p in final.metrics.metrics.val_loss or []] == [6, 12, 18, 19]
    assert final.best_epoch in (None, 1, 2)

    assert "integrations recorded, not used" in nmp.log_path.read_text()
    for path in Path(nmp.data_dir).rglob("*"):
        if path.is_file():
            assert WANDB_KEY.encode() not in path.read_bytes(), path


@pytest.fixture(scope="module")
def bad_options_dataset(nmp: NmpLocalProcess) -> None:
    make_dataset(nmp, "optbad", "ds", valid_files())


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"val_check_interval": 1.5}, "val_check_interval"),
        ({"val_check_interval": 0}, "val_check_interval"),
        ({"lora": {"adapter_dim": "wide"}}, "adapter_dim"),
        ({"dpo": {"max_grad_norm": -1.0}}, "max_grad_norm"),
        ({"optimizer": "sgd"}, "optimizer"),
    ],
)
def test_a_malformed_option_is_refused_whichever_trainer(
    nmp: NmpLocalProcess, bad_options_dataset: None, bad: dict[str, Any], key: str
) -> None:
    with pytest.raises(UnprocessableEntityError) as err:
        sdk(nmp.base_url).customization.jobs.create(
            config=LORA_CONFIG,
            dataset={"name": "ds", "namespace": "optbad"},
            hyperparameters=hyper(**bad),
        )
    assert key in str(err.value.body)
