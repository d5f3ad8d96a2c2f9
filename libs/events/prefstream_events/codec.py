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
    """Classify a validation failure into the dead-letter reasons of docs/pairing.md#decoding."""
    errors = exc.errors(include_url=False)
    types = {err["type"] for err in errors}
    if "json_invalid" in types or "json_type" in types:
        # The JSON parser (jiter) refuses nesting deeper than 200 levels with this message.
        deep = any("recursion limit exceeded" in err["msg"] for err in errors)
        return "too_deep" if deep else "not_json"
    if "finite_number" in types:
        return "non_finite_score"
    if types & {"string_too_long", "too_long"}:
        return "oversize"
    if "missing" in types:
        return "missing_field"
    return "invalid_field"


def check_utf8(raw: bytes) -> None:
    """Raise ``invalid_utf8`` unless ``raw`` is UTF-8 (JSON's encoding, RFC 8259 section 8.1).

    Checked before parsing so that the reason does not depend on where the bad bytes sit
    (in a string, a key or between tokens) nor on how a parser words its error.
    """
    if raw.isascii():
        return
    try:
        raw.decode()
    except UnicodeDecodeError as exc:
        raise InvalidEvent(
            "invalid_utf8", f"<root>: not UTF-8 at byte {exc.start}: {exc.reason}"
        ) from None


def decode(model: type[M], raw: bytes, *, max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> M:
    """Validate one JSON record into ``model``; raise :class:`InvalidEvent` on any problem.

    Nothing else escapes: whatever one record makes validation raise is that record's
    fault, and a consumer must dead-letter it rather than rewind to it forever.
    """
    if len(raw) > max_bytes:
        raise InvalidEvent("oversize", f"record: {len(raw)} bytes is above the {max_bytes} limit")
    check_utf8(raw)
    try:
        return model.model_validate_json(raw)
    except Exception as exc:
        raise invalid_event(exc) from exc


def validate(model: type[M], data: Any) -> M:
    """Validate already-parsed data, raising :class:`InvalidEvent` like :func:`decode`."""
    try:
        return model.model_validate(data)
    except Exception as exc:
        raise invalid_event(exc) from exc


def invalid_event(exc: Exception) -> InvalidEvent:
    """Any exception validation raised for one record, as that record's dead-letter reason.

    ``undecodable`` names what no other reason does (a validator bug, say); the detail
    keeps the exception type so it can be found.
    """
    if isinstance(exc, ValidationError):
        return InvalidEvent(reason_for(exc), describe_validation_error(exc))
    if isinstance(exc, RecursionError):
        return InvalidEvent("too_deep", f"<root>: {exc}")
    return InvalidEvent("undecodable", f"<root>: {type(exc).__name__}: {exc}")


def encode(event: BaseModel) -> bytes:
    return event.model_dump_json(exclude_none=False).encode()
