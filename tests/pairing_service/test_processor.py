"""The service's decisions without a broker: batches, late candidates, crashes and replays
against a real DuckDB file, compared with ``pairs build`` on the same records."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefstream_pairing import Candidate, OfflineBuilder, PairingOptions, pair_window
from prefstream_pairing_service.processor import Effects, Processor, _candidate_row, _pair_row
from prefstream_stores.pairing import CandidateRow, PairingStore, PairRow
from prefstream_testing.kafka import Record

GAP_S = 1000.0
T0 = 1_700_000_000_000


def event(ex: str, idx: int, score: float, n: int | None) -> bytes:
    doc: dict[str, object] = {
        "example_id": ex,
        "turn_id": "t",
        "turn_index": 0,
        "candidate_index": idx,
        "input": [{"role": "user", "content": ex}] if ex.endswith("m") else f"prompt {ex}",
        "output": f"{ex}-{idx}",
        "score": score,
    }
    if n is not None:
        doc["num_candidates"] = n
    return json.dumps(doc).encode()


turns = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "dm", "em"]),
        st.integers(0, 5),
        st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9]),
        st.sampled_from([None, 2, 3]),
    ),
    min_size=1,
    max_size=40,
)


def new_processor(path: Path, options: PairingOptions, policy: str) -> Processor:
    return Processor(
        options,
        PairingStore(path),
        inactivity_gap_s=GAP_S,
        max_age_s=10 * GAP_S,
        late_policy=policy,
        max_record_bytes=1 << 20,
    )


def run(
    path: Path,
    lines: list[bytes],
    options: PairingOptions,
    policy: str,
    batch: int,
    crash_after: int | None,
    pipelined: bool = False,
) -> tuple[list[str], list[str], int]:
    """Feed records in batches; optionally 'crash' (drop memory and the uncommitted batch)
    once, then replay from the committed offsets as a restart would. ``pipelined``: as the
    service does, batch N+1 is decided before batch N is written and settled."""
    records = [Record("c", 0 if raw[-1] % 2 else 1, 0, T0, b"k", raw) for raw in lines]
    next_off = [0, 0]
    for r in records:
        r.offset = next_off[r.partition]
        next_off[r.partition] += 1
    published: list[str] = []
    dead = 0
    proc = new_processor(path, options, policy)
    committed = {0: 0, 1: 0}
    pos = 0
    crashed = False
    inflight: tuple[Effects, dict[int, int]] | None = None

    def finish(fx: Effects, offsets: dict[int, int]) -> None:
        nonlocal published, dead
        proc.store.write(fx.window_rows, fx.candidate_rows, fx.pair_rows, fx.updates)
        proc.settle(fx.seq)
        published += [p.pair_id for p in fx.pairs]
        dead += sum(1 for d in fx.deadletters if d.reason == "late")
        committed.update(offsets)

    while pos < len(records):
        chunk = records[pos : pos + batch]
        fx = proc.process(chunk, T0, 0.0)
        if crash_after is not None and not crashed and pos >= crash_after:
            proc.store.close()  # the batch's effects (and one in flight) never commit
            crashed = True
            inflight = None
            proc = new_processor(path, options, policy)
            pos = 0
            records_left = [r for r in records if r.offset >= committed[r.partition]]
            records = records_left
            continue
        offsets = proc.windows.commit_offsets()
        if inflight is not None:
            finish(*inflight)
        inflight = (fx, offsets)
        if not pipelined:
            finish(*inflight)
            inflight = None
        pos += batch
    if inflight is not None:
        finish(*inflight)
    fx = proc.tick(T0 + int(GAP_S * 2000), 10 * GAP_S)  # the end: everything idles out
    proc.store.write(fx.window_rows, fx.candidate_rows, fx.pair_rows, fx.updates)
    published += [p.pair_id for p in fx.pairs]
    stored = proc.store.pair_ids()
    proc.store.close()
    return published, stored, dead


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    turns,
    st.integers(1, 7),
    st.sampled_from(["pair", "deadletter"]),
    st.none() | st.integers(0, 30),
    st.booleans(),
    st.none() | st.integers(1, 2),
    st.booleans(),
)
def test_service_decisions_match_pairs_build(
    tmp_path_factory: object,
    spec: list[tuple[str, int, float, int | None]],
    batch: int,
    policy: str,
    crash_after: int | None,
    exhaustive: bool,
    max_pairs: int | None,
    pipelined: bool,
) -> None:
    options = PairingOptions(exhaustive_pairs=exhaustive, max_pairs_per_turn=max_pairs)
    lines = [event(*s) for s in spec]
    offline = OfflineBuilder(options, max_bytes=1 << 20, late_policy=policy)
    offline.feed(lines)
    expected = [p.pair_id for p in offline.pairs()]
    path = Path(tmp_path_factory.mktemp("db")) / "p.duckdb"  # type: ignore[attr-defined]
    published, stored, dead = run(path, lines, options, policy, batch, crash_after, pipelined)
    assert sorted(stored) == sorted(set(stored)), "a pair is duplicated in DuckDB"
    assert set(stored) == set(expected)
    assert set(published) == set(expected)
    if crash_after is None:
        assert dead == offline.summary.late_deadlettered
        assert sorted(published) == sorted(expected)  # no replay: each pair exactly once


def test_late_candidates_of_batches_in_flight_pair_with_each_other(tmp_path: Path) -> None:
    """A window closed by batch 2 takes a late candidate in batch 3 and another in batch 4,
    batch 4 decided before batch 3 is written (as the service pipelines): settling batch 2
    must leave the window held for batch 3, or the second late candidate would be paired
    with the stored window only, without the first."""
    lines = [event("a", 0, 0.9, 2), event("a", 1, 0.1, 2), event("a", 2, 0.5, 2)]
    lines.append(event("a", 3, 0.3, 2))
    offline = OfflineBuilder(PairingOptions(), max_bytes=1 << 20, late_policy="pair")
    offline.feed(lines)
    expected = {p.pair_id for p in offline.pairs()}
    published, stored, _ = run(
        tmp_path / "p.duckdb", lines, PairingOptions(), "pair", 1, None, True
    )
    assert set(published) == set(stored) == expected


def test_pairs_view_has_the_texts(tmp_path: Path) -> None:
    lines = [event("dm", 0, 0.9, 2), event("dm", 1, 0.1, 2), event("dm", 2, 0.5, 2)]
    _, stored, _ = run(tmp_path / "p.duckdb", lines, PairingOptions(), "pair", 1, None)
    con = duckdb.connect(str(tmp_path / "p.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT prompt, chosen, rejected, close_reason FROM pairs ORDER BY score_diff DESC"
    ).fetchall()
    con.close()
    prompt = json.dumps([{"content": "dm", "role": "user"}], separators=(",", ":"))
    assert rows == [
        (prompt, "dm-0", "dm-1", "num_candidates"),
        (prompt, "dm-0", "dm-2", "late"),
        (prompt, "dm-2", "dm-1", "late"),
    ]
    assert len(stored) == 3


def test_rows_carry_their_fields() -> None:
    """Every value of a stored row lands in the column named for it."""
    now = datetime(2026, 1, 2, 3, 4, 5)
    c = Candidate(
        candidate_index=3,
        score=0.75,
        output="out",
        prompt="p",
        prompt_key=b'"p"',
        arrival=41,
        policy_model="m",
    )
    assert _candidate_row(7, c, 2, late=True) == CandidateRow(
        window_key=7,
        candidate_index=3,
        score=0.75,
        prompt='"p"',
        output="out",
        policy_model="m",
        source_partition=2,
        source_offset=41,
        late=True,
    )
    assert _candidate_row(7, c, 2, late=False, window_prompt=b'"p"').prompt is None
    low = Candidate(
        candidate_index=5, score=0.25, output="low", prompt="p", prompt_key=b'"p"', arrival=42
    )
    (p,) = pair_window("r", "e", "t", [c, low], PairingOptions(), close_reason="late")
    assert _pair_row(7, p, now) == PairRow(
        pair_id=p.pair_id,
        content_hash=p.content_hash,
        window_key=7,
        chosen_index=3,
        rejected_index=5,
        chosen_score=0.75,
        rejected_score=0.25,
        score_diff=0.5,
        reward=0.5,
        close_reason="late",
        created_at=now,
    )
