"""How a job looks to clients: ``CustomizationStatusDetails`` (progress, losses, metrics,
status logs) and ``JobLogs``, rendered from the job record and the wall clock (simulated
jobs) or the worker's recorded progress (TRL jobs, ``training.status_view``)."""

from __future__ import annotations

from typing import Any

from prefstream_nmp_local import validation_schedule as schedule
from prefstream_nmp_local.dpo_rows import DatasetStats
from prefstream_nmp_local.jobs_clock import JobPlan, JobProgress
from prefstream_nmp_local.loss_curve import LossCurve
from prefstream_nmp_local.timefmt import iso
from prefstream_nmp_local.training.status_view import render_trl_status, trl_container_logs

JsonObj = dict[str, Any]


def render_status(record: JsonObj, state: JobProgress) -> JsonObj:
    """``CustomizationStatusDetails``: progress, losses, metrics and status logs."""
    if record.get("trainer") == "trl":
        return render_trl_status(record, state)
    plan = JobPlan.from_json(record["plan"])
    stats = DatasetStats.from_json(record["stats"])
    curve = LossCurve(stats, plan.total_steps, plan.steps_per_epoch)
    steps = state.steps_completed
    log_every = int(record["log_every"])
    train_points = list(range(log_every, steps + 1, log_every))
    if steps and steps % log_every:
        train_points.append(steps)
    val_steps = _validations(plan, steps)
    train_metrics = [
        {"step": s, "value": curve.train_loss(s), "timestamp": iso(plan.step_time(s))}
        for s in train_points
    ]
    val_metrics = [
        {"step": s, "value": curve.val_loss_at(s), "timestamp": iso(plan.step_time(s))}
        for s in val_steps
    ]
    best_epoch: int | None = None
    train_loss = curve.train_loss(train_points[-1]) if train_points else None
    val_loss: float | None = None
    if val_steps:
        best = min(val_steps, key=curve.val_loss_at)
        best_epoch = schedule.best_epoch(best / plan.steps_per_epoch)
        val_loss = curve.val_loss_at(best)
        train_loss = curve.train_loss(best)
    logs = _status_logs(record, plan, state, curve)
    updated = max(state.changed_at, plan.step_time(steps) if steps else 0.0)
    return {
        "created_at": iso(plan.created_at),
        "updated_at": iso(min(updated, state.at)),
        "status": state.status,
        "percentage_done": state.percentage_done,
        "epochs_completed": state.epochs_completed,
        "steps_completed": steps,
        "steps_per_epoch": plan.steps_per_epoch,
        "elapsed_time": round(max(0.0, state.at - plan.created_at), 3),
        "best_epoch": best_epoch,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "status_logs": logs,
        "metrics": {
            "keys": ["train_loss", "val_loss"],
            "metrics": {
                "train_loss": train_metrics,
                "val_loss": val_metrics,
            },
        },
    }


def _validations(plan: JobPlan, steps_completed: int) -> list[int]:
    """The validations a job has run by ``steps_completed`` (see ``validation_schedule``)."""
    every = plan.val_every
    planned = schedule.validation_steps(plan.total_steps, plan.steps_per_epoch, every)
    return [s for s in planned if s <= steps_completed]


def _status_logs(
    record: JsonObj, plan: JobPlan, state: JobProgress, curve: LossCurve
) -> list[JsonObj]:
    events: list[tuple[float, str, str | None]] = [(plan.created_at, "created", "Job created")]
    at = state.at
    if plan.validation_error is not None:
        if state.status == "failed":
            events.append((at, "failed", "Dataset validation failed: " + plan.validation_error))
    else:
        if at >= plan.pending_at:
            events.append((plan.pending_at, "pending", "Waiting for GPU resources"))
        if at >= plan.running_at:
            stats = DatasetStats.from_json(record["stats"])
            over = schedule.epochs_text(plan.total_steps, plan.steps_per_epoch, plan.epochs)
            every = f", validating every {plan.val_every} steps" if plan.val_every else ""
            events.append(
                (
                    plan.running_at,
                    "running",
                    f"Training started: {stats.n_train} training rows, {stats.n_val} validation "
                    f"rows, {over}{every}",
                )
            )
        for step in _validations(plan, state.steps_completed):
            events.append(
                (
                    plan.step_time(step),
                    schedule.validation_message(step, step / plan.steps_per_epoch, plan.epochs),
                    f"train_loss={curve.train_loss(step)} val_loss={curve.val_loss_at(step)}",
                )
            )
        if state.status == "completed":
            events.append(
                (
                    at,
                    "completed",
                    f"Training completed; output model {record['body']['output_model']}",
                )
            )
        elif state.status == "failed":
            events.append(
                (
                    at,
                    "failed",
                    f"Training failed at {state.percentage_done:.1f}% "
                    f"(step {state.steps_completed} of {plan.total_steps}): "
                    "injected by nmp-local fault injection",
                )
            )
    if state.status == "cancelled":
        events.append((at, "cancelled", "Job cancelled by user"))
    events.sort(key=lambda ev: ev[0])
    return [{"updated_at": iso(t), "message": msg, "detail": detail} for t, msg, detail in events]


def container_logs(record: JsonObj, state: JobProgress) -> JsonObj:
    """``JobLogs``: status logs as pod logs; validation problems as a structured error.

    TRL jobs return their worker's log instead.
    """
    if record.get("trainer") == "trl":
        return trl_container_logs(record, state)
    status = render_status(record, state)
    lines = [
        f"{log['updated_at']} {log['message']}: {log['detail'] or ''}"
        for log in status["status_logs"]
    ]
    out: JsonObj = {
        "entries": {
            "training": {
                "object": f"pod/{record['id']}-training",
                "status": {"phase": state.status},
                "logs": {"training": "\n".join(lines)},
                "events": [],
            }
        }
    }
    errors = record.get("error_files") or []
    if errors and state.status == "failed":
        first = errors[0]
        out["error"] = {
            "exception_type": "DatasetValidationError",
            "message": "\n".join(
                f"{e['file']} line {e['line']}: {e['message']}"
                if e["line"]
                else f"{e['file']}: {e['message']}"
                for e in errors
            ),
            "file": first["file"],
            "line": first["line"],
            "timestamp": status["updated_at"],
        }
    return out
