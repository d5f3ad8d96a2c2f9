"""What the submitter reads from platform responses, parsed leniently.

Servers differ in what they fill in (``percentage_done`` may be absent or ``null``, losses
appear only once training logs them), so every field but the ids and the status is
optional, and a field of the wrong type is treated as absent instead of failing the job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

JsonObj = dict[str, Any]
DATASET_ID_FIELD = "prefstream_dataset_id"
"""``custom_fields`` key the flow stamps on the datasets and jobs it creates."""


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return int(number) if number is not None and number >= 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _ref(value: Any) -> tuple[str | None, str | None]:
    """``"ns/name"`` or ``{"namespace", "name"}`` → ``(namespace, name)``."""
    if isinstance(value, dict):
        return _str(value.get("namespace")), _str(value.get("name"))
    if isinstance(value, str) and "/" in value:
        ns, _, name = value.partition("/")
        return ns, name
    return None, _str(value)


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One logged point of a ``metrics.metrics`` series."""

    step: int
    value: float
    at: str | None = None


@dataclass(frozen=True)
class JobProgress:
    """One read of ``GET /v1/customization/jobs/{id}/status``."""

    status: str
    percentage_done: float | None = None
    epochs_completed: int | None = None
    steps_completed: int | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    message: str | None = None
    error: str | None = None
    series: dict[str, tuple[MetricSample, ...]] = field(default_factory=dict)
    """Every logged point of every ``metrics.metrics`` series (train_loss, val_loss, ...)."""

    @classmethod
    def parse(cls, body: Any) -> JobProgress:
        data: JsonObj = body if isinstance(body, dict) else {}
        status = (_str(data.get("status")) or "unknown").lower()
        pct = _num(data.get("percentage_done"))
        logs = _logs(data.get("status_logs"))
        return cls(
            status=status,
            percentage_done=None if pct is None else min(100.0, max(0.0, pct)),
            epochs_completed=_int(data.get("epochs_completed")),
            steps_completed=_int(data.get("steps_completed")),
            train_loss=_loss(data, "train_loss", final=status == "completed"),
            val_loss=_loss(data, "val_loss", final=status == "completed"),
            message=logs[-1] if logs else None,
            error=_failure_text(logs) if status == "failed" else None,
            series=_series(data.get("metrics")),
        )


def _series(metrics: Any) -> dict[str, tuple[MetricSample, ...]]:
    """``{"metrics": {name: [{"step", "value", "timestamp"}]}}``; points without an integer
    step or a finite value are skipped, as are series that are not lists."""
    named = metrics.get("metrics") if isinstance(metrics, dict) else None
    out: dict[str, tuple[MetricSample, ...]] = {}
    for name, points in named.items() if isinstance(named, dict) else ():
        if not isinstance(name, str) or not isinstance(points, list):
            continue
        samples = []
        for point in points:
            if not isinstance(point, dict):
                continue
            step, value = point.get("step"), _num(point.get("value"))
            if isinstance(step, bool) or not isinstance(step, int) or step < 0 or value is None:
                continue
            samples.append(MetricSample(step, value, _str(point.get("timestamp"))))
        if samples:
            out[name] = tuple(samples)
    return out


def _logs(value: Any) -> list[str]:
    """Each status log as ``message: detail`` (either alone when the other is empty)."""
    out = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict):
            continue
        message, detail = _str(entry.get("message")), _str(entry.get("detail"))
        if message and detail and detail != message:
            out.append(f"{message}: {detail}")
        elif message or detail:
            out.append(str(message or detail))
    return out


def _failure_text(logs: list[str]) -> str:
    return logs[-1] if logs else "the job failed and the server gave no reason"


def _loss(data: JsonObj, key: str, *, final: bool) -> float | None:
    """Live progress shows the newest logged value; a completed job shows the best
    checkpoint's (that is the output model), when the server reports it."""
    best = _num(data.get(key))
    if final and best is not None:
        return best
    metrics = data.get("metrics")
    if isinstance(metrics, dict):
        series = metrics.get("metrics")
        points = series.get(key) if isinstance(series, dict) else None
        if isinstance(points, list):
            for point in reversed(points):
                value = _num(point.get("value")) if isinstance(point, dict) else None
                if value is not None:
                    return value
    return best


@dataclass(frozen=True)
class JobInfo:
    """A customization job as created or listed."""

    id: str
    status: str
    output_model: str | None
    dataset_namespace: str | None
    dataset_name: str | None
    custom_fields: JsonObj
    progress: JobProgress | None = None

    @classmethod
    def parse(cls, body: Any) -> JobInfo:
        data: JsonObj = body if isinstance(body, dict) else {}
        job_id = _str(data.get("id"))
        if job_id is None:
            raise ValueError("a customization job without an 'id'")
        ns, name = _ref(data.get("dataset"))
        details = data.get("status_details")
        custom = data.get("custom_fields")
        return cls(
            id=job_id,
            status=(_str(data.get("status")) or "unknown").lower(),
            output_model=_str(data.get("output_model")),
            dataset_namespace=ns,
            dataset_name=name,
            custom_fields=custom if isinstance(custom, dict) else {},
            progress=JobProgress.parse(details) if isinstance(details, dict) else None,
        )


@dataclass(frozen=True)
class DeploymentInfo:
    """A model deployment; ready when ``status == "ready"``."""

    name: str
    namespace: str
    status: str
    description: str | None
    url: str | None
    config_namespace: str | None
    config_name: str | None

    @classmethod
    def parse(cls, body: Any, *, name: str, namespace: str) -> DeploymentInfo:
        data: JsonObj = body if isinstance(body, dict) else {}
        details = data.get("status_details")
        details = details if isinstance(details, dict) else {}
        cfg_ns, cfg_name = _ref(data.get("config"))
        return cls(
            name=_str(data.get("name")) or name,
            namespace=_str(data.get("namespace")) or namespace,
            status=(_str(details.get("status")) or "unknown").lower(),
            description=_str(details.get("description")),
            url=_str(data.get("url")),
            config_namespace=cfg_ns,
            config_name=cfg_name,
        )


@dataclass(frozen=True)
class RemoteFile:
    """A file in a Data Store repo: git blob ``oid``, plus the sha256 when stored in LFS."""

    path: str
    oid: str | None
    size: int | None
    lfs_sha256: str | None = None
