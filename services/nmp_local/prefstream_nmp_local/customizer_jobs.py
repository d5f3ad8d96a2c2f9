"""Creating customization jobs: request checks, dataset validation, and the job record.

A job record holds the request, a ``JobPlan`` (see ``jobs_clock``) and the dataset's
``DatasetStats`` (see ``loss_curve``); everything a client later sees is rendered from
those and the wall clock (``job_views``), so the record never needs a timer. A job whose
base model has weights also gets a ``training`` state (``training.job_setup``), which the
TRL runner advances instead of the clock.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.dataset_files import check_dataset
from prefstream_nmp_local.dpo_rows import DatasetStats
from prefstream_nmp_local.entity_store import (
    DATASETS,
    MODELS,
    NAME_PATTERN,
    entity_key,
    get_entity,
)
from prefstream_nmp_local.errors import ApiError, not_found, parse_model
from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.ids import new_id
from prefstream_nmp_local.job_options import (
    HyperparametersIn,
    IntegrationIn,
    integrations_warning,
)
from prefstream_nmp_local.jobs_clock import JobPlan
from prefstream_nmp_local.training import job_state
from prefstream_nmp_local.training.job_setup import plan_trl
from prefstream_nmp_local.training.model_files import resolve_files_url
from prefstream_nmp_local.training.request import job_folder
from prefstream_nmp_local.validation_schedule import every_steps

JsonObj = dict[str, Any]
log = logging.getLogger("prefstream_nmp_local.training.integrations")
"""Under the training logger, whose INFO lines nmp-local prints (``selection``)."""
KIND = "customization_job"
CONFIG_KIND = "customization_config"
ACTIVE_KIND = "active_job"
"""Ids of jobs not yet finalised, so the background tick does not scan finished jobs."""
FAIL_AT_FIELD = "nmp_local_fail_at_percent"
"""``custom_fields`` key that makes one job fail at that percentage (fault injection)."""
DPO_DEFAULTS: JsonObj = {"epochs": 1, "batch_size": 16, "learning_rate": 9e-6}


class DatasetRefIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(pattern=NAME_PATTERN)
    namespace: str = Field("default", pattern=NAME_PATTERN)


class InlineConfigIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    max_seq_length: int
    training_options: list[dict[str, Any]]


class JobIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    config: str | InlineConfigIn
    dataset: str | DatasetRefIn
    hyperparameters: HyperparametersIn
    name: str | None = None
    namespace: str | None = Field(None, pattern=NAME_PATTERN)
    description: str | None = None
    project: str | None = None
    output_model: str | None = None
    ownership: dict[str, Any] | None = None
    custom_fields: dict[str, Any] | None = None
    dataset_parameters: dict[str, Any] | None = None
    integrations: list[IntegrationIn] | None = None


def resolve_config(ctx: AppContext, ref: str | InlineConfigIn) -> tuple[str | JsonObj, JsonObj]:
    """(what the job echoes as ``config``, the config body)."""
    if isinstance(ref, InlineConfigIn):
        body = ref.model_dump(mode="json")
        return body, body
    key = ref if "/" in ref else f"default/{ref}"
    found = ctx.store.get(CONFIG_KIND, key)
    if found is None and "/" not in ref:
        same = [c for c in ctx.store.list(CONFIG_KIND) if c.get("name") == ref]
        found = same[0] if len(same) == 1 else None
    if found is None:
        raise not_found(f"Customization config {ref}")
    return ref, found


def create_job(ctx: AppContext, repos: HfRepos, data: Any) -> JsonObj:
    req = parse_model(JobIn, data)
    hp = req.hyperparameters
    config_echo, config = resolve_config(ctx, req.config)
    option = next(
        (
            o
            for o in config["training_options"]
            if o.get("training_type") == hp.training_type
            and o.get("finetuning_type") == hp.finetuning_type
        ),
        None,
    )
    if option is None:
        supported = ", ".join(
            f"{o.get('training_type')}/{o.get('finetuning_type')}"
            for o in config["training_options"]
        )
        raise ApiError(
            422,
            f"Config {_config_label(config)} does not support training_type={hp.training_type} "
            f"with finetuning_type={hp.finetuning_type}; supported: {supported}",
        )
    if hp.training_type != "dpo":
        raise ApiError(422, "nmp-local runs DPO jobs only (hyperparameters.training_type)")

    if isinstance(req.dataset, str):
        ds_ns, _, ds_name = req.dataset.rpartition("/")
        ds_ref = {"name": ds_name, "namespace": ds_ns or "default"}
    else:
        ds_ref = req.dataset.model_dump(mode="json", exclude_none=True)
    dataset = get_entity(ctx, DATASETS, entity_key(ds_ref["namespace"], ds_ref["name"]))

    job_id = new_id("cust")
    integrations = (
        None
        if req.integrations is None
        else [i.model_dump(mode="json", exclude_none=True) for i in req.integrations]
    )
    namespace = req.namespace or dataset["namespace"]
    base_model = _base_model(config)
    output_model = req.output_model or f"{namespace}/{base_model.split('/')[-1]}@{job_id}"
    out_ns, _, out_name = output_model.partition("/")
    if not out_ns or not out_name or "/" in out_name:
        raise ApiError(422, f"output_model must look like 'namespace/name', got {output_model!r}")
    if ctx.store.get(MODELS.kind, output_model) is not None:
        raise ApiError(409, f"Model {output_model} already exists")

    hyper = {**DPO_DEFAULTS, **hp.model_dump(mode="json", exclude_none=True)}
    check = check_dataset(repos, str(dataset["files_url"]))
    epochs, batch = int(hyper["epochs"]), int(hyper["batch_size"])
    stats = check.stats or DatasetStats(0, 0, 0.0, "")
    steps_per_epoch = max(1, math.ceil(stats.n_train / batch))
    total = epochs * steps_per_epoch
    if hp.max_steps:
        total = min(total, hp.max_steps)
    trl = plan_trl(
        ctx.settings,
        ctx.store,
        repos,
        base_model=base_model,
        hyper=hyper,
        dataset_files_url=str(dataset["files_url"]),
        max_seq_length=int(config["max_seq_length"]),
        steps_per_epoch=steps_per_epoch,
    )
    if check.errors:
        trl = None  # invalid data fails before training, the same way for both trainers
    s = ctx.settings
    now = ctx.now()
    plan = JobPlan(
        created_at=now,
        created_seconds=s.job_created_seconds,
        pending_seconds=s.job_pending_seconds,
        seconds_per_epoch=s.job_seconds_per_epoch,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=total,
        fail_at_percent=_fail_at(ctx, req.custom_fields),
        validation_error="\n".join(str(e) for e in check.errors) if check.errors else None,
        val_every=every_steps(hp.val_check_interval, steps_per_epoch),
    )
    body: JsonObj = {
        "id": job_id,
        "name": req.name,
        "namespace": namespace,
        "description": req.description,
        "project": req.project,
        "config": config_echo,
        "dataset": {**ds_ref, "files_url": dataset["files_url"]},
        "hyperparameters": hyper,
        "output_model": output_model,
        "ownership": req.ownership,
        "custom_fields": req.custom_fields or {},
        "dataset_parameters": req.dataset_parameters,
        "integrations": integrations,
        "config_snapshot": {
            "base_model": base_model,
            "max_seq_length": config["max_seq_length"],
            "precision": config.get("training_precision") or "bf16-mixed",
            "training_option": option,
            "dataset_schema": (config.get("dataset_schemas") or [None])[0],
            "prompt_template": config.get("prompt_template"),
        },
        "warnings": [integrations_warning(req.integrations)] if req.integrations else [],
    }
    if req.integrations:
        log.info("job %s: integrations recorded, not used (nmp-local does not reach W&B)", job_id)
    log_every = hp.log_every_n_steps or max(1, math.ceil(total / 50))
    dataset_snap = resolve_files_url(repos, str(dataset["files_url"]))
    record = {
        "id": job_id,
        "body": body,
        "plan": plan.to_json(),
        "stats": stats.to_json(),
        "log_every": log_every,
        "error_files": [
            {"file": e.path, "line": e.line, "message": e.message} for e in check.errors
        ],
        "finalized": False,
        "trainer": "simulated" if trl is None else "trl",
        "lineage": {
            "base_model_revision": trl.model.commit if trl else None,
            "dataset_revision": dataset_snap.commit if dataset_snap else None,
            "customization_config": config_echo if isinstance(config_echo, str) else "inline",
        },
    }
    if trl is not None:
        model_snap, data_snap = trl.snapshots()
        folder = job_folder(ctx.settings.data_dir, job_id)
        trl_config = {**trl.config, "logging_steps": log_every}
        record["training"] = job_state.new_state(
            now, str(folder), model_snap, data_snap, trl_config
        )
    ctx.store.insert(KIND, job_id, record)
    ctx.store.insert(ACTIVE_KIND, job_id, {"id": job_id})
    return record


def _fail_at(ctx: AppContext, custom_fields: dict[str, Any] | None) -> float | None:
    value = (custom_fields or {}).get(FAIL_AT_FIELD)
    try:
        percent = float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        percent = None
    if percent is not None and 0 <= percent <= 100:
        return percent
    return ctx.faults.config.fail_jobs_at_percent


def _base_model(config: JsonObj) -> str:
    target = config.get("target")
    if isinstance(target, dict) and target.get("base_model"):
        return str(target["base_model"])
    if isinstance(target, str):
        return target.split("@")[0]
    name = str(config.get("name") or "model").split("@")[0]
    return f"{config.get('namespace') or 'default'}/{name}"


def _config_label(config: JsonObj) -> str:
    return f"{config.get('namespace')}/{config.get('name')}"


def get_record(ctx: AppContext, job_id: str) -> JsonObj:
    record = ctx.store.get(KIND, job_id)
    if record is None:
        raise not_found(f"Customization job {job_id}")
    return record
