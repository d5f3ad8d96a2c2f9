"""Cut decisions: exact, independent of batching, and only the timer looks at the clock."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_datasets import (
    Arrival,
    PlannerState,
    Thresholds,
    Trigger,
    due,
    forced,
    observe,
    seconds_until_due,
)


@st.composite
def arrival_streams(draw: st.DrawFn) -> list[Arrival]:
    """Records of 3 partitions, each in offset order, interleaved at random."""
    n = draw(st.integers(0, 120))
    parts = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    offsets = [0, 0, 0]
    out = []
    for p in parts:
        out.append(Arrival(p, offsets[p], draw(st.booleans()), 0.0))
        offsets[p] += 1
    return out


def _chunks(items: list[Arrival], cuts: list[int]) -> list[list[Arrival]]:
    bounds = [0, *sorted(c % (len(items) + 1) for c in cuts), len(items)]
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


@settings(deadline=None, max_examples=200)
@given(stream=arrival_streams(), size=st.integers(1, 15), splits=st.lists(st.integers(0, 500)))
def test_count_cuts_do_not_depend_on_batching(
    stream: list[Arrival], size: int, splits: list[int]
) -> None:
    t = Thresholds(min_new_pairs=size, max_wait_seconds=60, min_pairs=1)
    whole_state, whole = observe(PlannerState(), stream, t)
    state = PlannerState()
    pieces = []
    for chunk in _chunks(stream, splits):
        state, cuts = observe(state, chunk, t)
        pieces.extend(cuts)
    assert pieces == whole
    assert state == whole_state
    new = sum(a.new_unique for a in stream)
    assert len(whole) == new // size
    assert all(c.pending == size and c.trigger is Trigger.MIN_NEW_PAIRS for c in whole)
    assert state.pending == new % size


@settings(deadline=None, max_examples=200)
@given(stream=arrival_streams(), size=st.integers(1, 15))
def test_a_cut_covers_exactly_what_arrived_before_its_last_pair(
    stream: list[Arrival], size: int
) -> None:
    _, cuts = observe(PlannerState(), stream, Thresholds(size, 60, 1))
    counted = 0
    prev: dict[int, int] = {}
    for cut in cuts:
        # the arrival that completed this cut: the size-th new one after the previous cut
        members = [
            a
            for a in stream
            if a.new_unique and prev.get(a.partition, 0) <= a.offset < cut.ends.get(a.partition, 0)
        ]
        assert len(members) == size
        counted += size
        # ends are consumption positions at that arrival: never behind the previous cut
        assert all(cut.ends[p] >= prev.get(p, 0) for p in cut.ends)
        prev = dict(cut.ends)
    assert counted == size * len(cuts)


def test_size_cap_lowers_the_cut_size() -> None:
    arrivals = [Arrival(0, i, True, 0.0) for i in range(10)]
    _, cuts = observe(PlannerState(), arrivals, Thresholds(8, 60, 1, size_cap=3))
    assert [c.ends for c in cuts] == [{0: 3}, {0: 6}, {0: 9}]


def test_records_below_the_last_cut_never_count() -> None:
    state = PlannerState(starts={0: 5})
    state, cuts = observe(state, [Arrival(0, i, True, 0.0) for i in range(8)], Thresholds(2, 60, 1))
    assert state.pending == 1
    assert [c.ends for c in cuts] == [{0: 7}]


def test_max_wait_needs_min_pairs_and_time() -> None:
    t = Thresholds(min_new_pairs=100, max_wait_seconds=10, min_pairs=3)
    state, _ = observe(PlannerState(), [Arrival(1, i, True, 100.0 + i) for i in range(2)], t)
    assert due(state, 1000.0, t) is None, "below min_pairs"
    assert seconds_until_due(state, 1000.0, t) is None
    state, _ = observe(state, [Arrival(0, 0, True, 105.0), Arrival(0, 1, False, 105.0)], t)
    assert seconds_until_due(state, 105.0, t) == 5.0, "timed from the oldest pending pair"
    assert due(state, 109.9, t) is None
    cut = due(state, 110.0, t)
    assert cut is not None
    assert cut.trigger is Trigger.MAX_WAIT
    assert cut.ends == {0: 2, 1: 2}
    assert cut.pending == 3
    after = state.after_cut(cut.ends)
    assert after.pending == 0
    assert after.oldest_pending_at is None
    assert after.starts == cut.ends


def test_forced_cut_needs_one_pending_pair() -> None:
    assert forced(PlannerState()) is None
    state = PlannerState(positions={0: 4}, pending=1)
    cut = forced(state)
    assert cut is not None
    assert cut.trigger is Trigger.FORCED
    assert cut.ends == {0: 4}
    assert forced(state, pending=0) is None
