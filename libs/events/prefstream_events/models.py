"""The events that cross topics (README.md lists each topic, key and value).

Field names follow NAT's ``TTCEventData`` so a NAT export is valid input. Models are
strict about what the pipeline depends on (ids, score, prompt shape) and lenient about
everything else: unknown fields are moved into ``metadata`` instead of being rejected,
because agents evolve faster than this contract.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from prefstream_events.limits import (
    DEADLETTER_MAX_BYTES,
    DEADLETTER_MAX_KEY_BYTES,
    MAX_ID_CHARS,
    MAX_INDEX,
    MAX_TEXT_CHARS,
)

Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
OptionalId = Annotated[str, Field(max_length=MAX_ID_CHARS)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Index = Annotated[int, Field(ge=0, le=MAX_INDEX)]


def _from_base64(value: Any) -> Any:
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


RawBytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda b: base64.b64encode(b).decode(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
"""Bytes kept exactly as received: Python ``bytes`` in memory, base64 in JSON."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class ChatMessage(BaseModel):
    """An OpenAI-style message. Extra keys (``name``, ``tool_calls``) are kept, not dropped."""

    model_config = ConfigDict(extra="allow", frozen=True)

    role: Annotated[str, Field(min_length=1, max_length=64)]
    content: Text


Prompt = Text | list[ChatMessage]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")


# Candidates come from agents we do not control: their wire types are the JSON Schema's,
# with no lax coercion. ``true`` is not 1, ``"0.5"`` is not a number, ``1.0`` is not an
# index (a JSON integer such as ``1`` is a valid score, as JSON Schema's "number" says).
StrictIndex = Annotated[int, Field(strict=True, ge=0, le=MAX_INDEX)]
StrictScore = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float):  # bool is an int
        raise ValueError("a timestamp is an RFC 3339 string, not a number")
    return value


class CandidateEvent(_Event):
    """One scored candidate of one decision point (NAT ``TTCEventData`` plus routing ids)."""

    example_id: Id
    turn_id: Id
    turn_index: StrictIndex
    candidate_index: StrictIndex
    input: Prompt
    output: Text
    score: StrictScore
    run_id: OptionalId = ""
    ttc_step_name: Id = "dpo_candidate_move"
    num_candidates: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = None
    is_selected: Annotated[bool, Field(strict=True)] | None = None
    policy_model: OptionalId | None = None
    agent_id: OptionalId | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    event_time: Annotated[AwareDatetime, BeforeValidator(_not_a_number)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _unknown_fields_to_metadata(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        unknown = {k: v for k, v in data.items() if k not in cls.model_fields}
        if not unknown:
            return data
        known = {k: v for k, v in data.items() if k in cls.model_fields}
        metadata = known.get("metadata")
        merged = dict(metadata) if isinstance(metadata, dict) else {}
        for key, value in unknown.items():
            merged.setdefault(key, value)
        known["metadata"] = merged if isinstance(metadata, dict) or metadata is None else metadata
        return known


class SourceOffset(_Event):
    """Where an event came from, so any output can be traced back to its input records."""

    topic: str
    partition: NonNegativeInt
    offset: NonNegativeInt


class PairEvent(_Event):
    """One DPO preference pair produced by the pairing service."""

    pair_id: Id
    content_hash: Id
    run_id: OptionalId
    example_id: Id
    turn_id: Id
    prompt: Prompt
    chosen: Text
    rejected: Text
    chosen_score: FiniteFloat
    rejected_score: FiniteFloat
    score_diff: FiniteFloat
    reward: FiniteFloat
    chosen_index: Index
    rejected_index: Index
    ttc_step_name: Id = "dpo_candidate_move"
    policy_model: OptionalId | None = None
    rejected_policy_model: OptionalId | None = None
    close_reason: Literal["num_candidates", "inactivity", "max_age", "late", "offline"] | None = (
        None
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    event_time: AwareDatetime = Field(default_factory=utc_now)


class DatasetFile(_Event):
    path: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    rows: NonNegativeInt
    bytes: NonNegativeInt


class DatasetReady(_Event):
    """A cut dataset on disk, ready to be submitted. Its files are never rewritten."""

    dataset_id: Id
    name: Id
    sequence: NonNegativeInt
    directory: str
    training: DatasetFile
    validation: DatasetFile
    manifest_path: str
    manifest_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    num_pairs: NonNegativeInt
    mode: Literal["incremental", "cumulative"]
    policy_models: dict[str, NonNegativeInt] = Field(default_factory=dict)
    created_at: AwareDatetime = Field(default_factory=utc_now)
    trigger: Literal["min_new_pairs", "max_wait", "forced"] | None = None
    request_id: OptionalId | None = Field(
        None, description="The CutRequest that forced this cut, if one did."
    )
    policy_filter: list[OptionalId] | None = Field(
        None, description="Only pairs from these policy models were taken; None: all."
    )
    source_offsets: list[SourceOffset] = Field(
        default_factory=list,
        description="Per partition of the pairs topic, the first offset NOT covered: the cut "
        "holds pairs below it (and at or above the previous cut's). Lets a fresh batcher "
        "reproduce the cut.",
    )


class CutRequest(_Event):
    """Asks the batcher to cut a dataset now, on the control topic (``prefstream dataset cut``)."""

    command: Literal["dataset.cut"] = "dataset.cut"
    request_id: Id
    policy_models: list[OptionalId] | None = Field(
        None, description="Restrict this cut to pairs from these policy models."
    )
    requested_at: AwareDatetime = Field(default_factory=utc_now)


class JobStatus(StrEnum):
    """Job states: NeMo Customizer's, plus the submitter's own before and around the job."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    CREATED = "created"
    PENDING = "pending"
    RUNNING = "running"
    CANCELLING = "cancelling"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in {
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.CANCELLED,
            JobStatus.SUPERSEDED,
        }


class DeploymentState(_Event):
    name: str
    namespace: str
    status: str
    url: str | None = None
    description: str | None = None


class JobStatusEvent(_Event):
    """Full current state of one training job; the latest ``seq`` per ``job_key`` wins."""

    job_key: Id
    seq: NonNegativeInt
    dataset_id: Id
    dataset_name: Id
    status: JobStatus
    job_id: OptionalId | None = None
    output_model: OptionalId | None = None
    namespace: OptionalId | None = None
    percentage_done: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None
    epochs_completed: NonNegativeInt | None = None
    steps_completed: NonNegativeInt | None = None
    train_loss: FiniteFloat | None = None
    val_loss: FiniteFloat | None = None
    message: str | None = None
    error: str | None = None
    deployment: DeploymentState | None = None
    customization_config: OptionalId | None = Field(
        None,
        description="The customization config the job trains with (namespace/name), once "
        "chosen; None in events from before the choice.",
    )
    start_model: OptionalId | None = Field(
        None,
        description="The promoted model the job continues training "
        "(retraining.start_from: latest); None: the base model of the configured "
        "customization config.",
    )
    hyperparameters: dict[str, Any] | None = Field(
        None,
        description="The hyperparameters the job was created with, as sent to the platform; "
        "None before the job exists. Its curves are on the job-metrics topic.",
    )
    updated_at: AwareDatetime = Field(default_factory=utc_now)


class ConsumedRecord(Protocol):
    """What a dead letter needs from a consumed Kafka record (aiokafka's ConsumerRecord)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def deadletter_id(topic: str, partition: int, offset: int, reason: str) -> str:
    """sha256 of the compact JSON ``[topic, partition, offset, reason]``, hex, first 32
    characters: the same record rejected for the same reason always gets the same id."""
    doc = json.dumps([topic, partition, offset, reason], separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


_DETAIL_CHARS = 4000


def _deadletter_id_required(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "deadletter_id" not in required:
        required.insert(0, "deadletter_id")


class DeadLetter(_Event):
    """A record a service could not use, with its original bytes (cut to a size that any
    broker accepts) and where it came from.

    ``deadletter_id`` is deterministic (source coordinates and reason), and is the
    record's CloudEvents ``ce_id``: a replay may publish a letter again, and consumers
    deduplicate by it, as they do pairs by ``pair_id``."""

    model_config = ConfigDict(json_schema_extra=_deadletter_id_required)

    deadletter_id: Id = Field(
        "",  # derived from source and reason when not given (always present on the wire)
        description="sha256 of [source topic, partition, offset, reason] as compact JSON, "
        "hex, first 32 characters; also the CloudEvents ce_id. Deduplicate by it.",
    )
    reason: Annotated[str, Field(min_length=1, max_length=64)]
    detail: str
    service: str
    source: SourceOffset
    key: RawBytes | None = Field(
        None, description=f"The record's key, its first {DEADLETTER_MAX_KEY_BYTES} bytes."
    )
    original: RawBytes = Field(
        description="The record's value, exactly; only its first bytes when "
        "original_truncated (so that the letter fits a broker's default message size)."
    )
    original_truncated: bool = False
    original_bytes: NonNegativeInt | None = Field(
        None, description="Size of the whole original value (None: not recorded)."
    )
    original_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="sha256 of the whole original value, hex (None: not recorded)."
    )
    failed_at: AwareDatetime = Field(default_factory=utc_now)

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("deadletter_id"):
            return data
        source = data.get("source")
        if isinstance(source, SourceOffset):
            source = source.model_dump()
        reason = data.get("reason")
        if not isinstance(source, dict) or not isinstance(reason, str):
            return data  # validation names what is missing
        try:
            ident = deadletter_id(
                str(source["topic"]), int(source["partition"]), int(source["offset"]), reason
            )
        except (KeyError, TypeError, ValueError):
            return data
        return {**data, "deadletter_id": ident}

    @classmethod
    def for_record(
        cls,
        record: ConsumedRecord,
        *,
        reason: str,
        detail: str,
        service: str,
        max_bytes: int = DEADLETTER_MAX_BYTES,
    ) -> DeadLetter:
        """The letter of ``record``, its JSON encoding at most ``max_bytes`` long: the
        original value is cut as much as needed (``original_truncated``), its full size
        and sha256 are kept, and so are the source coordinates."""
        value = record.value or b""
        key = record.key[:DEADLETTER_MAX_KEY_BYTES] if record.key is not None else None
        letter = cls(
            deadletter_id=deadletter_id(record.topic, record.partition, record.offset, reason),
            reason=reason,
            detail=detail[:_DETAIL_CHARS],
            service=service,
            source=SourceOffset(
                topic=record.topic, partition=record.partition, offset=record.offset
            ),
            key=key,
            original=b"",
            original_truncated=False,  # "false" is longer than "true": an upper bound
            original_bytes=len(value),
            original_sha256=hashlib.sha256(value).hexdigest(),
        )
        room = max_bytes - len(letter.model_dump_json())
        if room < 0 and letter.detail:  # a detail of multi-byte or escaped characters
            letter = letter.model_copy(update={"detail": ""})
            room = max_bytes - len(letter.model_dump_json())
        fits = max(0, room) // 4 * 3  # base64: 4 characters per 3 bytes
        truncated = len(value) > fits
        return letter.model_copy(
            update={
                "original": value[:fits] if truncated else value,
                "original_truncated": truncated,
            }
        )
