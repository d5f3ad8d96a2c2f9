"""JSON Schema export of every event, for ``schemas/`` and the drift test."""

from __future__ import annotations

import json

from pydantic import BaseModel

from prefstream_events.evaluation import EvaluationEvent
from prefstream_events.job_metrics import JobMetricsEvent
from prefstream_events.models import (
    CandidateEvent,
    CutRequest,
    DatasetReady,
    DeadLetter,
    JobStatusEvent,
    PairEvent,
)

MODELS: tuple[type[BaseModel], ...] = (
    CandidateEvent,
    PairEvent,
    DatasetReady,
    JobStatusEvent,
    DeadLetter,
    CutRequest,
    EvaluationEvent,
    JobMetricsEvent,
)


def schema_documents() -> dict[str, str]:
    """File name to JSON text, stable (sorted keys, trailing newline) so diffs are meaningful."""
    docs = {}
    for model in MODELS:
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://prefstream.dev/schemas/{model.__name__}.json"
        docs[f"{model.__name__}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return docs
