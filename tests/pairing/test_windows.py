"""Window bookkeeping: closes, clocks, and the commit offset never passes an open window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_pairing import INACTIVITY, MAX_AGE, WindowSet, make_candidate


def feed(
    ws: WindowSet, part: int, off: int, ts: int, key: str, idx: int, n: int | None, now: float
) -> bool:
    ws.observe(part, off, ts, now)
    k = ("", key, "t")
    w = ws.get(k) or ws.open_window(k, part, off)
    ws.add(w, make_candidate(candidate_index=idx, score=0.5, output="o", prompt="p"), part, off, n)
    if w.complete:
        ws.close(w)
        return True
    return False


def test_closes_by_num_candidates_and_commit_follows() -> None:
    ws = WindowSet(30, 300)
    assert not feed(ws, 0, 10, 1000, "a", 0, 2, 0.0)
    assert not feed(ws, 0, 11, 1000, "b", 0, 2, 0.0)
    assert ws.commit_offsets() == {0: 10}
    assert feed(ws, 0, 12, 1000, "a", 1, 2, 0.0)
    assert ws.commit_offsets() == {0: 11}
    assert feed(ws, 0, 13, 1000, "b", 1, 2, 0.0)
    assert ws.commit_offsets() == {0: 14}


def test_duplicate_index_is_not_added() -> None:
    ws = WindowSet(30, 300)
    feed(ws, 0, 0, 0, "a", 0, 3, 0.0)
    w = ws.get(("", "a", "t"))
    assert w is not None
    assert not ws.add(
        w, make_candidate(candidate_index=0, score=0.9, output="x", prompt="p"), 0, 1, 3
    )


def test_inactivity_by_partition_progress_then_by_idle_wall_clock() -> None:
    ws = WindowSet(inactivity_gap_s=2, max_age_s=100)
    feed(ws, 0, 0, 1_000, "a", 0, None, now=0.0)
    feed(ws, 0, 1, 2_500, "b", 0, None, now=0.1)
    assert ws.expire(now_ms=2_600, now_mono=0.2) == []
    feed(ws, 0, 2, 3_000, "c", 0, None, now=0.3)  # partition clock 3.0 s: "a" is 2 s idle
    closed = ws.expire(now_ms=3_000, now_mono=0.3)
    assert [(w.key[1], r) for w, r in closed] == [("a", INACTIVITY)]
    # No record for a whole gap of wall time: the clock jumps to the wall clock.
    assert ws.expire(now_ms=4_000, now_mono=1.0) == []
    closed = ws.expire(now_ms=10_000, now_mono=2.4)
    assert sorted(w.key[1] for w, _ in closed) == ["b", "c"]
    assert ws.commit_offsets() == {0: 3}


def test_max_age_closes_a_busy_window() -> None:
    ws = WindowSet(inactivity_gap_s=5, max_age_s=10)
    for i in range(12):
        feed(ws, 0, i, i * 1000, "a", i, None, now=i * 0.001)
    closed = ws.expire(now_ms=0, now_mono=0.02)
    assert [(w.key[1], r) for w, r in closed] == [("a", MAX_AGE)]


def test_drop_partitions_forgets_their_windows() -> None:
    ws = WindowSet(30, 300)
    feed(ws, 0, 0, 0, "a", 0, 2, 0.0)
    feed(ws, 1, 0, 0, "b", 0, 2, 0.0)
    assert ws.drop_partitions([1]) == 1
    assert len(ws) == 1
    assert ws.commit_offsets() == {0: 0}


ops = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from("abcdef"), st.integers(0, 3), st.integers(0, 50)),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ops, st.integers(1, 3))
def test_commit_never_passes_an_open_window(steps: list[tuple[int, str, int, int]], n: int) -> None:
    ws = WindowSet(inactivity_gap_s=0.01, max_age_s=0.05)
    offsets = [0, 0, 0]
    first_offset: dict[tuple[str, str, str], dict[int, int]] = {}
    ts = 0
    for part, key, idx, dt in steps:
        ts += dt
        off = offsets[part]
        offsets[part] += 1
        k = ("", key, "t")
        w = ws.get(k)
        if w is None:
            first_offset[k] = {}
        is_new = w is None or idx not in w.candidates  # a duplicate holds nothing back
        feed(ws, part, off, ts, key, idx, n, now=0.0)
        if is_new:
            first_offset[k].setdefault(part, off)
        ws.expire(now_ms=ts, now_mono=0.0)
        commit = ws.commit_offsets()
        for okey, w in ws.open.items():
            for p, o in w.first_offsets.items():
                assert commit[p] <= o
                assert o == first_offset[okey][p]
        for p, nxt in enumerate(offsets):
            if p in commit:
                assert commit[p] <= nxt
            if nxt and not any(p in w.first_offsets for w in ws.open.values()):
                assert commit[p] == nxt


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(-(2**63), 2**63 - 1), max_size=200), st.integers(-(2**63), 2**63 - 1))
def test_bloom_never_forgets(keys: set[int], probe: int) -> None:
    from prefstream_pairing.bloom import WindowBloom

    bloom = WindowBloom(bits=1 << 12)
    bloom.update(keys)
    assert all(k in bloom for k in keys)
    empty = WindowBloom(bits=1 << 12)
    assert probe not in empty


# -- clock skew: a future-stamped record must not hold windows open --------------------

NOW = 1_800_000_000_000
"""A wall clock in milliseconds for the skew tests."""


def skewed(
    ws: WindowSet,
    part: int,
    off: int,
    ts: int,
    key: str,
    idx: int,
    n: int | None,
    now_ms: int,
    mono: float,
) -> bool:
    ws.observe(part, off, ts, mono, now_ms)
    k = ("", key, "t")
    w = ws.get(k) or ws.open_window(k, part, off)
    ws.add(w, make_candidate(candidate_index=idx, score=0.5, output="o", prompt="p"), part, off, n)
    if w.complete:
        ws.close(w)
        return True
    return False


def test_a_future_timestamp_does_not_stall_the_partition() -> None:
    """Two candidates stamped 50 minutes ahead, then turns at real time: the far-future
    stamps count as the wall clock, so the real-time windows close after their gap."""
    ws = WindowSet(inactivity_gap_s=3, max_age_s=300, max_clock_skew_s=60)
    future = NOW + 50 * 60_000
    skewed(ws, 0, 0, future, "x", 0, None, NOW, 0.0)
    skewed(ws, 0, 1, future, "x", 1, None, NOW, 0.0)
    for t in range(5):
        for c in range(4):
            off = 2 + t * 4 + c
            skewed(ws, 0, off, NOW + 100 * off, f"turn{t}", c, None, NOW + 100 * off, off * 0.1)
    last_mono = 21 * 0.1
    # The records keep coming until 2.1 s; 3 s after the last one everything has closed.
    closed = ws.expire(now_ms=NOW + 2_200 + 3_000, now_mono=last_mono + 3.01)
    assert sorted(w.key[1] for w, _ in closed) == ["turn0", "turn1", "turn2", "turn3", "turn4", "x"]
    assert ws.commit_offsets() == {0: 22}


def test_a_timestamp_within_the_skew_moves_the_clock() -> None:
    """Within the bound a record's own timestamp is the clock (replays decide the same)."""
    ws = WindowSet(inactivity_gap_s=3, max_age_s=300, max_clock_skew_s=60)
    skewed(ws, 0, 0, NOW, "a", 0, None, NOW, 0.0)
    skewed(ws, 0, 1, NOW + 30_000, "b", 0, None, NOW, 0.0)  # 30 s ahead: allowed
    closed = ws.expire(now_ms=NOW, now_mono=0.0)
    assert [w.key[1] for w, _ in closed] == ["a"]


skew_steps = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        st.integers(0, 3),
        st.one_of(st.integers(-5_000, 5_000), st.integers(-(10**9), 10**10)),
        st.integers(0, 2_000),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(skew_steps, st.integers(1, 4), st.integers(0, 120))
def test_skew_never_stalls_and_num_candidates_still_closes(
    steps: list[tuple[str, int, int, int]], n: int, skew_s: int
) -> None:
    """Whatever the record timestamps (far past, far future): a window closes the moment
    its ``num_candidates`` arrive, and every window is closed once the wall clock is
    ``skew + gap`` past the last record and the partition has been idle for a gap."""
    gap_s = 2
    ws = WindowSet(inactivity_gap_s=gap_s, max_age_s=50, max_clock_skew_s=skew_s)
    now = NOW
    mono = 0.0
    for off, (key, idx, dts, dnow) in enumerate(steps):
        now += dnow
        mono += dnow / 1000
        k = ("", key, "t")
        w = ws.get(k)
        fresh = w is None or idx not in w.candidates
        need = (len(w.candidates) if w is not None else 0) + 1
        done = skewed(ws, 0, off, now + dts, key, idx, n, now, mono)
        assert done == (fresh and need >= n)
        assert ws.commit_offsets()[0] <= off + 1
    end = now + (skew_s + gap_s) * 1000
    ws.expire(now_ms=end, now_mono=mono + gap_s + 0.01)
    assert len(ws) == 0
    if steps:
        assert ws.commit_offsets() == {0: len(steps)}
