"""Bytes to validated events and back, with errors that name the offending field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from prefstream_events.limits import DEFAULT_MAX_RECORD_BYTES

M = TypeVar("M", bound=BaseModel)


class InvalidEvent(ValueError):
    """A record that cannot become an event. ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, each starting with the dotted field path."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def reason_for(exc: ValidationError) -> str:
    """Classify a validation failure into the dead-letter reasons DESIGN.md names."""
    types = {err["type"] for err in exc.errors(include_url=False)}
    if "json_invalid" in types or "json_type" in types:
        return "not_json"
    if "finite_number" in types:
        return "non_finite_score"
    if types & {"string_too_long", "too_long"}:
        return "oversize"
    if "missing" in types:
        return "missing_field"
    return "invalid_field"


def decode(model: type[M], raw: bytes, *, max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> M:
    """Validate one JSON record into ``model``; raise :class:`InvalidEvent` on any problem."""
    if len(raw) > max_bytes:
        raise InvalidEvent("oversize", f"record: {len(raw)} bytes is above the {max_bytes} limit")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(reason_for(exc), describe_validation_error(exc)) from exc


def validate(model: type[M], data: Any) -> M:
    """Validate already-parsed data, raising :class:`InvalidEvent` like :func:`decode`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(reason_for(exc), describe_validation_error(exc)) from exc


def encode(event: BaseModel) -> bytes:
    return event.model_dump_json(exclude_none=False).encode()
