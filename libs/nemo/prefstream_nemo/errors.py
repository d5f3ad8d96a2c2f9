"""Every failure of a NeMo platform call, reduced to the four cases callers act on.

- :class:`Exists`: 409 (and 422 on a create, which community clients and the peer treat
  as "already exists"). Callers confirm by looking the thing up.
- :class:`Missing`: a 404, with or without HF's ``X-Error-Code``.
- :class:`Transient`: connection errors, timeouts, 408, 429 and 5xx: retry with backoff.
- :class:`Permanent`: anything else (400, 401, 403, other 4xx): retrying cannot help, so
  the message says what the user should change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_DETAIL_CHARS = 2000


class NemoError(Exception):
    """Base class; ``status`` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class Exists(NemoError):
    """The thing a create was asked to make is already there (or the server says so)."""


class Missing(NemoError):
    """The thing asked for does not exist."""


class Transient(NemoError):
    """Worth retrying: the server or the network may do better in a moment."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.retry_after = retry_after


class Permanent(NemoError):
    """Retrying the same request cannot succeed; the message says what to change."""


def detail_text(body: bytes | str) -> str:
    """The human part of an error body: FastAPI ``detail``, HF ``error``, or the raw text."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:MAX_DETAIL_CHARS]
    if isinstance(data, dict):
        for key in ("detail", "error", "message"):
            if key in data:
                value = data[key]
                return (value if isinstance(value, str) else json.dumps(value))[:MAX_DETAIL_CHARS]
    return json.dumps(data)[:MAX_DETAIL_CHARS]


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` or ``retry-after`` in seconds (dates are ignored), capped at 60 s."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if 0 <= value <= 60:
            return value
    return None


_AUTH_HINT = {
    401: "the server wants credentials: set api_token (Entity Store, Customizer, Deployments) "
    "or hf_token (Data Store) under trainer_adapters",
    403: "the credentials were refused: check api_token / hf_token and their permissions",
}


def for_status(
    status: int,
    detail: str,
    what: str,
    *,
    headers: Mapping[str, str] | None = None,
    create: bool = False,
) -> NemoError:
    """Map one error status to its case. ``what`` names the call, e.g. ``create job``."""
    message = f"{what}: HTTP {status}" + (f": {detail}" if detail else "")
    if status == 409 or (create and status == 422):
        return Exists(message, status=status, detail=detail)
    if status == 404:
        return Missing(message, status=status, detail=detail)
    if status in TRANSIENT_STATUSES or status >= 500:
        after = retry_after_seconds(headers or {})
        return Transient(message, status=status, detail=detail, retry_after=after)
    hint = _AUTH_HINT.get(status)
    return Permanent(f"{message} ({hint})" if hint else message, status=status, detail=detail)


def from_response(response: httpx.Response, what: str, *, create: bool = False) -> NemoError:
    return for_status(
        response.status_code,
        detail_text(response.content),
        what,
        headers=response.headers,
        create=create,
    )


def from_transport(exc: Exception, what: str) -> Transient:
    """Connection refused/reset, timeouts, broken responses: the request may or may not have
    reached the server, which is why creates look before they retry."""
    kind = type(exc).__name__
    text = str(exc) or kind
    return Transient(f"{what}: {kind}: {text}")


def describe(exc: BaseException) -> str:
    """One line for logs and events; never includes request headers."""
    if isinstance(exc, NemoError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def json_or_error(response: httpx.Response, what: str) -> Any:
    """The JSON body of a 2xx answer; a non-JSON 2xx is a broken proxy, so transient."""
    try:
        return response.json()
    except ValueError as exc:
        raise Transient(
            f"{what}: HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
            detail=detail_text(response.content),
        ) from exc
