"""The submission domain model: one dataset on its way to a training job.

:class:`Step` is how far a dataset got, :class:`Submission` everything known about it, and
a *lineage* is the unversioned dataset name that the ``latest`` queue policy groups by. The
submitter's ledger (``prefstream_stores.ledger``) stores these; it imports this module,
never the other way round.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from prefstream_events import DatasetReady, JobMetricsEvent, JobStatus, JobStatusEvent


class Step(StrEnum):
    """How far a dataset got, in order. Each is written once its effect is known to exist."""

    QUEUED = "queued"
    STARTED = "started"
    REPO_CREATED = "repo_created"
    UPLOADED = "uploaded"
    REGISTERED = "registered"
    JOB_REQUESTED = "job_requested"
    """Intent: a job create is about to be sent; after a crash here, look the job up."""
    JOB_CREATED = "job_created"
    JOB_FINISHED = "job_finished"
    DEPLOY_REQUESTED = "deploy_requested"
    DEPLOYED = "deployed"
    DONE = "done"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = list(Step)


@dataclass
class Submission:
    """Everything the submitter knows about one dataset; the row of ``submissions``."""

    dataset: DatasetReady
    ordinal: int
    lineage: str
    step: Step = Step.QUEUED
    status: JobStatus = JobStatus.QUEUED
    closed: bool = False
    seq: int = 0
    published_seq: int = 0
    last_event: JobStatusEvent | None = None
    job_id: str | None = None
    output_model: str | None = None
    commit_oid: str | None = None
    dataset_entity_id: str | None = None
    deployment_name: str | None = None
    error: str | None = None
    received_at: float = field(default_factory=time.time)
    started_at: float | None = None
    job_created_at: float | None = None
    updated_at: float = field(default_factory=time.time)
    published_metrics: dict[int, JobMetricsEvent] = field(default_factory=dict)
    """The last chunk of curves sent, by chunk. Not in the ledger: after a restart every
    chunk is sent once more, and a copy only replaces its equal on the topic."""

    @property
    def dataset_id(self) -> str:
        return self.dataset.dataset_id

    @property
    def job_key(self) -> str:
        """The key of this dataset's JobStatusEvents: one job per dataset, so its id."""
        return self.dataset.dataset_id

    @property
    def started(self) -> bool:
        return self.step is not Step.QUEUED

    @property
    def holds_job_slot(self) -> bool:
        """Counts against ``max_concurrent_jobs``: started and the training job not over."""
        return not self.closed and self.started and self.step.rank < Step.JOB_FINISHED.rank


def lineage_of(dataset: DatasetReady) -> str:
    """The unversioned dataset name: ``<dataset_name>-<sequence>`` without ``-<sequence>``."""
    suffix = f"-{dataset.sequence}"
    name = dataset.name
    return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name
