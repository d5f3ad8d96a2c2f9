"""Dead letters always fit a broker with default limits and have a deterministic id."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_events import DeadLetter, encode
from prefstream_events.limits import DEADLETTER_MAX_BYTES
from prefstream_testing.kafka import Record


def test_the_bound_fits_a_broker_with_default_settings() -> None:
    # message.max.bytes defaults to 1,048,588 bytes; headers and framing need room too.
    assert DEADLETTER_MAX_BYTES <= 1_000_000


@pytest.mark.parametrize("size", [0, 1, 1000, 700_000, 1_048_576, 7_500_000])
def test_a_dead_letter_always_fits_and_says_what_it_cut(size: int) -> None:
    original = bytes(i % 251 for i in range(size))
    letter = DeadLetter.for_record(
        Record(topic="cands", partition=2, offset=77, key=b"ex-1", value=original),
        reason="oversize",
        detail="d" * 9000,
        service="s",
    )
    data = encode(letter)
    assert len(data) <= DEADLETTER_MAX_BYTES
    assert letter.original_bytes == size
    assert letter.original_sha256 == hashlib.sha256(original).hexdigest()
    assert original.startswith(letter.original)
    assert letter.original_truncated == (len(letter.original) < size)
    assert (letter.source.topic, letter.source.partition, letter.source.offset) == ("cands", 2, 77)
    again = DeadLetter.model_validate_json(data)
    assert again == letter
    if size <= 700_000:
        assert not letter.original_truncated


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=3000), st.text(max_size=3000), st.binary(max_size=3000) | st.none())
def test_a_small_budget_still_fits(value: bytes, detail: str, key: bytes | None) -> None:
    letter = DeadLetter.for_record(
        Record(topic="t", partition=0, offset=1, key=key, value=value),
        reason="not_json",
        detail=detail,
        service="s",
        max_bytes=4096,
    )
    assert len(encode(letter)) <= 4096
    assert value.startswith(letter.original)


def test_the_id_depends_on_the_source_and_reason_only() -> None:
    def letter(offset: int, reason: str, detail: str) -> DeadLetter:
        return DeadLetter.for_record(
            Record(topic="t", partition=1, offset=offset, key=b"k", value=b"v"),
            reason=reason,
            detail=detail,
            service="s",
        )

    a = letter(5, "not_json", "one")
    assert a.deadletter_id == letter(5, "not_json", "two").deadletter_id
    assert (
        len(
            {
                a.deadletter_id,
                letter(6, "not_json", "").deadletter_id,
                letter(5, "late", "").deadletter_id,
            }
        )
        == 3
    )
    # A letter built field by field gets the same id as one built from its record.
    direct = DeadLetter(reason="not_json", detail="x", service="s", source=a.source, original=b"v")
    assert direct.deadletter_id == a.deadletter_id
