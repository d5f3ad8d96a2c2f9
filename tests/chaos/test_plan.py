"""The chaos generator and schedule, without a broker: seeded, and hostile for real."""

from __future__ import annotations

import json

import pytest

from tests.chaos.effects import Need, commits_after_effects
from tests.chaos.fuzz import BAD_KINDS, GOOD, FuzzSpec, build_stream
from tests.chaos.invariants import DeadLetterSeen, Truth, dead_letters, seq_monotonic
from tests.chaos.schedule import FAULT_KINDS, build_plan


def test_same_seed_same_plan_and_bytes() -> None:
    assert build_plan(3, "full").describe() == build_plan(3, "full").describe()
    assert build_plan(3, "full").describe() != build_plan(4, "full").describe()
    spec = FuzzSpec(turns=50, bad_per_kind=3, oversize_bytes=(1_100_000,))
    a, b = build_stream(3, spec), build_stream(3, spec)
    assert [r.value for r in a.records] == [r.value for r in b.records]


def test_full_plan_meets_the_brief() -> None:
    plan = build_plan(1, "full")
    assert plan.fuzz.turns * plan.fuzz.candidates >= 100_000
    assert all(plan.counts()[k] >= 10 for k in FAULT_KINDS)
    small = build_plan(1, "small")
    assert all(small.counts()[k] >= 1 for k in FAULT_KINDS)


def test_bad_records_are_what_they_claim() -> None:
    spec = FuzzSpec(turns=40, bad_per_kind=6, oversize_bytes=(1_100_000, 6_000_000))
    stream = build_stream(11, spec)
    kinds = {r.kind for r in stream.records}
    assert kinds == {GOOD, *BAD_KINDS}
    for r in stream.records:
        if r.kind == GOOD:
            json.loads(r.value)  # valid, real UTF-8 (non-ASCII text is not escaped)
            continue
        assert r.reasons, r.kind
        if r.kind.startswith("invalid_utf8"):
            with pytest.raises(UnicodeDecodeError):
                r.value.decode("utf-8")
        elif r.kind == "oversize":
            assert len(r.value) > spec.max_record_bytes
            json.loads(r.value)  # well-formed: only its size is wrong
        elif r.kind == "deep_nesting":
            assert r.value.count(b"[") >= 1000 or r.value.count(b'{"a":') >= 1000
        elif r.kind in ("truncated", "garbage"):
            with pytest.raises(ValueError, match=r"."):
                json.loads(r.value)
        elif r.kind == "non_finite":
            assert any(t in r.value for t in (b"NaN", b"Infinity", b"1e999", b"1e400"))
    assert any("é".encode() in r.value or "中".encode() in r.value for r in stream.records)


def test_dead_letter_check_counts_distinct_ids() -> None:
    spec = FuzzSpec(turns=4, bad_per_kind=1, oversize_bytes=(1_100_000,))
    stream = build_stream(5, spec)
    bad = [r for r in stream.records if r.bad]
    truth = Truth(bad={(0, i): r for i, r in enumerate(bad)})
    reason = {r.kind: sorted(r.reasons)[0] for r in bad}
    seen: list[DeadLetterSeen | None] = [
        DeadLetterSeen(f"c/0/{i}", reason[r.kind], "c", 0, i) for i, r in enumerate(bad)
    ]
    seen.append(DeadLetterSeen("c/0/0", reason[bad[0].kind], "c", 0, 0))  # a replayed copy
    outcome, _ = dead_letters(truth, seen, "c")
    assert outcome.held, outcome
    seen.append(DeadLetterSeen("other-id", reason[bad[1].kind], "c", 0, 1))
    outcome, _ = dead_letters(truth, seen, "c")
    assert not outcome.held
    assert "several ids 1" in outcome.numbers


def test_seq_going_back_is_caught() -> None:
    events = [
        {"job_key": "k", "seq": s, "dataset_id": "d", "status": "running"} for s in (1, 2, 2, 1)
    ]
    assert not seq_monotonic(events, ["d"]).held


def test_commit_ahead_of_its_effect_is_caught() -> None:
    commits = {("pairing", 0): [(5, 100.0), (10, 200.0)]}
    fine = [Need(0, 4, 99.0, "a"), Need(0, 9, 150.0, "b"), Need(0, 12, None, "not yet passed")]
    assert commits_after_effects(commits, {"pairing": fine}).held
    early = commits_after_effects(commits, {"pairing": [Need(0, 4, 120.0, "late pair")]})
    assert not early.held
    assert "effect after the commit 1" in early.numbers
    lost = commits_after_effects(commits, {"pairing": [Need(0, 7, None, "lost")]})
    assert "effect never made 1" in lost.numbers
