"""Event contracts shared by every prefstream service (pydantic v2, JSON Schema, CloudEvents)."""

from prefstream_events.cloudevents import ce_headers, parse_ce_headers
from prefstream_events.codec import InvalidEvent, decode, describe_validation_error, encode
from prefstream_events.evaluation import EvaluationEvent, OpponentResult, evaluation_id
from prefstream_events.job_board import JobBoard
from prefstream_events.job_metrics import (
    JobCurves,
    JobMetricsEvent,
    MetricPoint,
    metric_chunks,
)
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
from prefstream_events.promotions import PromotionBoard

__all__ = [
    "CandidateEvent",
    "ChatMessage",
    "CutRequest",
    "DatasetFile",
    "DatasetReady",
    "DeadLetter",
    "DeploymentState",
    "EvaluationEvent",
    "InvalidEvent",
    "JobBoard",
    "JobCurves",
    "JobMetricsEvent",
    "JobStatus",
    "JobStatusEvent",
    "MetricPoint",
    "OpponentResult",
    "PairEvent",
    "PromotionBoard",
    "Prompt",
    "SourceOffset",
    "ce_headers",
    "decode",
    "describe_validation_error",
    "encode",
    "evaluation_id",
    "metric_chunks",
    "parse_ce_headers",
]
