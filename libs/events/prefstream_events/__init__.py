"""Event contracts shared by every prefstream service (pydantic v2, JSON Schema, CloudEvents)."""

from prefstream_events.cloudevents import ce_headers, parse_ce_headers
from prefstream_events.codec import InvalidEvent, decode, describe_validation_error, encode
from prefstream_events.models import (
    CandidateEvent,
    ChatMessage,
    CutRequest,
    DatasetFile,
    DatasetReady,
    DeadLetter,
    DeploymentState,
    JobStatus,
    JobStatusEvent,
    PairEvent,
    Prompt,
    SourceOffset,
)

__all__ = [
    "CandidateEvent",
    "ChatMessage",
    "CutRequest",
    "DatasetFile",
    "DatasetReady",
    "DeadLetter",
    "DeploymentState",
    "InvalidEvent",
    "JobStatus",
    "JobStatusEvent",
    "PairEvent",
    "Prompt",
    "SourceOffset",
    "ce_headers",
    "decode",
    "describe_validation_error",
    "encode",
    "parse_ce_headers",
]
