"""Everything the web view knows: the five topics folded into :class:`~prefstream_events.
boards.Boards`, a version that moves whenever they change (an open page asks "anything
since version N?"), and when each running job's progress was first seen (for ETAs).

Nothing here is kept anywhere else: a new view (or one whose reader failed) starts from an
empty state and replays the topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstream_events import JobStatus, JobStatusEvent
from prefstream_events.boards import BoardEvent, Boards
from prefstream_events.eta import Observation


@dataclass
class ViewState:
    boards: Boards = field(default_factory=Boards)
    version: int = 0
    first_progress: dict[str, Observation] = field(default_factory=dict)
    """Per job, its percentage when the view first saw it running (the ETA's fallback)."""

    def apply(self, event: BoardEvent) -> bool:
        changed = self.boards.apply(event)
        if changed:
            self.version += 1
            if isinstance(event, JobStatusEvent):
                self._observe(event)
        return changed

    def _observe(self, job: JobStatusEvent) -> None:
        if (
            job.status is JobStatus.RUNNING
            and job.percentage_done is not None
            and job.job_key not in self.first_progress
        ):
            self.first_progress[job.job_key] = Observation(job.updated_at, job.percentage_done)

    def reset(self) -> None:
        """Forget everything (before a replay from the beginning); the version keeps
        moving forward, so open pages notice."""
        self.boards = Boards()
        self.first_progress = {}
        self.version += 1
