"""The msgspec fast path accepts exactly what the pydantic CandidateEvent accepts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefstream_events import CandidateEvent, InvalidEvent, decode
from prefstream_pairing import decode_candidate, fast_decode
from prefstream_pairing.decode import CandidateRecord

from .corpus import broken_events, encode, valid_events

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


@given(st.sampled_from(["1.0", "true", '"3"']))
def test_lax_values_take_the_pydantic_path(value: str) -> None:
    raw = (
        '{"example_id":"e","turn_id":"t","turn_index":' + value + ',"candidate_index":0,'
        '"input":"x","output":"y","score":1}'
    ).encode()
    assert fast_decode(raw) is None
    check(raw)
