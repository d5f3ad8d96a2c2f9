"""A TRL job's persisted training state (``record["training"]``) and its clock view (pure).

The runner writes the state; everything a client sees is rendered from it, as the
simulated jobs are rendered from their plan.
"""

from __future__ import annotations

from typing import Any

from prefstream_nmp_local.jobs_clock import JobPlan, JobProgress, progress
from prefstream_nmp_local.training.progress import Progress

JsonObj = dict[str, Any]
TERMINAL = frozenset({"completed", "failed", "cancelled"})


def new_state(
    now: float, job_dir: str, model: JsonObj, dataset: JsonObj, config: JsonObj
) -> JsonObj:
    return {
        "status": "created",
        "changed_at": now,
        "ended_at": None,
        "logs": [[now, "created", "Job created"]],
        "progress": Progress().to_json(),
        "job_dir": job_dir,
        "model": model,
        "dataset": dataset,
        "config": config,
        "worker_pid": None,
        "message": None,
    }


def transition(state: JsonObj, status: str, at: float, detail: str | None) -> JsonObj:
    """A new state in ``status`` with its status log line (terminal states are final)."""
    if state["status"] in TERMINAL:
        return state
    out = {**state, "status": status, "changed_at": at, "logs": [*state["logs"]]}
    out["logs"].append([at, status, detail])
    if status in TERMINAL:
        out["ended_at"] = at
        out["message"] = detail
    return out


def note(state: JsonObj, at: float, message: str, detail: str | None) -> JsonObj:
    return {**state, "logs": [*state["logs"], [at, message, detail]]}


def trl_progress(state: JsonObj, now: float) -> JobProgress:
    p = Progress.from_json(state["progress"])
    status = str(state["status"])
    at = float(state["ended_at"]) if state.get("ended_at") is not None else now
    steps = p.total_steps if status == "completed" else p.steps_completed
    pct = 100.0 if status == "completed" else p.percentage_done
    return JobProgress(status, at, steps, p.epochs_completed, pct, float(state["changed_at"]))


def is_trl(record: JsonObj) -> bool:
    return record.get("trainer") == "trl"


def job_progress(record: JsonObj, now: float) -> JobProgress:
    """Where any job is: TRL jobs from their training state, others from the job clock."""
    if is_trl(record):
        return trl_progress(record["training"], now)
    return progress(JobPlan.from_json(record["plan"]), now)
