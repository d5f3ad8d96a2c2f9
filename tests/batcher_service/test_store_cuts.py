"""The batcher's DuckDB path against the pure reference, without a broker.

Random pair streams go through the store in random batches; every cut the store writes must
be byte-identical to what the pure pipeline writes for the same consumed pairs.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefstream_batcher_service.decode import pair_row
from prefstream_batcher_service.materialize import DatasetConflict, OutputOptions, build
from prefstream_datasets import (
    CARD,
    CARD_KEY,
    FILES,
    CardOptions,
    CutSpec,
    DatasetState,
    ExportFormat,
    bucket64,
    dataset_card,
    file_digest,
    read_manifest,
    read_pair_ids,
)
from prefstream_events import PairEvent
from prefstream_stores.batcher import BatcherStore, md5_key
from prefstream_testing.reference_cut import DatasetOptions, plan_dataset, write_files
from prefstream_testing.strategies import SHORT_PROMPT, SHORT_TEXT, pair_events

from tests.support.dpo_rows import read_rows

FORMATS: tuple[ExportFormat, ...] = ("nemo", "trl_standard", "trl_conversational")
Arrived = tuple[int, int, PairEvent]


@st.composite
def streams(draw: st.DrawFn) -> list[Arrived]:
    """Pairs arriving on 3 partitions, with replays of earlier pair ids (as redeliveries and
    pairing restarts produce), repeated contents and examples, three policy models."""
    out: list[Arrived] = []
    offsets = [0, 0, 0]
    for i in range(draw(st.integers(0, 60))):
        p = draw(pair_events(i, examples=10, contents=36, prompts=SHORT_PROMPT, texts=SHORT_TEXT))
        part = draw(st.integers(0, 2))
        out.append((part, offsets[part], p))
        offsets[part] += 1
        if out and draw(st.integers(0, 9)) == 0:  # a replay of an earlier pair
            _, _, old = out[draw(st.integers(0, len(out) - 1))]
            out.append((part, offsets[part], old))
            offsets[part] += 1
    return out


def _ingest(store: BatcherStore, arrived: list[Arrived], splits: list[int]) -> None:
    bounds = sorted({0, len(arrived), *(s % (len(arrived) + 1) for s in splits)})
    for a, b in itertools.pairwise(bounds):
        rows = [pair_row(ev, part, off, time.time()) for part, off, ev in arrived[a:b]]
        with store.transaction():
            store.insert_pairs(rows)


def _oracle(
    arrived: list[Arrived], starts: dict[int, int], ends: dict[int, int], dedup: bool
) -> list[PairEvent]:
    """Stored pairs (first of each pair id, in arrival order), first of each content when
    deduplicating (first *consumed*), restricted to the cut's offset ranges, in file order:
    by (partition, offset)."""
    seen_ids: set[str] = set()
    seen_contents: set[str] = set()
    out = []
    for part, off, ev in arrived:
        if ev.pair_id in seen_ids:
            continue
        seen_ids.add(ev.pair_id)
        first = ev.content_hash not in seen_contents
        seen_contents.add(ev.content_hash)
        if (first or not dedup) and starts.get(part, 0) <= off < ends.get(part, 0):
            out.append((part, off, ev))
    return [ev for _, _, ev in sorted(out, key=lambda a: (a[0], a[1]))]


def _spec(seq: int, starts: dict[int, int], ends: dict[int, int], **kw: object) -> CutSpec:
    fields: dict[str, object] = {
        "sequence": seq,
        "name": f"ds-{seq}",
        "mode": "incremental",
        "trigger": "forced",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "starts": starts,
        "ends": ends,
        "dedup": True,
        "max_pairs": None,
        "seed": 3,
        "validation_fraction": 0.2,
        "topic": "pairs",
    }
    fields.update(kw)
    return CutSpec(**fields)  # type: ignore[arg-type]


def _ends(arrived: list[Arrived]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for part, off, _ in arrived:
        ends[part] = max(ends.get(part, 0), off + 1)
    return ends


@settings(
    deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    arrived=streams(),
    splits=st.lists(st.integers(0, 200), max_size=4),
    split_at=st.floats(0, 1),
    max_pairs=st.one_of(st.none(), st.integers(1, 25)),
    policy=st.sampled_from([None, ["policy-a"], ["policy-b", "policy-a"]]),
    dedup=st.booleans(),
    full=st.booleans(),
    fraction=st.sampled_from([0.2, 0.5]),
    keep_system=st.booleans(),
)
def test_cuts_equal_the_pure_pipeline_byte_for_byte(
    tmp_path: Path,
    arrived: list[Arrived],
    splits: list[int],
    split_at: float,
    max_pairs: int | None,
    policy: list[str] | None,
    dedup: bool,
    full: bool,
    fraction: float,
    keep_system: bool,
) -> None:
    root = tmp_path / os.urandom(6).hex()
    store = BatcherStore(root / "b.duckdb")
    try:
        _ingest(store, arrived, splits)
        # two consecutive cuts: the first over a prefix of the consumption, the second the rest
        middle = _ends(arrived[: int(len(arrived) * split_at)])
        everything = _ends(arrived)
        options = OutputOptions(root / "datasets", FORMATS, full, keep_system=keep_system)
        options.datasets_dir.mkdir(parents=True)
        seen: set[str] = set()
        for seq, (starts, ends) in enumerate(((({}, middle)), (middle, everything)), start=1):
            spec = _spec(
                seq,
                starts,
                ends,
                dedup=dedup,
                max_pairs=max_pairs,
                policy_filter=policy,
                validation_fraction=fraction,
            )
            built = build(store, spec, options)
            plan = plan_dataset(
                _oracle(arrived, starts, ends, dedup),
                DatasetOptions(
                    dedup=False,
                    max_pairs=max_pairs,
                    seed=3,
                    validation_fraction=fraction,
                    policy_models=policy,
                    use_full_message_history=full,
                    export_formats=FORMATS,
                ),
            )
            expected_dir = root / f"expected-{seq}"
            digests = write_files(
                expected_dir,
                plan,
                DatasetOptions(
                    use_full_message_history=full, export_formats=FORMATS, keep_system=keep_system
                ),
            )
            directory = Path(built.event.directory)
            for digest in digests.values():
                assert (directory / digest.path).read_bytes() == (
                    expected_dir / digest.path
                ).read_bytes(), digest.path
            for fmt in FORMATS:
                for path in FILES[fmt]:
                    read_rows(directory / path, fmt)
            ids = read_pair_ids(directory)
            assert ids["training"] == [p.pair_id for p in plan.training]
            assert ids["validation"] == [p.pair_id for p in plan.validation]
            members = {p.pair_id for p in plan.pairs}
            assert built.event.num_pairs == len(members)
            if max_pairs is None:
                assert not (members & seen), "a pair in two incremental datasets"
            seen |= members
            manifest = read_manifest(directory)
            assert manifest.files[CARD_KEY].sha256 == file_digest(directory, CARD).sha256
            assert (directory / CARD).read_text() == dataset_card(
                manifest, CardOptions(full, keep_system)
            )
            assert manifest.counts.excluded_by_policy == sum(plan.excluded_policy_models.values())
            assert {r.partition: (r.start, r.end) for r in manifest.source.partitions} == {
                p: (starts.get(p, 0), end) for p, end in ends.items()
            }
    finally:
        store.close()


@settings(
    deadline=None, max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(max_size=20), min_size=1, max_size=30))
def test_sql_and_python_hashes_agree(tmp_path: Path, texts: list[str]) -> None:
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT t, md5_number_upper(t), md5_number(t) FROM unnest(?::VARCHAR[]) AS u(t)",
            [texts],
        ).fetchall()
    finally:
        con.close()
    for text, upper, full in rows:
        assert bucket64(text) == upper
        assert md5_key(text) == full


def _events(n: int) -> list[Arrived]:
    return [
        (
            i % 2,
            i // 2,
            PairEvent(
                pair_id=f"p{i}",
                content_hash=f"c{i}",
                run_id="",
                example_id=f"ex{i % 7}",
                turn_id="t",
                prompt="q",
                chosen=f"a{i}",
                rejected="b",
                chosen_score=1,
                rejected_score=0,
                score_diff=1,
                reward=1,
                chosen_index=0,
                rejected_index=1,
            ),
        )
        for i in range(n)
    ]


def test_a_second_attempt_reuses_the_directory_and_its_event(tmp_path: Path) -> None:
    store = BatcherStore(tmp_path / "b.duckdb")
    arrived = _events(50)
    _ingest(store, arrived, [20])
    options = OutputOptions(tmp_path / "datasets", ("nemo",), False)
    spec = _spec(1, {}, _ends(arrived))
    first = build(store, spec, options)
    again = build(store, spec, options)
    assert again.reused
    assert again.event == first.event
    # membership and the cut log
    store.record_cut(spec)
    store.mark_written(again.selection, again.event.dataset_id, again.event.model_dump_json())
    [entry] = store.cut_records()
    assert entry.state is DatasetState.WRITTEN
    assert entry.event == first.event.model_dump_json()
    membership = store.dataset_of([p.pair_id for _, _, p in arrived])
    assert membership == {p.pair_id: [1] for _, _, p in arrived}
    store.close()


def test_a_foreign_directory_is_never_overwritten(tmp_path: Path) -> None:
    store = BatcherStore(tmp_path / "b.duckdb")
    arrived = _events(30)
    _ingest(store, arrived, [])
    options = OutputOptions(tmp_path / "datasets", ("nemo",), False)
    build(store, _spec(1, {}, {0: 5, 1: 5}), options)
    with pytest.raises(DatasetConflict):  # same name, other contents
        build(store, _spec(1, {}, _ends(arrived)), options)
    (options.datasets_dir / "ds-2").mkdir()
    with pytest.raises(DatasetConflict):
        build(store, _spec(2, {}, _ends(arrived)), options)
    store.close()


def test_replayed_and_duplicate_pairs(tmp_path: Path) -> None:
    store = BatcherStore(tmp_path / "b.duckdb")
    a = _events(3)
    dup = (0, 9, a[1][2].model_copy(update={"pair_id": "other"}))
    with store.transaction():
        first = store.insert_pairs([pair_row(e, p, o, 0.0) for p, o, e in [*a, a[0], dup]])
    assert first.inserted == [True, True, True, False, True]
    assert first.first == [True, True, True, False, False]
    with store.transaction():
        again = store.insert_pairs([pair_row(e, p, o, 0.0) for p, o, e in a])
    assert again.inserted == [False, False, False]
    assert store.counts() == {"pairs": 4, "duplicates": 1}

    def failing_batch() -> None:
        with store.transaction():
            rows = [pair_row(e, 1, 50 + i, 0.0) for i, (_, _, e) in enumerate(_events(9))]
            store.insert_pairs(rows)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):  # a failed batch leaves nothing behind
        failing_batch()
    assert store.counts() == {"pairs": 4, "duplicates": 1}
    store.close()


def test_the_card_is_listed_verified_and_rebuilt_identically(tmp_path: Path) -> None:
    """Re-cutting the same spec elsewhere gives the same card and manifest bytes; a card
    changed on disk makes the directory a conflict, like any listed file."""
    arrived = _events(40)
    spec = _spec(1, {}, _ends(arrived))
    built = []
    for name in ("a", "b"):
        store = BatcherStore(tmp_path / f"{name}.duckdb")
        _ingest(store, arrived, [17])
        options = OutputOptions(tmp_path / name, FORMATS, False, license="apache-2.0")
        options.datasets_dir.mkdir()
        built.append((store, options, Path(build(store, spec, options).event.directory)))
    (_, _, first), (store, options, second) = built
    for name in (CARD, "manifest.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    assert "license: apache-2.0" in (first / CARD).read_text()
    (second / CARD).write_text((second / CARD).read_text() + "edited\n")
    with pytest.raises(DatasetConflict, match=CARD):
        build(store, spec, options)
    for s, _, _ in built:
        s.close()
