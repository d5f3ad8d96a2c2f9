"""Async NeMo platform client (Entity Store, Data Store via the HF Hub API, Customizer,
Deployments) and the resumable per-dataset submission flow built on it."""

from prefstream_nemo.client import NemoClient
from prefstream_nemo.dataset_files import InvalidDataset, dataset_from_directory
from prefstream_nemo.errors import Exists, Missing, NemoError, Permanent, Transient
from prefstream_nemo.flow import FlowHooks, FlowSettings, Platform, SubmissionFlow
from prefstream_nemo.job_events import Emitter, Sink, job_status
from prefstream_nemo.models import DeploymentInfo, JobInfo, JobProgress, RemoteFile
from prefstream_nemo.retry import RetryPolicy

__all__ = [
    "DeploymentInfo",
    "Emitter",
    "Exists",
    "FlowHooks",
    "FlowSettings",
    "InvalidDataset",
    "JobInfo",
    "JobProgress",
    "Missing",
    "NemoClient",
    "NemoError",
    "Permanent",
    "Platform",
    "RemoteFile",
    "RetryPolicy",
    "Sink",
    "SubmissionFlow",
    "Transient",
    "dataset_from_directory",
    "job_status",
]
