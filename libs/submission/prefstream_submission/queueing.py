"""Queue policies for continuous retraining, as pure functions over ledger records.

- ``fifo``: every dataset gets a job, in arrival order.
- ``latest``: within one lineage (the dataset name without its ``-<sequence>``), a newer
  dataset supersedes the older ones still waiting; a dataset older than one already
  queued or started is superseded on arrival. Started datasets are never touched. Meant
  for ``cumulative`` batches, where the newest dataset contains the older ones' pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from prefstream_submission.model import Submission

QueuePolicy = Literal["fifo", "latest"]


def superseded_by_arrival(
    policy: QueuePolicy, new: Submission, known: Iterable[Submission]
) -> tuple[list[Submission], bool]:
    """``(older queued datasets to supersede, whether ``new`` itself is superseded)``."""
    if policy == "fifo":
        return [], False
    same = [s for s in known if s.lineage == new.lineage and s.dataset_id != new.dataset_id]
    live = [s for s in same if not s.closed]
    newer_exists = any(s.dataset.sequence > new.dataset.sequence for s in live)
    if newer_exists:
        return [], True
    older_queued = [s for s in live if not s.started and s.dataset.sequence < new.dataset.sequence]
    return sorted(older_queued, key=lambda s: s.ordinal), False


def next_to_start(queued: Iterable[Submission]) -> Submission | None:
    """The waiting dataset that arrived first (under ``latest`` the older ones are gone)."""
    waiting = [s for s in queued if not s.closed and not s.started]
    return min(waiting, key=lambda s: s.ordinal, default=None)
