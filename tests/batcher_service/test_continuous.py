"""Continuous operation: a long stream cut at ``min_new_pairs``, its tail by ``max_wait``."""

from __future__ import annotations

import time

from prefstream_events import PairEvent, encode

from .harness import Env, ServiceProcess, TopicReader, pair_event, produce

THRESHOLD_PAIRS = 200_000
TAIL = 7_500
MIN_NEW_PAIRS = 50_000


async def test_200k_pairs_make_four_threshold_datasets_and_a_timed_fifth(env: Env) -> None:
    overrides = env.overrides("s", min_new_pairs=MIN_NEW_PAIRS, max_wait_seconds=12.0, min_pairs=10)
    total = THRESHOLD_PAIRS + TAIL
    records: list[PairEvent | tuple[bytes | None, bytes]] = []
    for i in range(total):
        event = pair_event(i)
        records.append((event.example_id.encode(), encode(event)))
    service = ServiceProcess(env, overrides).start()
    try:
        await service.wait_ready(60)
        started = time.monotonic()
        async with TopicReader(env, env.datasets) as reader:
            # the stream arrives in bursts while the batcher runs, never pausing for max_wait
            step = 25_000
            for start in range(0, total, step):
                await produce(env, records[start : start + step])
                await reader.poll()
            await reader.wait_for(lambda r: len(r.values) >= 5, 180, "five datasets")
            elapsed = time.monotonic() - started
            await reader.poll()
        events = reader.datasets()
        assert [e.name for e in events] == [f"nat-dpo-{i}" for i in range(1, 6)]
        assert [e.trigger for e in events] == ["min_new_pairs"] * 4 + ["max_wait"]
        assert [e.num_pairs for e in events] == [MIN_NEW_PAIRS] * 4 + [TAIL]
        metrics = service.metrics()
        assert "prefstream_batcher_pairs_pending 0.0" in metrics
        assert 'prefstream_batcher_datasets_announced_total{trigger="min_new_pairs"} 4.0' in metrics
        assert 'prefstream_batcher_datasets_announced_total{trigger="max_wait"} 1.0' in metrics
        assert "prefstream_batcher_cut_duration_seconds_count 5.0" in metrics
        print(f"{total} pairs -> 5 datasets in {elapsed:.1f}s")
    finally:
        service.stop()
