"""The pairing service against a real broker: equivalence with ``pairs build``, crash
safety under SIGKILL, scale-out with a member that dies, replay, and bad input."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

from prefstream_testing.synthetic import synthetic_lines

from .harness import Env, Service, TopicReader, offline_pair_ids, produce


def lines_for(turns: int, seed: int, **kw: object) -> list[bytes]:
    return list(synthetic_lines(turns, 4, seed=seed, interleave=16, **kw))


def assert_db(services: list[Service], expected: set[str]) -> None:
    union: set[str] = set()
    for svc in services:
        ids = svc.pair_ids()
        dups = [k for k, n in Counter(ids).items() if n > 1]
        assert not dups, f"{svc.name} holds duplicate pairs: {dups[:5]}"
        union |= set(ids)
    assert union == expected, (len(union - expected), len(expected - union))


def seen_twice(ids: list[str], expected: set[str]) -> bool:
    counts = Counter(ids)
    return all(counts[i] >= 2 for i in expected)


async def _equivalence(env: Env, turns: int) -> None:
    lines = lines_for(turns, seed=turns)
    expected = offline_pair_ids(lines)
    svc = Service(env).start()
    await svc.wait_ready(partitions=env.partitions)
    await produce(env, lines)
    async with TopicReader(env, env.pairs) as topic:
        await topic.wait_for(lambda t: set(t.pair_ids()) >= expected, 240, services=[svc])
        assert set(topic.pair_ids()) == expected
        metrics = svc.metrics()
        for name in (
            "prefstream_pairing_windows_open",
            "prefstream_pairing_candidates_total",
            "prefstream_pairing_pairs_published_total",
            "prefstream_pairing_candidates_late_total",
            "prefstream_pairing_close_latency_seconds_bucket",
        ):
            assert name in metrics
        await svc.wait_metric(f"prefstream_pairing_candidates_total {float(len(lines))}")
        await svc.wait_metric("prefstream_pairing_windows_open 0.0")
    svc.stop()
    assert_db([svc], expected)

    # Replay: the same topic from the beginning into an empty DuckDB, in a new group.
    replay_env = Env(env.bootstrap, env.tmp, tag=env.tag, extra={"pairing.group_id": f"r{env.tag}"})
    again = Service(replay_env, name="replay").start()
    env.services.append(again)
    await again.wait_ready(partitions=env.partitions)
    async with TopicReader(env, env.pairs) as topic:
        await topic.wait_for(lambda t: seen_twice(t.pair_ids(), expected), 240, services=[again])
    again.stop()
    assert_db([again], expected)


def test_equivalence_replay_and_probes_50k_events(env: Env) -> None:
    asyncio.run(_equivalence(env, turns=12_500))


async def _crashes(env: Env, turns: int, kills: int) -> None:
    rng = random.Random(turns)
    lines = lines_for(turns, seed=7)
    expected = offline_pair_ids(lines)
    # Chunks split on 16-turn interleave blocks (64 events), so each chunk has whole turns.
    per = len(lines) // (kills + 1) // 64 * 64
    chunks = [lines[i * per : (i + 1) * per] for i in range(kills)] + [lines[kills * per :]]
    svc = Service(env).start()
    await svc.wait_ready(partitions=env.partitions)
    async with TopicReader(env, env.pairs) as topic:
        sent: list[bytes] = []
        for chunk in chunks[:-1]:
            await produce(env, chunk)
            sent += chunk
            target = len(offline_pair_ids(sent)) * rng.uniform(0.3, 0.9)
            await topic.wait_for(
                lambda t, n=target: len(set(t.pair_ids())) >= n, 120, services=[svc]
            )
            svc.kill()  # SIGKILL mid-stream: DuckDB and offsets are wherever they were
            svc.start()
            await svc.wait_ready(partitions=env.partitions)
        await produce(env, chunks[-1])
        await topic.wait_for(lambda t: set(t.pair_ids()) >= expected, 240, services=[svc])
        assert set(topic.pair_ids()) == expected
    svc.stop()
    assert_db([svc], expected)


def test_sigkill_at_five_moments_50k_events(env: Env) -> None:
    asyncio.run(_crashes(env, turns=12_500, kills=5))


async def _two_instances(env: Env, turns: int) -> None:
    lines = lines_for(turns, seed=11)
    expected = offline_pair_ids(lines)
    a = Service(env, "a").start()
    b = Service(env, "b").start()
    await a.wait_ready()
    await b.wait_ready()
    half = len(lines) // 2 // 64 * 64
    async with TopicReader(env, env.pairs) as topic:
        await produce(env, lines[:half])
        target = len(offline_pair_ids(lines[:half])) // 3
        await topic.wait_for(lambda t: len(set(t.pair_ids())) >= target, 120, services=[a, b])
        body = b.readyz()
        assert body is not None
        assert body["partitions"], "b owns no partition: nothing would move"
        b.kill()  # never comes back: a takes over its partitions after the session timeout
        await produce(env, lines[half:])
        await topic.wait_for(lambda t: set(t.pair_ids()) >= expected, 240, services=[a])
        assert set(topic.pair_ids()) == expected
    a.stop()
    assert_db([a, b], expected)


def test_two_instances_one_killed_for_good_50k_events(env: Env) -> None:
    asyncio.run(_two_instances(env, turns=12_500))


async def _inactivity_and_late(env: Env) -> None:
    # No num_candidates: windows close only when their partition goes quiet for the gap.
    first = lines_for(50, seed=5, with_num_candidates=False)
    late = [
        json.dumps(
            {**json.loads(first[i]), "candidate_index": 9, "output": "late", "score": 2.0}
        ).encode()
        for i in (0, 4, 8)
    ]
    expected = offline_pair_ids(first + late)
    svc = Service(env).start()
    await svc.wait_ready(partitions=env.partitions)
    async with TopicReader(env, env.pairs) as topic:
        await produce(env, first)
        early = offline_pair_ids(first)
        await topic.wait_for(lambda t: set(t.pair_ids()) >= early, 60, services=[svc])
        await svc.wait_metric('prefstream_pairing_windows_closed_total{reason="inactivity"} 50.0')
        await produce(env, late)  # their windows are closed: policy "pair" re-pairs them
        await topic.wait_for(lambda t: set(t.pair_ids()) >= expected, 60, services=[svc])
        assert set(topic.pair_ids()) == expected
        reasons = {json.loads(v)["close_reason"] for v in topic.values}
        assert reasons == {"inactivity", "late"}
    await svc.wait_metric("prefstream_pairing_candidates_late_total 3.0")
    svc.stop()
    assert_db([svc], expected)

    # Graceful stop committed everything: a restart replays nothing and publishes nothing.
    again = Service(env, svc.name).start()
    await again.wait_ready(partitions=env.partitions)
    marker = lines_for(1, seed=99, run_id="marker")
    async with TopicReader(env, env.pairs) as topic:
        await produce(env, marker)
        mark = offline_pair_ids(marker)
        await topic.wait_for(lambda t: set(t.pair_ids()) >= mark, 60, services=[again])
        assert len(topic.values) == len(expected) + len(mark)
    await again.wait_metric("prefstream_pairing_candidates_total 4.0")
    assert "prefstream_pairing_candidates_duplicate_total 0.0" in again.metrics()
    again.stop()


def test_inactivity_closes_late_pairs_and_clean_restart(env: Env) -> None:
    env.gap_s = 1.0
    asyncio.run(_inactivity_and_late(env))
