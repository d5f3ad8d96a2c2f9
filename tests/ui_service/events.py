"""Events of the five topics the web view reads, as the services would publish them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prefstream_events import (
    DatasetFile,
    DatasetReady,
    DeadLetter,
    EvaluationEvent,
    JobMetricsEvent,
    JobStatus,
    JobStatusEvent,
    SourceOffset,
    metric_chunks,
)

from tests.support.evaluations import evaluation_fields

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SHA = "0" * 64


@dataclass(frozen=True)
class Logged:
    """A point as the platform reports it."""

    step: int
    value: float
    at: str | None = None


def job(name: str, seq: int = 1, **fields: Any) -> JobStatusEvent:
    values: dict[str, Any] = {
        "job_key": f"ds-{name}",
        "seq": seq,
        "dataset_id": f"ds-{name}",
        "dataset_name": name,
        "status": JobStatus.RUNNING,
        "job_id": f"cust-{name}",
        "updated_at": T0,
    }
    values.update(fields)
    return JobStatusEvent.model_validate(values)


def curve(
    name: str, steps: int, *, every: int = 1, start: datetime = T0, seconds_per_step: float = 1.0
) -> list[JobMetricsEvent]:
    """A falling train loss logged every ``every`` steps up to ``steps``, a val loss per 10."""
    train = [
        Logged(
            s, 0.69 / (1 + s / 50), (start + timedelta(seconds=s * seconds_per_step)).isoformat()
        )
        for s in range(every, steps + 1, every)
    ]
    val = [Logged(s, 0.7 / (1 + s / 60)) for s in range(10, steps + 1, 10)]
    return metric_chunks(f"ds-{name}", f"cust-{name}", {"train_loss": train, "val_loss": val})


def dataset(name: str, sequence: int, **fields: Any) -> DatasetReady:
    values: dict[str, Any] = {
        "dataset_id": f"ds-{name}",
        "name": name,
        "sequence": sequence,
        "directory": f"/data/datasets/{name}",
        "training": DatasetFile(path="training/training_file.jsonl", sha256=SHA, rows=80, bytes=9),
        "validation": DatasetFile(
            path="validation/validation_file.jsonl", sha256=SHA, rows=20, bytes=9
        ),
        "manifest_path": f"/data/datasets/{name}/manifest.json",
        "manifest_sha256": SHA,
        "num_pairs": 100,
        "mode": "incremental",
        "policy_models": {"ns/policy-a": 70, "ns/policy-b": 30},
        "created_at": T0 + timedelta(minutes=sequence),
        "trigger": "min_new_pairs",
    }
    values.update(fields)
    return DatasetReady.model_validate(values)


def evaluation(model: str, promoted: bool, minutes: int, **fields: Any) -> EvaluationEvent:
    values = evaluation_fields(model=model, promoted=promoted, **fields)
    values["evaluated_at"] = T0 + timedelta(minutes=minutes)
    return EvaluationEvent.model_validate(values)


def letter(reason: str, offset: int, service: str = "pairing") -> DeadLetter:
    return DeadLetter(
        reason=reason,
        detail="bad record",
        service=service,
        source=SourceOffset(topic="prefstream.candidates.v1", partition=0, offset=offset),
        original=b"{",
        failed_at=T0 + timedelta(seconds=offset),
    )
