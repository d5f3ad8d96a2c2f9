"""How a TRL job looks to clients: the same ``CustomizationStatusDetails`` and ``JobLogs``
shapes as simulated jobs, filled with the worker's real figures (pure, but for the log read).

DPO metrics: ``rewards/accuracies`` are the schema's ``train_accuracy``/``val_accuracy``;
margins and log-probabilities ride along as extra ``metrics.metrics`` keys (the SDK's models
allow extra fields, so strict validation accepts them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefstream_nmp_local import validation_schedule as schedule
from prefstream_nmp_local.jobs_clock import JobPlan, JobProgress
from prefstream_nmp_local.timefmt import iso
from prefstream_nmp_local.training.progress import Point, Progress
from prefstream_nmp_local.training.request import log_path

JsonObj = dict[str, Any]
EXTRA_METRICS = {
    "rewards/margins": "rewards_margins",
    "logps/chosen": "logps_chosen",
    "logps/rejected": "logps_rejected",
}
LOG_TAIL_BYTES = 64 * 1024


def _series(points: list[Point]) -> list[JsonObj]:
    return [{"step": p.step, "value": p.value, "timestamp": iso(p.at)} for p in points]


def render_trl_status(record: JsonObj, state: JobProgress) -> JsonObj:
    plan = JobPlan.from_json(record["plan"])
    training: JsonObj = record["training"]
    p = Progress.from_json(training["progress"])
    train_loss_pts = p.train.get("train_loss", [])
    val_loss_pts = p.val.get("val_loss", [])
    best_epoch: int | None = None
    train_loss = train_loss_pts[-1].value if train_loss_pts else None
    val_loss: float | None = None
    if val_loss_pts:
        best_i = min(range(len(val_loss_pts)), key=lambda i: val_loss_pts[i].value)
        best = val_loss_pts[best_i]
        best_epoch = best_i + 1 if best.epoch is None else schedule.best_epoch(best.epoch)
        val_loss = best.value
        before = [t for t in train_loss_pts if t.step <= best.step]
        train_loss = before[-1].value if before else train_loss
    metrics: JsonObj = {
        "train_loss": _series(train_loss_pts),
        "val_loss": _series(val_loss_pts),
        "train_accuracy": _series(p.train.get("rewards/accuracies", [])),
        "val_accuracy": _series(p.val.get("rewards/accuracies", [])),
    }
    for name, key in EXTRA_METRICS.items():
        metrics[f"train_{key}"] = _series(p.train.get(name, []))
        metrics[f"val_{key}"] = _series(p.val.get(name, []))
    last_point = max([pt.at for pts in p.train.values() for pt in pts] or [0.0])
    updated = min(max(state.changed_at, last_point), state.at)
    return {
        "created_at": iso(plan.created_at),
        "updated_at": iso(max(updated, plan.created_at)),
        "status": state.status,
        "percentage_done": state.percentage_done,
        "epochs_completed": state.epochs_completed,
        "steps_completed": state.steps_completed,
        "steps_per_epoch": p.steps_per_epoch or plan.steps_per_epoch,
        "elapsed_time": round(max(0.0, state.at - plan.created_at), 3),
        "best_epoch": best_epoch,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "status_logs": _status_logs(training, p),
        "metrics": {
            "keys": ["train_loss", "val_loss", "train_accuracy", "val_accuracy"],
            "metrics": metrics,
        },
    }


def _status_logs(training: JsonObj, p: Progress) -> list[JsonObj]:
    events = [(float(at), str(msg), detail) for at, msg, detail in training["logs"]]
    acc = {pt.step: pt.value for pt in p.val.get("rewards/accuracies", [])}
    train = p.train.get("train_loss", [])
    for i, pt in enumerate(p.val.get("val_loss", []), start=1):
        epoch = float(i) if pt.epoch is None else pt.epoch
        before = [t.value for t in train if t.step <= pt.step]
        detail = f"train_loss={before[-1] if before else None} val_loss={pt.value}"
        if pt.step in acc:
            detail += f" val_reward_accuracy={acc[pt.step]}"
        events.append((pt.at, schedule.validation_message(pt.step, epoch, p.epochs), detail))
    events.sort(key=lambda ev: ev[0])
    return [{"updated_at": iso(t), "message": m, "detail": d} for t, m, d in events]


def trl_container_logs(record: JsonObj, state: JobProgress) -> JsonObj:
    """``JobLogs`` with the worker's own output (its log file, last 64 KiB)."""
    training: JsonObj = record["training"]
    path = log_path(Path(training["job_dir"]))
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - LOG_TAIL_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        text = ""
    out: JsonObj = {
        "entries": {
            "training": {
                "object": f"pod/{record['id']}-training",
                "status": {"phase": state.status, "worker_pid": training.get("worker_pid")},
                "logs": {"training": text},
                "events": [],
            }
        }
    }
    if state.status == "failed" and training.get("message"):
        out["error"] = {
            "exception_type": "TrainingError",
            "message": str(training["message"]),
            "timestamp": iso(state.at),
        }
    return out
