"""Job lifecycle: cancel, and finalise (persist the terminal state, register the output model).

For TRL jobs the runner finalises on ``completed``, committing the trained model with the
summary in the same synchronous step, so no client sees ``completed`` before the model exists.

Finalising is idempotent and runs both from the background tick and on every read, so the
output model exists by the time any client sees ``completed`` — even across restarts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.customizer_jobs import ACTIVE_KIND, KIND
from prefstream_nmp_local.entity_store import MODELS, create_entity
from prefstream_nmp_local.errors import ApiError
from prefstream_nmp_local.hf_repos import CommitOp, HfRepos
from prefstream_nmp_local.job_views import render_status
from prefstream_nmp_local.jobs_clock import JobProgress
from prefstream_nmp_local.training import job_state
from prefstream_nmp_local.training.output_commit import commit_ops
from prefstream_nmp_local.training.progress import Progress

JsonObj = dict[str, Any]


def cancel_job(ctx: AppContext, repos: HfRepos, record: JsonObj) -> JsonObj:
    """Simulated jobs freeze their clock; a TRL job's worker is ended by the runner's next tick."""
    now = ctx.now()
    state = job_state.job_progress(record, now)
    if state.terminal:
        finalize(ctx, repos, record)
        raise ApiError(409, f"Job {record['id']} is already {state.status} and cannot be cancelled")
    if job_state.is_trl(record):
        cancelled = "Job cancelled by user"
        training = job_state.transition(record["training"], "cancelled", now, cancelled)
        record = {**record, "training": training}
    else:
        record = {**record, "plan": {**record["plan"], "cancelled_at": now}}
    ctx.store.put(KIND, record["id"], record)
    return record


def finalize(ctx: AppContext, repos: HfRepos, record: JsonObj) -> JsonObj:
    """Once terminal, persist that fact and (on success) register the output model. Idempotent."""
    if record.get("finalized"):
        return record
    state = job_state.job_progress(record, ctx.now())
    if not state.terminal:
        return record
    record = {**record, "finalized": True, "final_status": state.status}
    if state.status == "completed":
        warning = _register_output_model(ctx, repos, record, state)
        if warning:
            record["body"] = {**record["body"], "warnings": [*record["body"]["warnings"], warning]}
    ctx.store.put(KIND, record["id"], record)
    ctx.store.delete(ACTIVE_KIND, record["id"])
    return record


def _register_output_model(
    ctx: AppContext, repos: HfRepos, record: JsonObj, state: JobProgress
) -> JsonObj | None:
    """Commit the output repo (summary, plus the trained model for TRL jobs) and register it.

    The model's ``custom_fields`` carry its lineage: job, trainer, base model and dataset with
    the revisions trained on, config and hyperparameters.
    """
    body = record["body"]
    ns, _, name = str(body["output_model"]).partition("/")
    status = render_status(record, state)
    lineage = {
        "customization_job_id": record["id"],
        "trainer": record.get("trainer", "simulated"),
        "base_model": body["config_snapshot"]["base_model"],
        "base_model_revision": (record.get("lineage") or {}).get("base_model_revision"),
        "dataset": f"{body['dataset']['namespace']}/{body['dataset']['name']}",
        "dataset_files_url": body["dataset"].get("files_url"),
        "dataset_revision": (record.get("lineage") or {}).get("dataset_revision"),
        "customization_config": (record.get("lineage") or {}).get("customization_config"),
        "hyperparameters": body["hyperparameters"],
    }
    summary = {
        "job_id": record["id"],
        "base_model": body["config_snapshot"]["base_model"],
        "hyperparameters": body["hyperparameters"],
        "dataset": body["dataset"],
        "lineage": lineage,
        "train_loss": status["train_loss"],
        "val_loss": status["val_loss"],
        "best_epoch": status["best_epoch"],
        "metrics": status["metrics"],
    }
    ops: list[CommitOp] = []
    if job_state.is_trl(record):
        progress = Progress.from_json(record["training"]["progress"])
        summary["train_pairs"] = progress.train_pairs
        if progress.output_dir:
            ops = commit_ops(Path(progress.output_dir), ctx.settings.lfs_threshold_bytes, ctx.blobs)
    ops.append(
        CommitOp("file", "training_summary.json", content=json.dumps(summary, indent=2).encode())
    )
    repos.create("model", body["output_model"], False, ctx.now())
    repos.commit(
        repos.get("model", body["output_model"]),
        "main",
        ops,
        f"Output of customization job {record['id']}",
        "",
        None,
        ctx.now(),
    )
    finetuning = body["hyperparameters"]["finetuning_type"]
    model = {
        "name": name,
        "namespace": ns,
        "description": f"Trained by nmp-local customization job {record['id']}",
        "base_model": body["config_snapshot"]["base_model"],
        "artifact": {
            "files_url": f"hf://models/{ns}/{name}",
            "status": "upload_completed",
            "backend_engine": "hugging_face",
            "precision": body["config_snapshot"]["precision"],
        },
        "spec": {
            "context_size": body["config_snapshot"]["max_seq_length"],
            "is_chat": True,
            "num_parameters": 0,
            "num_virtual_tokens": 0,
        },
        "custom_fields": lineage,
    }
    if finetuning != "all_weights":
        model["peft"] = {"finetuning_type": finetuning}
    existing = ctx.store.get(MODELS.kind, body["output_model"])
    if (
        existing is not None
        and (existing.get("custom_fields") or {}).get("customization_job_id") == record["id"]
    ):
        return None  # registered before a crash interrupted finalising
    try:
        create_entity(ctx, MODELS, model)
    except ApiError as exc:
        return {"message": "Output model was not registered", "explanation": str(exc.detail)}
    return None
