"""The latest state of every job, folded from JobStatusEvents (what a compacted topic keeps).

Events may arrive twice or out of order after a producer retry or a replay; the highest
``seq`` per ``job_key`` wins, so any subscriber converges on the submitter's view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstream_events.models import JobStatus, JobStatusEvent


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
        return sorted(self.jobs.values(), key=lambda e: (e.dataset_name, e.job_key))

    def count(self, status: JobStatus) -> int:
        return sum(1 for e in self.jobs.values() if e.status is status)

    def all_terminal(self) -> bool:
        return bool(self.jobs) and all(e.status.terminal for e in self.jobs.values())
