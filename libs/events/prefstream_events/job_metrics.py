"""Training curves: the points a platform logged for a job (``prefstream.job-metrics.v1``).

A JobStatusEvent carries only the latest losses, and the jobs topic is compacted, so the
history lives here, cut into chunks of ``METRICS_CHUNK_STEPS`` steps. Each record holds every
point of one job in one step range and is keyed ``{job_key}/{chunk}``: a record stays bounded
however long the job runs, compaction keeps every chunk (their keys differ), and a chunk
republished with more points (or after a submitter restart) replaces its older copies. A
reader that takes the last record per key, in log order, has what compaction would keep.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Protocol, Self

from pydantic import AwareDatetime, Field, NonNegativeInt, model_validator

from prefstream_events.models import FiniteFloat, Id, OptionalId, _Event, utc_now

METRICS_CHUNK_STEPS = 100
"""Steps per record. At 8 series logged every step, a record holds 800 points (~60 KB)."""
MAX_SERIES = 32
"""Series per record: the platform's ``metrics.metrics`` keys (nmp-local reports 10)."""

_METRIC_NAME_PATTERN = r"^[A-Za-z0-9_./:-]{1,64}$"
_METRIC_NAME = re.compile(_METRIC_NAME_PATTERN)
MetricName = Annotated[str, Field(pattern=_METRIC_NAME_PATTERN)]


class MetricPoint(_Event):
    step: NonNegativeInt
    value: FiniteFloat
    at: AwareDatetime | None = None
    """When the platform logged it, where it says."""


class JobMetricsEvent(_Event):
    """Every point of one job's curves whose step falls in ``chunk``'s range."""

    job_key: Id
    job_id: OptionalId | None = None
    chunk: NonNegativeInt = Field(
        description=f"Steps [chunk * {METRICS_CHUNK_STEPS}, (chunk + 1) * {METRICS_CHUNK_STEPS})."
    )
    series: Annotated[
        dict[MetricName, Annotated[list[MetricPoint], Field(max_length=METRICS_CHUNK_STEPS)]],
        Field(max_length=MAX_SERIES),
    ] = Field(
        description="Points by metric name (train_loss, val_loss, train_accuracy, ...), "
        "by step, one point per step."
    )
    updated_at: AwareDatetime = Field(default_factory=utc_now)

    @model_validator(mode="after")
    def _points_in_range(self) -> Self:
        low, high = chunk_range(self.chunk)
        for name, points in self.series.items():
            steps = [p.step for p in points]
            if any(not low <= s < high for s in steps):
                raise ValueError(f"{name}: a step outside chunk {self.chunk} [{low}, {high})")
            if steps != sorted(set(steps)):
                raise ValueError(f"{name}: steps must be increasing, one point per step")
        return self

    @property
    def key(self) -> str:
        return metrics_key(self.job_key, self.chunk)


def metrics_key(job_key: str, chunk: int) -> str:
    return f"{job_key}/{chunk}"


def chunk_range(chunk: int) -> tuple[int, int]:
    return chunk * METRICS_CHUNK_STEPS, (chunk + 1) * METRICS_CHUNK_STEPS


class Sample(Protocol):
    """A point as a platform reported it (``prefstream_nemo.MetricSample``)."""

    @property
    def step(self) -> int: ...

    @property
    def value(self) -> float: ...

    @property
    def at(self) -> str | None:
        """ISO 8601, as the platform wrote it."""


def metric_chunks(
    job_key: str, job_id: str | None, series: Mapping[str, Sequence[Sample]]
) -> list[JobMetricsEvent]:
    """The platform's series cut into chunk events, in chunk order. A step logged twice keeps
    its last value (a job resumed from a checkpoint logs its steps again). What the contract
    cannot carry is left out, not failed on: names outside ``MetricName``, series past
    ``MAX_SERIES`` (in the platform's order: it lists the losses first), non-finite values,
    timestamps without a zone."""
    by_chunk: dict[int, dict[str, dict[int, MetricPoint]]] = {}
    names = [n for n in series if _METRIC_NAME.fullmatch(n)][:MAX_SERIES]
    for name in names:
        for p in series[name]:
            if p.step < 0 or not math.isfinite(p.value):
                continue
            chunk = p.step // METRICS_CHUNK_STEPS
            point = MetricPoint(step=p.step, value=p.value, at=_aware(p.at))
            by_chunk.setdefault(chunk, {}).setdefault(name, {})[p.step] = point
    return [
        JobMetricsEvent(
            job_key=job_key,
            job_id=job_id,
            chunk=chunk,
            series={n: [pts[s] for s in sorted(pts)] for n, pts in named.items()},
        )
        for chunk, named in sorted(by_chunk.items())
    ]


def _aware(text: str | None) -> datetime | None:
    try:
        at = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


def same_points(a: JobMetricsEvent, b: JobMetricsEvent) -> bool:
    return a.job_id == b.job_id and a.series == b.series


@dataclass
class JobCurves:
    """Every job's curves, folded from JobMetricsEvents: the last record of each chunk wins
    (log order on the topic's one partition, which is what compaction keeps)."""

    chunks: dict[str, dict[int, JobMetricsEvent]] = field(default_factory=dict)

    def apply(self, event: JobMetricsEvent) -> bool:
        """Fold one event in; True when it changed a curve."""
        job = self.chunks.setdefault(event.job_key, {})
        current = job.get(event.chunk)
        if current is not None and same_points(current, event):
            return False
        job[event.chunk] = event
        return True

    def curves(self, job_key: str) -> dict[str, list[MetricPoint]]:
        """The job's series by name, each by step."""
        out: dict[str, list[MetricPoint]] = {}
        for chunk in sorted(self.chunks.get(job_key, {})):
            for name, points in self.chunks[job_key][chunk].series.items():
                out.setdefault(name, []).extend(points)
        return out

    def points(self, job_key: str, name: str) -> int:
        return sum(len(c.series.get(name, ())) for c in self.chunks.get(job_key, {}).values())


def changed_chunks(
    fresh: Iterable[JobMetricsEvent], published: Mapping[int, JobMetricsEvent]
) -> list[JobMetricsEvent]:
    """The chunks whose points differ from what was published last (all of them when
    nothing was, as after a restart: a republished chunk only replaces its equal)."""
    return [e for e in fresh if e.chunk not in published or not same_points(e, published[e.chunk])]
