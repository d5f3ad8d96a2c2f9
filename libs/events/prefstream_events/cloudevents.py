"""CloudEvents 1.0 Kafka protocol binding, binary mode: attributes travel as ``ce_*`` headers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"

EVENT_TYPES: dict[str, str] = {
    "CandidateEvent": "dev.prefstream.candidate.v1",
    "PairEvent": "dev.prefstream.pair.v1",
    "DatasetReady": "dev.prefstream.dataset.ready.v1",
    "JobStatusEvent": "dev.prefstream.job.status.v1",
    "DeadLetter": "dev.prefstream.deadletter.v1",
    "CutRequest": "dev.prefstream.control.dataset-cut.v1",
    "EvaluationEvent": "dev.prefstream.evaluation.v1",
    "JobMetricsEvent": "dev.prefstream.job.metrics.v1",
}


@dataclass(frozen=True, slots=True)
class CloudEventAttributes:
    id: str
    type: str
    source: str
    time: str
    specversion: str = SPECVERSION
    subject: str | None = None


def ce_headers(
    event_type: str,
    source: str,
    *,
    event_id: str | None = None,
    time: datetime | None = None,
    subject: str | None = None,
) -> dict[str, str]:
    """Headers for one record. ``event_type`` may be a model name from :data:`EVENT_TYPES`."""
    headers = {
        "ce_specversion": SPECVERSION,
        "ce_id": event_id or uuid.uuid4().hex,
        "ce_type": EVENT_TYPES.get(event_type, event_type),
        "ce_source": source,
        "ce_time": (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "content-type": CONTENT_TYPE,
    }
    if subject is not None:
        headers["ce_subject"] = subject
    return headers


def as_kafka_headers(headers: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in headers.items()]


def parse_ce_headers(
    headers: Mapping[str, str | bytes] | Iterable[tuple[str, bytes]],
) -> CloudEventAttributes:
    """Read the attributes back; raises ``KeyError`` naming the first required one missing."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    values = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in items}
    for name in ("ce_id", "ce_type", "ce_source", "ce_specversion"):
        if name not in values:
            raise KeyError(f"missing CloudEvents header {name!r}")
    return CloudEventAttributes(
        id=values["ce_id"],
        type=values["ce_type"],
        source=values["ce_source"],
        time=values.get("ce_time", ""),
        specversion=values["ce_specversion"],
        subject=values.get("ce_subject"),
    )
