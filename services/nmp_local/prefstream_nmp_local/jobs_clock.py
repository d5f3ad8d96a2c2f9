"""Where a customization job is at a given wall-clock time.

A job's plan (creation time, seconds per phase and per epoch, steps, injected failure,
cancellation time) is persisted when it is created; its state is a pure function of the
plan and ``now``. So a restarted nmp-local resumes every job exactly where wall time says
it is, with no in-memory timers to lose.

Walk: ``created`` → (``job_created_seconds``) ``pending`` → (``job_pending_seconds``)
``running`` → (``job_seconds_per_epoch`` x epochs) ``completed``. A dataset that failed
validation fails when it would have become ``pending``; an injected failure fires when
progress reaches its percentage; a cancel freezes progress at the cancel time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

TERMINAL = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class JobPlan:
    created_at: float
    created_seconds: float
    pending_seconds: float
    seconds_per_epoch: float
    epochs: int
    steps_per_epoch: int
    total_steps: int
    fail_at_percent: float | None = None
    validation_error: str | None = None
    cancelled_at: float | None = None
    val_every: int | None = None
    """Steps between validations (``val_check_interval``); none: once per epoch."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobPlan:
        return cls(**data)

    @property
    def pending_at(self) -> float:
        return self.created_at + self.created_seconds

    @property
    def running_at(self) -> float:
        return self.pending_at + self.pending_seconds

    @property
    def running_seconds(self) -> float:
        return self.seconds_per_epoch * self.total_steps / max(1, self.steps_per_epoch)

    def step_time(self, step: int) -> float:
        """Wall time at which ``step`` completes."""
        return self.running_at + self.running_seconds * step / max(1, self.total_steps)

    @property
    def end(self) -> tuple[float, str]:
        """When and how the job ends if nobody cancels it."""
        if self.validation_error is not None:
            return self.pending_at, "failed"
        if self.fail_at_percent is not None:
            return self.running_at + self.running_seconds * self.fail_at_percent / 100.0, "failed"
        return self.running_at + self.running_seconds, "completed"


@dataclass(frozen=True)
class JobProgress:
    status: str
    at: float
    """The moment the state is evaluated at (now, or the terminal time)."""
    steps_completed: int
    epochs_completed: int
    percentage_done: float
    changed_at: float
    """When ``status`` was entered."""

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def progress(plan: JobPlan, now: float) -> JobProgress:
    end_at, end_status = plan.end
    if plan.cancelled_at is not None and plan.cancelled_at < end_at and plan.cancelled_at <= now:
        return _at(plan, plan.cancelled_at, "cancelled", plan.cancelled_at)
    if now >= end_at:
        return _at(plan, end_at, end_status, end_at)
    if now >= plan.running_at:
        return _at(plan, now, "running", plan.running_at)
    if now >= plan.pending_at:
        return _at(plan, now, "pending", plan.pending_at)
    return _at(plan, now, "created", plan.created_at)


def _at(plan: JobPlan, t: float, status: str, changed_at: float) -> JobProgress:
    if status == "completed":
        steps = plan.total_steps
    elif t <= plan.running_at or plan.validation_error is not None:
        steps = 0
    else:
        frac = (t - plan.running_at) / max(plan.running_seconds, 1e-9)
        steps = min(plan.total_steps, math.floor(frac * plan.total_steps + 1e-9))
    epochs = min(plan.epochs, steps // max(1, plan.steps_per_epoch))
    pct = round(100.0 * steps / max(1, plan.total_steps), 4)
    return JobProgress(status, t, steps, epochs, pct, changed_at)
