"""Whatever one record's bytes make validation raise becomes that record's InvalidEvent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prefstream_events import CandidateEvent, InvalidEvent, PairEvent, decode
from pydantic import BaseModel, field_validator


class _Buggy(BaseModel):
    """A model whose validator fails the way no ValidationError describes."""

    x: int

    @field_validator("x")
    @classmethod
    def _fail(cls, value: int) -> int:
        if value == 1:
            raise RuntimeError("validator bug")
        if value == 2:
            raise RecursionError("maximum recursion depth exceeded")
        return value


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b'{"x": 1}', "undecodable", "<root>: RuntimeError: validator bug"),
        (b'{"x": 2}', "too_deep", "<root>: maximum recursion depth exceeded"),
        (b'{"x": "\xff"}', "invalid_utf8", "<root>: not UTF-8 at byte 7: invalid start byte"),
        (b'{"x": 3}\xc0', "invalid_utf8", "<root>: not UTF-8 at byte 8: invalid start byte"),
        (b'{"x": ' + b"[" * 1000 + b"]" * 1000 + b"}", "too_deep", None),
    ],
)
def test_decode_never_raises_anything_but_invalid_event(
    raw: bytes, reason: str, detail: str | None
) -> None:
    with pytest.raises(InvalidEvent) as err:
        decode(_Buggy, raw)
    assert err.value.reason == reason
    if detail is not None:
        assert err.value.detail == detail


def test_every_event_type_gets_the_same_byte_checks() -> None:
    with pytest.raises(InvalidEvent) as err:
        decode(PairEvent, b'{"pair_id": "\xed\xa0\x80"}')
    assert err.value.reason == "invalid_utf8"


def test_python_callers_keep_ints_floats_and_datetimes() -> None:
    """The NAT bridge and CandidatePublisher build events from Python values: an int
    score, a float score and an aware datetime stay valid under the strict wire types."""
    base = {
        "example_id": "e",
        "turn_id": "t",
        "turn_index": 3,
        "candidate_index": 1,
        "input": "p",
        "output": "o",
        "event_time": datetime(2026, 1, 2, tzinfo=UTC),
    }
    assert CandidateEvent.model_validate({**base, "score": 1}).score == 1.0
    assert CandidateEvent.model_validate({**base, "score": 0.25}).score == 0.25
    for bad in ({"score": True}, {"candidate_index": 1.0}, {"event_time": 1700000000}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            CandidateEvent.model_validate({**base, "score": 0.5, **bad})
