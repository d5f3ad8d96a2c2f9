"""The submission domain: what happens to one dataset between its DatasetReady and its
trained (and maybe deployed) model, built on the NeMo platform client (``prefstream_nemo``).

- ``model``: :class:`Step`, :class:`Submission` and the dataset lineage;
- ``flow``: the resumable per-dataset flow, talking to the platform through a protocol;
- ``job_events``: platform statuses mapped to ours, and the JobStatusEvent emitter;
- ``queueing``: the ``fifo`` and ``latest`` queue policies, pure functions;
- ``dataset_files``: a dataset directory on disk, its file hashes and row checks;
- ``start_model``: the customization config that makes a job start from a promoted model.

Storage lives elsewhere: the submitter's ledger (``prefstream_stores.ledger``) imports
this model, never the other way round.
"""

from prefstream_submission.dataset_files import InvalidDataset, dataset_from_directory
from prefstream_submission.flow import FlowHooks, FlowSettings, Platform, SubmissionFlow
from prefstream_submission.job_events import Emitter, Sink, job_status
from prefstream_submission.model import Step, Submission, lineage_of
from prefstream_submission.queueing import QueuePolicy, next_to_start, superseded_by_arrival
from prefstream_submission.start_model import CustomizationConfigs, PromotedModels, Retraining

__all__ = [
    "CustomizationConfigs",
    "Emitter",
    "FlowHooks",
    "FlowSettings",
    "InvalidDataset",
    "Platform",
    "PromotedModels",
    "QueuePolicy",
    "Retraining",
    "Sink",
    "Step",
    "Submission",
    "SubmissionFlow",
    "dataset_from_directory",
    "job_status",
    "lineage_of",
    "next_to_start",
    "superseded_by_arrival",
]
