"""The latest state of every job, folded from JobStatusEvents (what a compacted topic keeps).

Events may arrive twice or out of order after a producer retry or a replay; the highest
``seq`` per ``job_key`` wins, so any subscriber converges on the submitter's view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from prefstream_events.models import JobStatus, JobStatusEvent

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, str], ...]:
    """Sort key that orders the numbers inside names by value: ``run-2`` before ``run-10``."""
    return tuple(
        (0, part.zfill(20)) if part.isdigit() else (1, part) for part in _DIGITS.split(text) if part
    )


@dataclass
class JobBoard:
    jobs: dict[str, JobStatusEvent] = field(default_factory=dict)

    def apply(self, event: JobStatusEvent) -> bool:
        """Fold one event in; True when it changed the board."""
        current = self.jobs.get(event.job_key)
        if current is not None and current.seq >= event.seq:
            return False
        self.jobs[event.job_key] = event
        return True

    def ordered(self) -> list[JobStatusEvent]:
        """By dataset name in natural order (``-2`` before ``-10``), then by key."""
        return sorted(
            self.jobs.values(), key=lambda e: (natural_key(e.dataset_name), natural_key(e.job_key))
        )

    def count(self, status: JobStatus) -> int:
        return sum(1 for e in self.jobs.values() if e.status is status)

    def all_terminal(self) -> bool:
        return bool(self.jobs) and all(e.status.terminal for e in self.jobs.values())
