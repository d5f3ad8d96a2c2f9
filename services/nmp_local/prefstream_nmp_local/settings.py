"""Settings for nmp-local: one pydantic model, built in code or from ``NMP_LOCAL_*`` env vars.

Clock speeds and fault injection live here so that a test can start nmp-local with a
job that finishes in a second, or with a route that fails half the time, without code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ENV_PREFIX = "NMP_LOCAL_"

RouteValues = float | dict[str, float]


def _values(value: RouteValues) -> list[float]:
    return list(value.values()) if isinstance(value, dict) else [value]


def _probabilities(value: RouteValues) -> RouteValues:
    if any(not 0.0 <= v <= 1.0 for v in _values(value)):
        raise ValueError("rates must be within [0, 1]")
    return value


def _non_negative(value: RouteValues) -> RouteValues:
    if any(v < 0 for v in _values(value)):
        raise ValueError("latency must be >= 0")
    return value


Rate = Annotated[RouteValues, AfterValidator(_probabilities)]
"""A probability, or one per route pattern; shared by settings and the live fault API."""
Latency = Annotated[RouteValues, AfterValidator(_non_negative)]
"""A number applied to every route, or ``{route pattern: number}`` (see ``faults.py``)."""


class NmpLocalSettings(BaseModel):
    """Everything nmp-local can be told; every field has an env var ``NMP_LOCAL_<FIELD>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path("data/nmp-local")
    public_url: str | None = None
    """Base URL put into generated links (HF repo/commit URLs, LFS hrefs); default: the
    URL the request came in on."""
    log_level: str = "warning"

    # Clocks (seconds of wall time).
    job_created_seconds: float = Field(1.0, ge=0)
    job_pending_seconds: float = Field(2.0, ge=0)
    job_seconds_per_epoch: float = Field(10.0, gt=0)
    deployment_ready_seconds: float = Field(5.0, ge=0)
    tick_seconds: float = Field(0.2, gt=0)
    """How often the background task finalises finished jobs (registers output models)."""

    # Customizer trainer (see docs/nmp-local.md, "Trainers").
    trainer: Literal["auto", "simulated", "trl"] = "auto"
    """``auto``: TRL when torch and trl are importable and the job's base model has weights in
    the Data Store, else the simulated clock; ``trl``: a weightless base model is a 422."""
    max_training_jobs: int = Field(1, ge=1)
    """TRL jobs training at once; the others wait as ``pending``."""
    checkpoint_every_steps: int = Field(20, ge=1)
    """TRL checkpoint interval: a job resumes from its last checkpoint after a crash."""
    training_device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto``: CUDA when torch sees a GPU."""

    # Data Store.
    lfs_threshold_bytes: int = Field(10 * 1024 * 1024, ge=1)
    """Files larger than this (or whose sample holds a NUL byte) are sent through git-LFS."""

    # Fault injection.
    error_rate: Rate = 0.0
    error_status: int = Field(503, ge=500, le=599)
    latency_ms: Latency = 0.0
    drop_rate: Rate = 0.0
    """Probability that a request's connection is dropped before it is handled."""
    drop_response_rate: Rate = 0.0
    """Probability that a request is handled but its response is lost (connection dropped)."""
    fail_jobs_at_percent: float | None = Field(None, ge=0, le=100)
    fault_seed: int | None = None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> NmpLocalSettings:
        """Read ``NMP_LOCAL_*`` vars; keyword overrides (e.g. CLI flags) win over env."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = parse_env_value(raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """The env vars that reproduce these settings in a child process."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            out[ENV_PREFIX + name.upper()] = value if isinstance(value, str) else json.dumps(value)
        return out


def parse_env_value(raw: str) -> Any:
    """JSON objects/arrays and ``null`` are decoded; anything else stays a string for pydantic."""
    text = raw.strip()
    if text in ("", "null", "none", "None"):
        return None
    if text[:1] in "{[":
        return json.loads(text)
    return raw
