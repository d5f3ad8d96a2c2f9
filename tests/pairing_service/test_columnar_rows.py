"""The batch's rows are built a column at a time (no object per row); they must equal the
per-row reference (``_candidate_row``, ``_pair_row``) and land in DuckDB unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from aiokafka.partitioner import DefaultPartitioner
from msgspec.structs import astuple
from prefstream_pairing import PairingOptions, window_key
from prefstream_pairing_service.processor import Processor, _candidate_row, _pair_row
from prefstream_pairing_service.sink import KeyRouter
from prefstream_stores.pairing import (
    ARROW_TYPES,
    TABLE_ROWS,
    CandidateRow,
    Columns,
    PairingStore,
)
from prefstream_testing.kafka import Record

T0 = 1_700_000_000_000


def event(
    ex: str, idx: int, score: float, *, prompt: object = None, model: str | None = None
) -> bytes:
    doc: dict[str, object] = {
        "example_id": ex,
        "turn_id": "t",
        "turn_index": 0,
        "candidate_index": idx,
        "input": prompt if prompt is not None else f"prompt {ex}",
        "output": f"{ex}-{idx}",
        "score": score,
        "num_candidates": 3,
    }
    if model is not None:
        doc["policy_model"] = model
    return json.dumps(doc).encode()


def records(lines: list[bytes], first: int) -> list[Record]:
    return [Record("c", 0, first + i, T0, b"k", raw) for i, raw in enumerate(lines)]


def processor(path: Path) -> Processor:
    return Processor(
        PairingOptions(),
        PairingStore(path),
        inactivity_gap_s=1000,
        max_age_s=10_000,
        late_policy="pair",
        max_record_bytes=1 << 20,
    )


def test_columns_equal_the_per_row_reference_and_reach_duckdb(tmp_path: Path) -> None:
    proc = processor(tmp_path / "p.duckdb")
    chat = [{"role": "user", "content": "hi"}]
    batch = [
        event("a", 0, 0.9),
        event("a", 1, 0.1, model="m1"),
        event("a", 2, 0.5, prompt="another prompt"),  # closes "a"; its own prompt is kept
        event("a", 3, 0.7),  # late in the same batch: the window row is rewritten in place
        event("b", 0, 0.2, prompt=chat),
        event("b", 1, 0.8, prompt=chat),
        event("b", 2, 0.4, prompt=chat),
    ]
    fx = proc.process(records(batch, 0), T0, 0.0)
    assert len(fx.window_rows) == 2
    assert len(fx.candidate_rows) == 7

    cands = {wk: c for wk, (_, c) in proc._pending.items()}
    wk_a, wk_b = window_key("", "a", "t"), window_key("", "b", "t")
    expected_cands: list[CandidateRow] = []
    for wk in (wk_a, wk_b):
        held = cands[wk][:3]  # the window's own three, then (for "a") the late one
        expected_cands += [
            _candidate_row(wk, c, 0, late=False, window_prompt=held[0].prompt_key) for c in held
        ]
    late = cands[wk_a][3]
    expected_cands.insert(3, _candidate_row(wk_a, late, 0, late=True))
    assert sorted(fx.candidate_rows, key=astuple) == sorted(expected_cands, key=astuple)

    created = fx.pair_rows.cols[-1]
    keys = [window_key("", p.example_id, p.turn_id) for p in fx.pairs]
    assert list(fx.pair_rows) == [
        _pair_row(wk, p, now) for wk, p, now in zip(keys, fx.pairs, created, strict=True)
    ]
    (row_a,) = (r for r in fx.window_rows if r.window_key == wk_a)
    assert row_a.num_candidates == 4
    assert row_a.candidate_indices == "0,1,2,3"

    proc.store.write(fx.window_rows, fx.candidate_rows, fx.pair_rows, fx.updates)
    con = proc.store.con
    for table, rows in (
        ("windows", fx.window_rows),
        ("candidates", fx.candidate_rows),
        ("pair_scores", fx.pair_rows),
    ):
        stored = con.execute(f"SELECT * FROM {table}").fetchall()
        assert sorted(stored, key=repr) == sorted(map(astuple, rows), key=repr), table
    # A later batch's late candidate updates the stored window.
    fx2 = proc.process(records([event("b", 3, 0.6, prompt=chat)], 7), T0, 0.0)
    proc.store.write(fx2.window_rows, fx2.candidate_rows, fx2.pair_rows, fx2.updates)
    proc.store.close()
    ro = duckdb.connect(str(tmp_path / "p.duckdb"), read_only=True)
    assert ro.execute(
        f"SELECT num_candidates, candidate_indices FROM windows WHERE window_key = {wk_b}"
    ).fetchall() == [(4, "0,1,2,3")]
    ro.close()


def test_arrow_types_follow_the_tables(tmp_path: Path) -> None:
    """The Arrow schema a batch is inserted with has the tables' columns, in their order,
    with their SQL types (``INSERT ... SELECT *`` matches columns by position)."""
    store = PairingStore(tmp_path / "p.duckdb")
    sql_of = {"int64": "BIGINT", "int32": "INTEGER", "double": "DOUBLE", "string": "VARCHAR"}
    sql_of |= {"bool": "BOOLEAN", "timestamp[us]": "TIMESTAMP"}
    for table, schema in ARROW_TYPES.items():
        described = store.con.execute(f"DESCRIBE {table}").fetchall()
        assert [(c[0], c[1]) for c in described] == [(f.name, sql_of[str(f.type)]) for f in schema]
        assert list(TABLE_ROWS[table].__struct_fields__) == schema.names
    store.close()


def test_columns_append_read_and_replace_rows() -> None:
    rows = [
        CandidateRow(
            window_key=i,
            candidate_index=i,
            score=0.5,
            prompt=None,
            output=f"o{i}",
            policy_model=None,
            source_partition=None,
            source_offset=None,
            late=False,
        )
        for i in range(3)
    ]
    cols = Columns.of(CandidateRow, rows)
    assert len(cols) == 3
    assert list(cols) == rows
    assert cols[1] == rows[1]
    cols[1] = rows[2]
    assert list(cols) == [rows[0], rows[2], rows[2]]
    assert not Columns(CandidateRow)
    # All-NULL columns keep their SQL types.
    assert cols.arrow("candidates").column("prompt").type == "string"


def test_remembered_key_partitions_are_the_partitioners() -> None:
    parts = [0, 1, 2, 3, 4, 5]
    router = KeyRouter(parts, limit=40)
    keys = [f"ex-{i}".encode() for i in range(50)]
    partitioner = DefaultPartitioner()
    # Keys seen in earlier batches again, and a memo that overflows and is dropped.
    for chunk in (keys[:30], keys[10:], keys, keys[::-1]):
        groups = router.group([(k, b"v", []) for k in chunk])
        assert sorted(k or b"" for recs in groups.values() for k, _, _ in recs) == sorted(chunk)
        for part, recs in groups.items():
            assert all(part == partitioner(k, parts, parts) for k, _, _ in recs)
