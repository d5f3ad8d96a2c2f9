"""Traces kept across restarts: the batcher's pairs and the submitter's ledger store the
record's traceparent; files written before the column existed gain it on open."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
from prefstream_datasets import CutSpec
from prefstream_runtime.trace_headers import evenly
from prefstream_stores.batcher import BatcherStore, PairRow
from prefstream_stores.batcher.schema import SCHEMA
from prefstream_stores.ledger import Ledger

from tests.submitter_service.harness import dataset_event, write_rows


def tp(i: int) -> str:
    return f"00-{i + 1:032x}-{i + 1:016x}-01"


def row(i: int, trace: str | None) -> PairRow:
    return PairRow(
        pair_id=f"p{i}",
        content_hash=f"h{i}",
        example_id="ex",
        policy_model=None,
        src_partition=0,
        src_offset=i,
        received_at=0.0,
        chosen_score=1.0,
        rejected_score=0.0,
        score_diff=1.0,
        reward=1.0,
        prompt_text='"p"',
        prompt_messages="[]",
        chosen='"c"',
        rejected='"r"',
        traceparent=trace,
    )


def spec(start: int, end: int) -> CutSpec:
    return CutSpec(
        sequence=1,
        name="d-1",
        mode="incremental",
        trigger="test",
        created_at=datetime.now(UTC),
        starts={0: start},
        ends={0: end},
        dedup=True,
        max_pairs=None,
        seed=0,
        validation_fraction=0.0,
    )


def test_cut_links_are_an_even_sample_of_its_pairs_traces(tmp_path: Path) -> None:
    store = BatcherStore(tmp_path / "b.duckdb")
    with store.transaction():
        store.insert_pairs([row(i, tp(i) if i % 10 else None) for i in range(1000)])
    traces = store.trace_links(spec(100, 900), 16)
    assert len(traces) == 16
    offsets = [int(t.split("-")[1], 16) - 1 for t in traces]
    assert offsets == evenly([o for o in range(100, 900) if o % 10], 16)
    assert len(store.trace_links(spec(0, 5), 16)) == 4  # fewer than the limit: all of them
    store.close()


def test_an_older_batcher_file_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old = SCHEMA.replace(",\n    traceparent VARCHAR\n", "\n").replace(
        "ALTER TABLE pairs ADD COLUMN IF NOT EXISTS traceparent VARCHAR;\n", ""
    )
    assert "traceparent" not in old
    con = duckdb.connect(str(path))
    con.execute(old)
    con.close()
    store = BatcherStore(path)
    with store.transaction():
        store.insert_pairs([row(1, tp(1))])
    assert store.trace_links(spec(0, 5), 4) == [tp(1)]
    store.close()


def test_the_ledger_keeps_a_datasets_trace(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "s.duckdb")
    write_rows(tmp_path / "d")
    dataset = dataset_event(tmp_path / "d", "d-1", 1)
    assert ledger.add(dataset) is not None
    assert ledger.traceparent(dataset.dataset_id) is None
    ledger.set_traceparent(dataset.dataset_id, tp(7))
    ledger.close()
    reopened = Ledger(tmp_path / "s.duckdb")
    assert reopened.traceparent(dataset.dataset_id) == tp(7)
    assert reopened.get(dataset.dataset_id) is not None
    reopened.close()
