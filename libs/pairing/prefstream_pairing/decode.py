"""Bytes to a validated candidate, fast: msgspec first, pydantic for everything else.

The msgspec path is deliberately *stricter* than ``CandidateEvent`` (no lax coercions), and
every record it does not accept goes through the pydantic model. So the accepted set and the
values are exactly pydantic's, and a bad record gets pydantic's reason and field path; the
equivalence is property-tested on hostile raw bytes in ``tests/pairing/test_decode.py``.

Two things msgspec does not check the way pydantic's parser does, so this module does:
nesting depth (pydantic refuses more than 200 levels; msgspec accepts until Python's
recursion limit, then raises ``RecursionError``), and the UTF-8 of values it skips rather
than decodes (unknown fields). Records with unknown fields therefore take a second, guarded
decode; the common record (known fields only) pays nothing for either check.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

import msgspec
from prefstream_events import CandidateEvent, InvalidEvent, decode
from prefstream_events.codec import invalid_event
from prefstream_events.limits import MAX_ID_CHARS, MAX_INDEX, MAX_TEXT_CHARS
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from prefstream_pairing.candidate import PromptValue

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
_OptId = Annotated[str, msgspec.Meta(max_length=MAX_ID_CHARS)]
_Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT_CHARS)]
_Index = Annotated[int, msgspec.Meta(ge=0, le=MAX_INDEX)]
_NumCandidates = Annotated[int, msgspec.Meta(ge=1, le=10_000)]


class CandidateRecord(msgspec.Struct, gc=False):
    """A validated CandidateEvent with the fields the pairing service uses.

    ``metadata`` and unknown fields are validated but not kept: pairs do not carry them.
    """

    example_id: _Id
    turn_id: _Id
    turn_index: _Index
    candidate_index: _Index
    input: str | list[dict[str, Any]]
    output: _Text
    score: float
    run_id: _OptId = ""
    ttc_step_name: _Id = "dpo_candidate_move"
    num_candidates: _NumCandidates | None = None
    is_selected: bool | None = None
    policy_model: _OptId | None = None
    agent_id: _OptId | None = None
    metadata: dict[str, Any] = {}
    event_time: str | None = None


class _KnownFieldsOnly(CandidateRecord, forbid_unknown_fields=True):
    """Every string of such a record is decoded (so UTF-8-checked) by msgspec, none skipped."""


MAX_DEPTH = 200
"""pydantic's JSON parser (jiter, pydantic-core 2.x) refuses a record nested deeper than
200 arrays/objects with "recursion limit exceeded" (201 when the innermost is empty). The
fast path accepts only records it can prove are within this depth."""

_known = msgspec.json.Decoder(_KnownFieldsOnly)
_any = msgspec.json.Decoder(CandidateRecord)
_aware = TypeAdapter(AwareDatetime)
_event_times: dict[str, bool] = {}


def _valid_event_time(value: str) -> bool:
    """pydantic's own parser decides; one turn shares one timestamp, so results are cached."""
    ok = _event_times.get(value)
    if ok is None:
        try:
            _aware.validate_python(value)
            ok = True
        except ValidationError:
            ok = False
        if len(_event_times) > 4096:
            _event_times.clear()
        _event_times[value] = ok
    return ok


def _within(value: Any, levels: int) -> bool:
    """Whether the list/dict ``value`` nests at most ``levels`` containers deep (itself
    included). Iterative: a deep value must not exhaust the Python stack here either."""
    todo = [(value, levels)]
    while todo:
        node, left = todo.pop()
        if left <= 0:
            return False
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                todo.append((child, left - 1))
    return True


def _valid_messages(messages: list[dict[str, Any]]) -> bool:
    for m in messages:
        role = m.get("role")
        content = m.get("content")
        if not (
            type(role) is str
            and 1 <= len(role) <= 64
            and type(content) is str
            and len(content) <= MAX_TEXT_CHARS
        ):
            return False
        if len(m) > 2:  # extra keys (tool_calls, ...): record, list, message, then the value
            for v in m.values():
                if (type(v) is dict or type(v) is list) and not _within(v, MAX_DEPTH - 3):
                    return False
    return True


def _shallow_and_utf8(raw: bytes) -> bool:
    """A cheap proof that ``raw`` is UTF-8 and nests at most MAX_DEPTH levels: it has at
    most MAX_DEPTH opening brackets (in strings or not). Costs ~0.8 us per KB, so only
    records with unknown fields, whose values msgspec skips unchecked, pay it."""
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        return False
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError:
            return False
    return True


def fast_decode(raw: bytes) -> CandidateRecord | None:
    """The msgspec path alone: a record, or ``None`` when pydantic must decide.

    Never raises: anything unusual (an unknown error included) is pydantic's to judge.
    """
    try:
        try:
            rec: CandidateRecord = _known.decode(raw)
        except msgspec.ValidationError:  # unknown fields, or a bad value pydantic will name
            if not _shallow_and_utf8(raw):
                return None
            rec = _any.decode(raw)
        if not math.isfinite(rec.score):
            return None
        inp = rec.input
        if type(inp) is list and not _valid_messages(inp):
            return None
        meta = rec.metadata
        if meta and not _within(meta, MAX_DEPTH - 1):  # the record, then metadata
            return None
        if rec.event_time is not None and not _valid_event_time(rec.event_time):
            return None
        return rec
    except Exception:  # DecodeError, UnicodeDecodeError, RecursionError, ...
        return None


def from_event(event: CandidateEvent) -> CandidateRecord:
    prompt: PromptValue = (
        event.input
        if isinstance(event.input, str)
        else [m.model_dump(mode="json") for m in event.input]
    )
    return CandidateRecord(
        example_id=event.example_id,
        turn_id=event.turn_id,
        turn_index=event.turn_index,
        candidate_index=event.candidate_index,
        input=prompt,
        output=event.output,
        score=event.score,
        run_id=event.run_id,
        ttc_step_name=event.ttc_step_name,
        num_candidates=event.num_candidates,
        is_selected=event.is_selected,
        policy_model=event.policy_model,
        agent_id=event.agent_id,
        metadata=event.metadata,
        event_time=_iso(event.event_time),
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def decode_candidate(raw: bytes, *, max_bytes: int) -> CandidateRecord:
    """Validate one record; raise :class:`InvalidEvent` with pydantic's reason and detail.

    Raises nothing else, whatever the bytes: a consumer dead-letters an InvalidEvent, and
    anything else would make it rewind to the same record forever.
    """
    if len(raw) > max_bytes:
        raise InvalidEvent("oversize", f"record: {len(raw)} bytes is above the {max_bytes} limit")
    rec = fast_decode(raw)
    if rec is not None:
        return rec
    event = decode(CandidateEvent, raw, max_bytes=max_bytes)
    try:
        return from_event(event)
    except Exception as exc:  # pydantic accepted it, so this would be a bug here
        raise invalid_event(exc) from exc
