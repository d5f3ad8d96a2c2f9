"""When a running job will finish, from how fast its progress has moved, and how long it has
run. Shared by the web view and ``prefstream watch``.

Two clocks can tell: the platform's own timestamps on the job's curve points (they survive
a replay: the job-metrics topic keeps every chunk), and the times at which the view saw
the job's percentage move (lost after compaction, so only a fallback). Either gives two
(time, percent) observations; a straight line through them reaches 100 % at the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prefstream_events.job_metrics import MetricPoint
from prefstream_events.models import JobStatus, JobStatusEvent


@dataclass(frozen=True)
class Observation:
    at: datetime
    percentage: float


@dataclass(frozen=True)
class Eta:
    finish_at: datetime
    remaining_seconds: float


def finish_estimate(first: Observation, last: Observation) -> datetime | None:
    """Where the line through both observations reaches 100 %; None when progress did not
    move forward between them (or time did not)."""
    moved = last.percentage - first.percentage
    took = (last.at - first.at).total_seconds()
    if moved <= 0 or took <= 0 or last.percentage >= 100:
        return None
    return last.at + timedelta(seconds=(100 - last.percentage) * took / moved)


def curve_observations(
    points: Sequence[MetricPoint], percentage_done: float | None, steps_completed: int | None
) -> tuple[Observation, Observation] | None:
    """The first and last timestamped point as progress: a job ``p`` % done after ``s``
    steps has ``100 s / p`` steps in all."""
    timed = [(p.at, p.step) for p in points if p.at is not None]
    if len(timed) < 2 or not percentage_done or not steps_completed:
        return None
    total_steps = steps_completed * 100 / percentage_done
    (first_at, first_step), (last_at, last_step) = timed[0], timed[-1]
    return (
        Observation(first_at, 100 * first_step / total_steps),
        Observation(last_at, 100 * last_step / total_steps),
    )


def job_eta(
    job: JobStatusEvent,
    train_points: Sequence[MetricPoint],
    first_seen: Observation | None,
    now: datetime,
) -> Eta | None:
    """The estimate for a running job, from its curve's timestamps, else from the first
    progress the view saw and the latest; None when neither can tell."""
    pct = job.percentage_done
    if job.status is not JobStatus.RUNNING or pct is None or pct >= 100:
        return None
    finish: datetime | None = None
    if pair := curve_observations(train_points, pct, job.steps_completed):
        finish = finish_estimate(*pair)
    if finish is None and first_seen is not None:
        finish = finish_estimate(first_seen, Observation(job.updated_at, pct))
    if finish is None:
        return None
    return Eta(finish, max(0.0, (finish - now).total_seconds()))


def duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``1h 02m``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@dataclass
class JobClock:
    """What a viewer saw of each job over time: when it first saw it (elapsed) and its
    first progress while running (the ETA's fallback). A compacted replay shows only each
    job's latest state, so a replayed finished job has no elapsed time."""

    first_seen: dict[str, datetime] = field(default_factory=dict)
    first_progress: dict[str, Observation] = field(default_factory=dict)

    def observe(self, job: JobStatusEvent) -> None:
        seen = self.first_seen.get(job.job_key)
        if seen is None or job.updated_at < seen:
            self.first_seen[job.job_key] = job.updated_at
        if (
            job.status is JobStatus.RUNNING
            and job.percentage_done is not None
            and job.job_key not in self.first_progress
        ):
            self.first_progress[job.job_key] = Observation(job.updated_at, job.percentage_done)

    def elapsed(self, job: JobStatusEvent, now: datetime) -> float | None:
        """Seconds from first seen to the end (terminal) or ``now``; None when seen once
        in a terminal state."""
        seen = self.first_seen.get(job.job_key)
        if seen is None:
            return None
        end = job.updated_at if job.status.terminal else now
        if job.status.terminal and end <= seen:
            return None
        return max(0.0, (end - seen).total_seconds())


def epochs_planned(job: JobStatusEvent) -> int | None:
    """The ``epochs`` hyperparameter the job was created with, when known."""
    epochs = (job.hyperparameters or {}).get("epochs")
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
