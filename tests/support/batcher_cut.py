"""A dataset directory cut by the batcher's own code (store, selection, materialize), without
a broker: for tests of what consumes a real cut (``load_dataset``, the submitter), and plain
pairs to cut."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from prefstream_batcher_service.decode import pair_row
from prefstream_batcher_service.materialize import OutputOptions, build
from prefstream_datasets import CutSpec, ExportFormat
from prefstream_events import DatasetReady, PairEvent
from prefstream_stores.batcher import BatcherStore
from prefstream_testing.strategies import pair_event


def cut_dataset(
    root: Path,
    pairs: Sequence[PairEvent],
    *,
    formats: Sequence[ExportFormat] = ("nemo",),
    full_history: bool = False,
    keep_system: bool = False,
    license: str | None = None,
    validation_fraction: float = 0.2,
    name: str = "ds-1",
) -> DatasetReady:
    """Store ``pairs`` (partition 0, in order) and cut all of them as ``name`` under
    ``root/datasets``; returns the DatasetReady the batcher would announce."""
    store = BatcherStore(root / "batcher.duckdb")
    try:
        with store.transaction():
            store.insert_pairs([pair_row(p, 0, i, 0.0) for i, p in enumerate(pairs)])
        spec = CutSpec(
            sequence=1,
            name=name,
            mode="incremental",
            trigger="forced",
            created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            starts={},
            ends={0: len(pairs)},
            dedup=True,
            max_pairs=None,
            seed=0,
            validation_fraction=validation_fraction,
            topic="prefstream.pairs.v1",
        )
        options = OutputOptions(
            root / "datasets",
            ("nemo", *(f for f in formats if f != "nemo")),
            full_history,
            keep_system=keep_system,
            license=license,
        )
        options.datasets_dir.mkdir(parents=True, exist_ok=True)
        return build(store, spec, options).event
    finally:
        store.close()


def question_pairs(n: int, examples: int) -> list[PairEvent]:
    """``n`` plain-text pairs (``question <i>?``: ``good <i>`` over ``bad``), one content
    each, spread over ``examples`` examples."""
    return [
        pair_event(
            i,
            example=i % examples,
            content=i,
            prompt=f"question {i}?",
            chosen=f"good {i}",
            rejected="bad",
        )
        for i in range(n)
    ]
