"""What the topics say about the pipeline, folded into one state: every job and its curves,
every evaluated model, every dataset, and the dead letters by reason.

``prefstream watch`` and the web view both show this; neither keeps anything of its own,
so a replay of the topics from their beginning rebuilds it. Each board folds one topic the
way its compaction (or its deterministic ids) says: the highest ``seq`` per job, the last
record per curve chunk, the latest evaluation per model, one announcement per dataset, one
letter per ``deadletter_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prefstream_events.evaluation import EvaluationEvent
from prefstream_events.job_board import JobBoard
from prefstream_events.job_metrics import JobCurves, JobMetricsEvent
from prefstream_events.models import DatasetReady, DeadLetter, JobStatusEvent
from prefstream_events.promotions import PromotionBoard

BoardEvent = JobStatusEvent | JobMetricsEvent | EvaluationEvent | DatasetReady | DeadLetter


@dataclass
class DatasetBoard:
    """Every announced dataset by ``dataset_id`` (a dataset is announced with one content
    only, so a second announcement is a replay)."""

    datasets: dict[str, DatasetReady] = field(default_factory=dict)

    def apply(self, event: DatasetReady) -> bool:
        if self.datasets.get(event.dataset_id) == event:
            return False
        self.datasets[event.dataset_id] = event
        return True

    def newest_first(self) -> list[DatasetReady]:
        return sorted(
            self.datasets.values(), key=lambda d: (d.created_at, d.sequence), reverse=True
        )


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    count: int
    last_at: datetime
    services: tuple[str, ...]


@dataclass
class DeadLetterTally:
    """Dead letters counted by reason, each once: a replay may publish a letter again with
    the same ``deadletter_id``. Keeps the ids it has counted (about 100 bytes a letter)."""

    counted: set[str] = field(default_factory=set)
    by_reason: dict[str, int] = field(default_factory=dict)
    last_at: dict[str, datetime] = field(default_factory=dict)
    services: dict[str, set[str]] = field(default_factory=dict)

    def apply(self, letter: DeadLetter) -> bool:
        if letter.deadletter_id in self.counted:
            return False
        self.counted.add(letter.deadletter_id)
        reason = letter.reason
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        last = self.last_at.get(reason)
        self.last_at[reason] = letter.failed_at if last is None else max(last, letter.failed_at)
        self.services.setdefault(reason, set()).add(letter.service)
        return True

    @property
    def total(self) -> int:
        return len(self.counted)

    def counts(self) -> list[ReasonCount]:
        """By count, most first (then by reason)."""
        return [
            ReasonCount(reason, n, self.last_at[reason], tuple(sorted(self.services[reason])))
            for reason, n in sorted(self.by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
        ]


@dataclass
class Boards:
    """One board per topic; :meth:`apply` routes an event to its board."""

    jobs: JobBoard = field(default_factory=JobBoard)
    curves: JobCurves = field(default_factory=JobCurves)
    evaluations: PromotionBoard = field(default_factory=PromotionBoard)
    datasets: DatasetBoard = field(default_factory=DatasetBoard)
    deadletters: DeadLetterTally = field(default_factory=DeadLetterTally)

    def apply(self, event: BoardEvent) -> bool:
        """Fold one event in; True when it changed what the boards show."""
        if isinstance(event, JobStatusEvent):
            return self.jobs.apply(event)
        if isinstance(event, JobMetricsEvent):
            return self.curves.apply(event)
        if isinstance(event, EvaluationEvent):
            return self.evaluations.apply(event)
        if isinstance(event, DatasetReady):
            return self.datasets.apply(event)
        return self.deadletters.apply(event)
