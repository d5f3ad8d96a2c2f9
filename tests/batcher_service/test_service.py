"""The batcher service against a real broker: thresholds, dead letters, idempotent replay,
forced cuts and listing through the CLI, policy filters."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from prefstream_datasets import DatasetState, read_manifest
from prefstream_events import DatasetReady, PairEvent
from prefstream_kafka import ensure_topics
from prefstream_stores.batcher import BatcherStore

from tests.support.dpo_rows import read_rows

from .harness import (
    REPO,
    Env,
    TopicReader,
    by_name,
    check_files,
    consumed,
    dataset_pair_ids,
    pair_event,
    produce,
    running,
)


def _stream() -> tuple[list[PairEvent | tuple[bytes | None, bytes]], list[PairEvent]]:
    """2,200 unique pairs, 200 content duplicates of earlier ones, 50 resent pair ids and 4
    invalid records, interleaved. Returns (what to send, the unique pairs in send order)."""
    items: list[PairEvent | tuple[bytes | None, bytes]] = []
    unique: list[PairEvent] = []
    for i in range(2200):
        event = pair_event(i)
        items.append(event)
        unique.append(event)
        if i % 11 == 10:  # same content (so same prompt and example) as an earlier pair
            items.append(pair_event(100_000 + i, content=i - 5, example=unique[i - 5].example_id))
        if i % 44 == 43:  # a resend of an earlier pair
            items.append(pair_event(i - 20))
        if i % 550 == 7:
            items.append((b"example-1", b"{not json"))
    items.append((b"example-2", json.dumps({"pair_id": "x"}).encode()))
    return items, unique


async def test_thresholds_dead_letters_and_idempotent_replay(env: Env) -> None:
    items, unique = _stream()
    await produce(env, items)
    config = dict(min_new_pairs=1000, max_wait_seconds=3600, min_pairs=1)
    first_of = {p.pair_id for p in unique}

    async with TopicReader(env, env.datasets) as announced, running(env.config("a", **config)):
        await announced.wait_for(lambda r: len(r.values) >= 2, 60, "two datasets")
    events = announced.datasets()
    assert [e.name for e in events] == ["nat-dpo-1", "nat-dpo-2"]
    seen: set[str] = set()
    for event in events:
        check_files(event)
        ids = dataset_pair_ids(event)
        assert len(ids) == event.num_pairs == 1000, "exactly min_new_pairs unique pairs"
        assert ids <= first_of, "only first occurrences (dedup, resends ignored)"
        assert not ids & seen, "a pair in two incremental datasets"
        seen |= ids
        directory = Path(event.directory)
        train = read_rows(directory / event.training.path)
        val = read_rows(directory / event.validation.path)
        assert len(train) == event.training.rows
        assert len(val) == event.validation.rows
        assert val, "a validation set"
        manifest = read_manifest(directory)
        assert manifest.trigger == "min_new_pairs"
        assert manifest.policy_models == {"policy-a": 1000}
        assert event.source_offsets, "the cut's offsets are announced"
    # the first datasets hold the earliest pairs of each partition, in consumption order
    assert seen == {p.pair_id for p in unique[:2200] if p.pair_id in seen}

    async with TopicReader(env, env.deadletter) as dead:
        await dead.wait_for(lambda r: len(r.values) >= 5, 30, "dead letters")
    letters = dead.dead_letters()
    assert sorted(d.reason for d in letters) == ["missing_field"] + ["not_json"] * 4
    assert all(d.service == "batcher" and d.source.topic == env.pairs for d in letters)
    assert {d.original for d in letters} >= {b"{not json"}

    # a fresh batcher (own DB, own directory, own group) replaying the whole topic learns the
    # earlier cuts from the datasets topic and reproduces them exactly, announcing nothing
    async with running(env.config("b", **config)) as fresh:
        await consumed(fresh, env.sent, 60)
        await _written(env.datasets_dir("b"), 2)
    for event in events:
        copy = read_manifest(env.datasets_dir("b") / event.name)
        rebuilt = DatasetReady.model_validate(
            {**event.model_dump(), "directory": str(env.datasets_dir("b") / event.name)}
        )
        assert dataset_pair_ids(rebuilt) == dataset_pair_ids(event)
        assert copy.dataset_id == event.dataset_id, "same bytes: same content address"
    _assert_cut_log(env.tmp / "b" / "batcher.duckdb", 2)

    # the batcher that made them, replaying everything again under a new group: no new dataset
    replay = env.config("a", **config).model_copy(deep=True)
    replay.batcher.group_id += "-replay"
    async with running(replay) as again:
        await consumed(again, env.sent, 60)
        assert again.state.pending == 200, "only the 200 never cut are pending"
    async with TopicReader(env, env.datasets) as after:
        await after.wait_for(lambda r: len(r.values) >= 2, 30, "the datasets")
        await after.poll()
    assert [e.name for e in after.datasets()] == ["nat-dpo-1", "nat-dpo-2"]


def _count_written(directory: Path) -> int:
    return len([p for p in directory.glob("nat-dpo-*") if (p / "manifest.json").exists()])


async def _written(directory: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while _count_written(directory) < count:
        assert time.monotonic() < deadline, f"{count} datasets not written in {directory}"
        await asyncio.sleep(0.1)


def _assert_cut_log(db: Path, count: int) -> None:
    store = BatcherStore(db)
    try:
        entries = store.cut_records()
        assert [e.state for e in entries] == [DatasetState.ANNOUNCED] * count
    finally:
        store.close()


async def test_a_fresh_batcher_without_history_cuts_the_same_on_one_partition(
    kafka_broker: object, tmp_path: Path
) -> None:
    """With nothing to learn from, cuts are a function of the consumed order alone: on a
    one-partition topic a fresh batcher reproduces every dataset byte for byte."""
    env = Env(kafka_broker.bootstrap_servers, tmp_path, partitions=1)  # type: ignore[attr-defined]
    await env.create_topics()
    await produce(env, [pair_event(i, content=i - i % 9 if i % 9 == 8 else i) for i in range(1500)])
    config = dict(min_new_pairs=400, max_wait_seconds=3600)
    runs = []
    for name, topic in (("a", env.datasets), ("b", env.topic("datasets-fresh"))):
        cfg = env.config(name, **config)
        cfg.kafka.topics.datasets = topic
        await ensure_topics(cfg.kafka)
        async with TopicReader(env, topic) as reader, running(cfg):
            await reader.wait_for(lambda r: len(r.values) >= 3, 60, "three datasets")
        runs.append(reader.datasets())
    first, second = runs
    assert [e.dataset_id for e in first] == [e.dataset_id for e in second]
    assert [dataset_pair_ids(e) for e in first] == [dataset_pair_ids(e) for e in second]
    assert [e.num_pairs for e in first] == [400, 400, 400]


async def test_cli_forced_cut_with_policy_filter_and_list(env: Env) -> None:
    events = [pair_event(i, policy="policy-old" if i % 3 == 0 else "policy-new") for i in range(60)]
    await produce(env, events)
    overrides = env.overrides("a", min_new_pairs=10_000, max_wait_seconds=3600)
    config_file = env.tmp / "config.yaml"
    data: dict[str, object] = {}
    for key, value in overrides.items():
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})  # type: ignore[assignment]
        node[last] = value
    config_file.write_text(yaml.safe_dump(data))
    cli = [sys.executable, "-m", "prefstream_cli"]

    async with running(env.config("a", min_new_pairs=10_000, max_wait_seconds=3600)) as svc:
        await consumed(svc, env.sent, 60)
        assert svc.state.pending == 60
        cut = await _run(
            [
                *cli,
                "dataset",
                "cut",
                "-c",
                str(config_file),
                "--policy-model",
                "policy-new",
                "--timeout",
                "60",
            ]
        )
        assert cut.returncode == 0, cut.stderr
        event = DatasetReady.model_validate_json(cut.stdout)
        assert event.trigger == "forced"
        assert event.policy_filter == ["policy-new"]
        assert event.policy_models == {"policy-new": 40}
        manifest = read_manifest(Path(event.directory))
        assert manifest.excluded_policy_models == {"policy-old": 20}
        # nothing pending now: a second request cuts nothing and times out (exit 4)
        empty = await _run([*cli, "dataset", "cut", "-c", str(config_file), "--timeout", "3"])
        assert empty.returncode == 4, empty.stderr
        listing = await _run([*cli, "dataset", "list", "-c", str(config_file), "--json"])
        assert listing.returncode == 0, listing.stderr
        rows = [json.loads(line) for line in listing.stdout.splitlines()]
        assert [(r["name"], r["counts"]["pairs"], r["trigger"]) for r in rows] == [
            ("nat-dpo-1", 40, "forced")
        ]
        table = await _run([*cli, "dataset", "list", "-c", str(config_file)])
        assert "nat-dpo-1" in table.stdout
        assert "policy-new=40" in table.stdout
    assert by_name([event])["nat-dpo-1"][0].request_id is not None


async def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, cwd=REPO, timeout=120
    )
