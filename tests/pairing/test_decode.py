"""The msgspec fast path accepts exactly what the pydantic CandidateEvent accepts, and no
record, however hostile, makes decoding raise anything but InvalidEvent."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from prefstream_events import CandidateEvent, InvalidEvent, decode
from prefstream_pairing import decode_candidate, fast_decode
from prefstream_pairing.decode import CandidateRecord

from .corpus import broken_events, encode, hostile_records, nested, valid_events

LIMIT = 1_048_576


def pydantic_view(ev: CandidateEvent) -> dict[str, Any]:
    # Message extras are carried as JSON values (a non-finite float becomes null).
    prompt = (
        ev.input if isinstance(ev.input, str) else [m.model_dump(mode="json") for m in ev.input]
    )
    return {
        "example_id": ev.example_id,
        "turn_id": ev.turn_id,
        "turn_index": ev.turn_index,
        "candidate_index": ev.candidate_index,
        "input": prompt,
        "output": ev.output,
        "score": ev.score,
        "run_id": ev.run_id,
        "ttc_step_name": ev.ttc_step_name,
        "num_candidates": ev.num_candidates,
        "is_selected": ev.is_selected,
        "policy_model": ev.policy_model,
        "agent_id": ev.agent_id,
    }


def record_view(rec: CandidateRecord) -> dict[str, Any]:
    return {
        "example_id": rec.example_id,
        "turn_id": rec.turn_id,
        "turn_index": rec.turn_index,
        "candidate_index": rec.candidate_index,
        "input": rec.input,
        "output": rec.output,
        "score": rec.score,
        "run_id": rec.run_id,
        "ttc_step_name": rec.ttc_step_name,
        "num_candidates": rec.num_candidates,
        "is_selected": rec.is_selected,
        "policy_model": rec.policy_model,
        "agent_id": rec.agent_id,
    }


def check(raw: bytes) -> None:
    try:
        expected: CandidateEvent | InvalidEvent = decode(CandidateEvent, raw, max_bytes=LIMIT)
    except InvalidEvent as exc:
        expected = exc
    fast = fast_decode(raw)
    if fast is not None:  # the fast path may only accept what pydantic accepts, identically
        assert isinstance(expected, CandidateEvent), raw
        assert record_view(fast) == pydantic_view(expected)
    if isinstance(expected, InvalidEvent):
        with pytest.raises(InvalidEvent) as info:
            decode_candidate(raw, max_bytes=LIMIT)
        assert (info.value.reason, info.value.detail) == (expected.reason, expected.detail)
    else:
        assert record_view(decode_candidate(raw, max_bytes=LIMIT)) == pydantic_view(expected)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_events())
def test_valid_corpus(ev: dict[str, Any]) -> None:
    check(encode(ev))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_events())
def test_broken_corpus(raw: bytes) -> None:
    check(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not_json"),
        (
            b'{"example_id":"e","turn_id":"t","turn_index":0,"candidate_index":0,'
            b'"input":"x","output":"y","score":NaN}',
            "non_finite_score",
        ),
        (
            b'{"example_id":"e","turn_id":"t","turn_index":0,"candidate_index":0,'
            b'"input":"x","output":"y"}',
            "missing_field",
        ),
        (
            b'{"example_id":"e","turn_id":"t","turn_index":0,"candidate_index":-1,'
            b'"input":"x","output":"y","score":1}',
            "invalid_field",
        ),
    ],
)
def test_reasons(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_candidate(raw, max_bytes=LIMIT)
    assert info.value.reason == reason


def test_oversize_is_checked_on_bytes() -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_candidate(b" " * 101, max_bytes=100)
    assert info.value.reason == "oversize"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_records())
def test_hostile_corpus(raw: bytes) -> None:
    check(raw)


HEAD = (
    b'{"example_id":"e","turn_id":"t","turn_index":0,"candidate_index":0,'
    b'"input":"x","output":"y","score":1'
)


def record(extra: bytes) -> bytes:
    return HEAD + extra + b"}"


def field(name: bytes, token: bytes) -> bytes:
    """The HEAD record with ``name`` set to the raw JSON ``token`` (added if absent)."""
    key = b'"' + name + b'":'
    start = HEAD.find(key)
    if start < 0:
        return record(b"," + key + token)
    end = HEAD.find(b",", start)
    end = len(HEAD) if end < 0 else end
    return HEAD[:start] + key + token + HEAD[end:] + b"}"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (field(b"output", b'"\xff\xfe"'), "invalid_utf8"),
        (field(b"output", b'"ok \xed\xa0\x80"'), "invalid_utf8"),  # a UTF-8 surrogate
        (record(b',"\xff\xfe":1'), "invalid_utf8"),
        (record(b',"metadata":{"\xc0\xaf":1}'), "invalid_utf8"),
        (record(b',"u":"\xf4\x90\x80\x80"'), "invalid_utf8"),
        (record(b" \xff"), "invalid_utf8"),
        (b"\xff\xfe", "invalid_utf8"),
        (record(b',"u":' + b"[" * 1000 + b"]" * 1000), "too_deep"),
        (record(b',"u":' + nested(499, "array")), "too_deep"),
        (record(b',"u":' + nested(200, "object")), "too_deep"),
        (record(b',"metadata":{"m":' + nested(2000, "mixed") + b"}"), "too_deep"),
        (
            field(b"input", b'[{"role":"u","content":"c","x":' + nested(300, "array") + b"}]"),
            "too_deep",
        ),
    ],
)
def test_hostile_bytes_are_invalid_events(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        decode_candidate(raw, max_bytes=LIMIT)
    assert info.value.reason == reason
    with pytest.raises(InvalidEvent) as via_pydantic:
        decode(CandidateEvent, raw, max_bytes=LIMIT)
    assert via_pydantic.value.reason == reason
    assert fast_decode(raw) is None


@pytest.mark.parametrize("depth", [1, 50, 150, 199])
def test_nesting_within_the_parser_limit_is_accepted_by_both_paths(depth: int) -> None:
    raw = record(b',"u":' + nested(depth, "mixed"))
    assert decode(CandidateEvent, raw, max_bytes=LIMIT).metadata["u"]
    assert decode_candidate(raw, max_bytes=LIMIT).score == 1.0


@pytest.mark.parametrize(
    ("name", "token"),
    [
        (b"score", b"true"),
        (b"score", b"false"),
        (b"score", b'"0.5"'),
        (b"score", b'" 1e3 "'),
        (b"score", b'"1"'),
        (b"score", b'"NaN"'),
        (b"candidate_index", b"true"),
        (b"candidate_index", b"1.0"),
        (b"candidate_index", b'"1"'),
        (b"candidate_index", b"1e0"),
        (b"turn_index", b"false"),
        (b"turn_index", b"2.0"),
        (b"turn_index", b'" 7 "'),
        (b"num_candidates", b"true"),
        (b"num_candidates", b"4.0"),
        (b"num_candidates", b'"4"'),
        (b"is_selected", b"1"),
        (b"is_selected", b'"true"'),
        (b"event_time", b"1700000000"),
        (b"output", b"1"),
        (b"example_id", b"7"),
    ],
)
def test_wire_types_are_strict(name: bytes, token: bytes) -> None:
    raw = field(name, token)
    with pytest.raises(InvalidEvent) as info:
        decode_candidate(raw, max_bytes=LIMIT)
    assert info.value.reason == "invalid_field"
    assert info.value.detail.startswith(name.decode())
    with pytest.raises(InvalidEvent) as via_pydantic:
        decode(CandidateEvent, raw, max_bytes=LIMIT)
    assert via_pydantic.value.reason == "invalid_field"


@pytest.mark.parametrize(
    ("name", "token", "value"),
    [
        (b"score", b"1", 1.0),
        (b"score", b"-0", 0.0),
        (b"score", b"2.5e-1", 0.25),
        (b"score", b"-3", -3.0),
        (b"candidate_index", b"7", 7),
        (b"turn_index", b"0", 0),
    ],
)
def test_json_numbers_of_the_right_kind_are_accepted(
    name: bytes, token: bytes, value: object
) -> None:
    raw = field(name, token)
    rec = decode_candidate(raw, max_bytes=LIMIT)
    assert getattr(rec, name.decode()) == value
    assert fast_decode(raw) is not None
