"""The event contracts accept what NAT emits and reject, by field, what would poison a stream."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prefstream_events import (
    CandidateEvent,
    DeadLetter,
    InvalidEvent,
    JobStatus,
    PairEvent,
    SourceOffset,
    decode,
    encode,
)
from prefstream_events.limits import MAX_ID_CHARS, MAX_TEXT_CHARS


def candidate(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "example_id": "ex-1",
        "turn_id": "turn_0",
        "turn_index": 0,
        "candidate_index": 1,
        "input": [{"role": "system", "content": "You play X."}, {"role": "user", "content": "b"}],
        "output": "I take the centre.",
        "score": 0.75,
    }
    base.update(overrides)
    return base


def raw(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_nat_ttc_event_data_fields_are_enough() -> None:
    event = decode(CandidateEvent, raw(candidate(input="What is the best move?")))
    assert event.run_id == ""
    assert event.ttc_step_name == "dpo_candidate_move"
    assert event.input == "What is the best move?"
    assert event.metadata == {}


def test_message_list_prompt_keeps_extra_message_keys() -> None:
    msgs = [{"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]}]
    event = decode(CandidateEvent, raw(candidate(input=msgs)))
    assert isinstance(event.input, list)
    assert event.input[0].model_dump() == msgs[0]


def test_unknown_fields_move_into_metadata_without_overwriting() -> None:
    event = decode(
        CandidateEvent, raw(candidate(board="x.o", temperature=0.7, metadata={"board": "kept"}))
    )
    assert event.metadata == {"board": "kept", "temperature": 0.7}


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b"this is not json", "not_json", "<root>"),
        (b"[1, 2]", "invalid_field", "<root>"),
        (raw({k: v for k, v in candidate().items() if k != "turn_id"}), "missing_field", "turn_id"),
        (raw(candidate(example_id="")), "invalid_field", "example_id"),
        (raw(candidate(score="high")), "invalid_field", "score"),
        (raw(candidate(candidate_index=-1)), "invalid_field", "candidate_index"),
        (raw(candidate(input=[{"content": "no role"}])), "missing_field", "input"),
        (raw(candidate(output=["not", "text"])), "invalid_field", "output"),
        (raw(candidate(example_id="x" * (MAX_ID_CHARS + 1))), "oversize", "example_id"),
        (raw(candidate(output="y" * (MAX_TEXT_CHARS + 1))), "oversize", "output"),
    ],
)
def test_malformed_events_fail_naming_the_field(payload: bytes, reason: str, field: str) -> None:
    with pytest.raises(InvalidEvent) as err:
        decode(CandidateEvent, payload, max_bytes=10 * MAX_TEXT_CHARS)
    assert err.value.reason == reason
    assert err.value.detail.startswith(field) or f"; {field}" in err.value.detail


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_scores_are_rejected(bad: str) -> None:
    payload = raw(candidate()).replace(b'"score": 0.75', f'"score": {bad}'.encode())
    with pytest.raises(InvalidEvent) as err:
        decode(CandidateEvent, payload)
    assert err.value.reason == "non_finite_score"
    assert err.value.detail.startswith("score:")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_only_finite_scores_validate(score: float) -> None:
    if math.isfinite(score):
        assert CandidateEvent.model_validate(candidate(score=score)).score == score
    else:
        with pytest.raises(ValueError, match="score"):
            CandidateEvent.model_validate(candidate(score=score))


def test_record_above_the_size_limit_is_rejected_before_parsing() -> None:
    with pytest.raises(InvalidEvent) as err:
        decode(CandidateEvent, raw(candidate(output="z" * 2000)), max_bytes=1024)
    assert err.value.reason == "oversize"
    assert err.value.detail.startswith("record:")


def test_round_trip_is_lossless() -> None:
    event = decode(CandidateEvent, raw(candidate(policy_model="m1", num_candidates=4, extra=1)))
    assert decode(CandidateEvent, encode(event)) == event


def test_pair_event_rejects_non_finite_reward() -> None:
    with pytest.raises(ValueError, match="reward"):
        PairEvent.model_validate(
            {
                "pair_id": "p",
                "content_hash": "c",
                "run_id": "",
                "example_id": "e",
                "turn_id": "t",
                "prompt": "p",
                "chosen": "a",
                "rejected": "b",
                "chosen_score": 1,
                "rejected_score": 0,
                "score_diff": 1,
                "reward": math.inf,
                "chosen_index": 0,
                "rejected_index": 1,
            }
        )


def test_dead_letter_keeps_original_bytes_exactly() -> None:
    original = bytes(range(256))
    letter = DeadLetter(
        reason="not_json",
        detail="<root>: Invalid JSON",
        service="pairing",
        source=SourceOffset(topic="t", partition=3, offset=42),
        key=b"ex-1",
        original=original,
    )
    again = DeadLetter.model_validate_json(letter.model_dump_json())
    assert again.original == original
    assert again.key == b"ex-1"
    assert again.source.offset == 42


def test_terminal_job_states() -> None:
    assert {s for s in JobStatus if s.terminal} == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.SUPERSEDED,
    }
