"""Async NeMo platform client: Entity Store, Data Store via the HF Hub API, Customizer,
Deployments, with one error model and one retry policy. Nothing here knows about
submissions; the per-dataset flow built on it is ``prefstream_submission``."""

from prefstream_nemo.client import NemoClient
from prefstream_nemo.errors import Exists, Missing, NemoError, Permanent, Transient
from prefstream_nemo.models import DeploymentInfo, JobInfo, JobProgress, RemoteFile
from prefstream_nemo.retry import RetryPolicy

__all__ = [
    "DeploymentInfo",
    "Exists",
    "JobInfo",
    "JobProgress",
    "Missing",
    "NemoClient",
    "NemoError",
    "Permanent",
    "RemoteFile",
    "RetryPolicy",
    "Transient",
]
