"""Files: hashed streaming writes, atomic publication, manifests, and whole cuts in memory."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefstream_datasets import (
    FILES,
    MANIFEST,
    Counts,
    ExportFormat,
    HashingWriter,
    Manifest,
    ManifestFile,
    ScoreStats,
    Source,
    clear_staging,
    dataset_id_for,
    deduplicate,
    file_digest,
    new_staging_dir,
    policy_allowed,
    publish_dir,
    read_manifest,
    read_pair_ids,
    sample,
    write_manifest,
)
from prefstream_events import PairEvent
from prefstream_testing.reference_cut import DatasetOptions, plan_dataset, write_files
from prefstream_testing.strategies import pair_sets

from tests.support.dpo_rows import read_rows

FORMATS: tuple[ExportFormat, ...] = ("nemo", "trl_standard", "trl_conversational")


def test_writer_hashes_counts_and_refuses_to_overwrite(tmp_path: Path) -> None:
    with HashingWriter(tmp_path, "a/b.jsonl") as w:
        w.write(b'{"x": 1}\n', 1)
        w.write_rows([{"y": "é"}])
    digest = w.close()
    data = (tmp_path / "a/b.jsonl").read_bytes()
    assert data == b'{"x": 1}\n{"y": "\\u00e9"}\n'
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert (digest.rows, digest.bytes) == (2, len(data))
    assert file_digest(tmp_path, "a/b.jsonl") == digest
    with pytest.raises(FileExistsError):
        HashingWriter(tmp_path, "a/b.jsonl")


def test_publish_is_a_rename_that_never_replaces(tmp_path: Path) -> None:
    staging = new_staging_dir(tmp_path, "ds-1")
    (staging / "f").write_text("one")
    publish_dir(staging, tmp_path / "ds-1")
    assert (tmp_path / "ds-1" / "f").read_text() == "one"
    assert not staging.exists()
    again = new_staging_dir(tmp_path, "ds-1")
    (again / "f").write_text("two")
    with pytest.raises(FileExistsError):
        publish_dir(again, tmp_path / "ds-1")
    (tmp_path / "ds-2").mkdir()  # even an empty directory is not replaced
    with pytest.raises(FileExistsError):
        publish_dir(again, tmp_path / "ds-2")
    assert clear_staging(tmp_path) == 1
    assert (tmp_path / "ds-1" / "f").read_text() == "one"


def _manifest(files: dict[str, ManifestFile]) -> Manifest:
    return Manifest(
        dataset_id="id",
        name="ds-3",
        sequence=3,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        mode="incremental",
        trigger="forced",
        counts=Counts(
            pairs=3,
            training=2,
            validation=1,
            considered=4,
            duplicates=1,
            excluded_by_policy=0,
            not_sampled=0,
        ),
        files=files,
        export={},
        split={},
        sampling={},
        dedup={},
        policy_models={"m": 3},
        scores={"reward": ScoreStats(min=0.0, max=1.0, mean=0.5)},
        source=Source(topic="pairs", partitions=[]),
    )


@given(ids=st.lists(st.text(min_size=1, max_size=8), max_size=30))
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_manifest_streams_any_pair_ids(tmp_path: Path, ids: list[str]) -> None:
    root = tmp_path / hashlib.md5(repr(ids).encode()).hexdigest()
    root.mkdir()
    chunks = [ids[i : i + 7] for i in range(0, len(ids), 7)]
    digest = write_manifest(root, _manifest({}), {"training": chunks, "validation": [[], ids[:2]]})
    assert read_pair_ids(root) == {"training": ids, "validation": ids[:2]}
    assert read_manifest(root).name == "ds-3"
    assert digest.sha256 == hashlib.sha256((root / MANIFEST).read_bytes()).hexdigest()


def test_dataset_id_is_a_content_address(tmp_path: Path) -> None:
    with HashingWriter(tmp_path, "a") as w:
        w.write(b"x\n", 1)
    a = {"nemo.training": w.close()}
    assert dataset_id_for("ds-1", a) == dataset_id_for("ds-1", dict(a))
    assert dataset_id_for("ds-1", a) != dataset_id_for("ds-2", a)
    with HashingWriter(tmp_path, "b") as w:
        w.write(b"y\n", 1)
    assert dataset_id_for("ds-1", a) != dataset_id_for("ds-1", {"nemo.training": w.close()})


def test_writing_does_not_hold_the_data(tmp_path: Path) -> None:
    """Peak Python memory stays flat while ~38 MB go through a writer and a manifest."""
    line = (json.dumps({"prompt": "p" * 300, "chosen_response": "c" * 300}) + "\n").encode()
    tracemalloc.start()
    try:
        with HashingWriter(tmp_path, "big.jsonl") as w:
            for _ in range(20_000):
                w.write(line * 3, 3)
        ids = ([f"{i:064x}" for i in range(j, j + 5000)] for j in range(0, 300_000, 5000))
        write_manifest(tmp_path, _manifest({}), {"training": ids, "validation": []})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert w.close().bytes > 38_000_000
    assert peak < 8_000_000, f"peak {peak} bytes"


def _expected(pairs: list[PairEvent], options: DatasetOptions) -> list[PairEvent]:
    unique = list(deduplicate(pairs)) if options.dedup else pairs
    allowed = [p for p in unique if policy_allowed(p.policy_model, options.policy_models)]
    return sample(allowed, options.max_pairs, options.seed)


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pairs=pair_sets(),
    max_pairs=st.one_of(st.none(), st.integers(1, 30)),
    policy=st.sampled_from([None, ["policy-a"], ["policy-a", "policy-b"]]),
    full=st.booleans(),
    fraction=st.sampled_from([0.2, 0.5]),
)
def test_files_hold_exactly_the_unique_pairs_or_their_sample(
    tmp_path: Path,
    pairs: list[PairEvent],
    max_pairs: int | None,
    policy: list[str] | None,
    full: bool,
    fraction: float,
) -> None:
    options = DatasetOptions(
        max_pairs=max_pairs,
        seed=7,
        validation_fraction=fraction,
        policy_models=policy,
        use_full_message_history=full,
        export_formats=FORMATS,
    )
    plan = plan_dataset(pairs, options)
    root = tmp_path / os.urandom(6).hex()
    digests = write_files(root, plan, options)
    expected = _expected(pairs, options)
    assert [p.pair_id for p in plan.pairs] == [
        p.pair_id for p in expected if p in plan.training
    ] + [p.pair_id for p in expected if p in plan.validation and p not in plan.training]
    assert {p.pair_id for p in plan.pairs} == {p.pair_id for p in expected}
    nemo_rows = {
        side: read_rows(root / FILES["nemo"][i], "nemo")
        for i, side in enumerate(("training", "validation"))
    }
    # every row is its pair's NeMo row, in plan order; every format has the same row count
    sides: tuple[tuple[str, list[PairEvent]], ...] = (
        ("training", plan.training),
        ("validation", plan.validation),
    )
    for side, items in sides:
        rows = nemo_rows[side]
        assert len(rows) == len(items) == digests[f"nemo.{side}"].rows
        for r, p in zip(rows, items, strict=True):
            assert (r["chosen_response"], r["rejected_response"]) == (p.chosen, p.rejected)
        for fmt in FORMATS:
            path = root / FILES[fmt][0 if side == "training" else 1]
            assert len(read_rows(path, fmt)) == len(items)
    examples = [{p.example_id for p in plan.training}, {p.example_id for p in plan.validation}]
    if len({p.example_id for p in expected}) > 1:
        assert not (examples[0] & examples[1]), "an example on both sides"
