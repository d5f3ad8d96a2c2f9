"""Everything the web view knows: the five topics folded into :class:`~prefstream_events.
boards.Boards`, a version that moves whenever they change (an open page asks "anything
since version N?"), and when each running job's progress was first seen (for ETAs).

Nothing here is kept anywhere else: a new view (or one whose reader failed) starts from an
empty state and replays the topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstream_events import JobStatusEvent
from prefstream_events.boards import BoardEvent, Boards
from prefstream_events.eta import JobClock, Observation


@dataclass
class ViewState:
    boards: Boards = field(default_factory=Boards)
    version: int = 0
    clock: JobClock = field(default_factory=JobClock)
    """What the view saw of each job over time (the ETA's fallback), as ``watch`` keeps it."""

    @property
    def first_progress(self) -> dict[str, Observation]:
        """Per job, its percentage when the view first saw it running."""
        return self.clock.first_progress

    def apply(self, event: BoardEvent) -> bool:
        changed = self.boards.apply(event)
        if changed:
            self.version += 1
            if isinstance(event, JobStatusEvent):
                self.clock.observe(event)
        return changed

    def reset(self) -> None:
        """Forget everything (before a replay from the beginning); the version keeps
        moving forward, so open pages notice."""
        self.boards = Boards()
        self.clock = JobClock()
        self.version += 1
