"""Records stamped far in the future (a producer with a wrong clock) do not stall their
partition: the rest of the partition still pairs and its offset is committed."""

from __future__ import annotations

import asyncio
import time

import msgspec
from prefstream_testing.synthetic import synthetic_events

from .harness import Env, Service, TopicReader, committed_offset, offline_pair_ids, send_raw


async def _future_timestamps(env: Env) -> None:
    svc = Service(env).start()
    await svc.wait_ready(partitions=env.partitions)
    future = int(time.time() * 1000) + 50 * 60_000
    skewed = [
        msgspec.json.encode({**e, "example_id": "ex-future"})
        for e in synthetic_events(1, 2, seed=9, run_id="future", with_num_candidates=False)
    ]
    # Ten turns that close by inactivity, five that close by num_candidates.
    by_gap = list(synthetic_events(10, 4, seed=1, run_id="gap", with_num_candidates=False))
    by_count = list(synthetic_events(5, 4, seed=2, run_id="count", with_num_candidates=True))
    real = [msgspec.json.encode(e) for e in by_gap + by_count]
    expected = offline_pair_ids(skewed + real)
    records = [(0, b"k", v, future) for v in skewed] + [(0, b"k", v, None) for v in real]
    async with TopicReader(env, env.pairs) as pairs:
        await send_raw(env.bootstrap, env.candidates, records)
        await pairs.wait_for(lambda t: set(t.pair_ids()) >= expected, 45, services=[svc])
        assert set(pairs.pair_ids()) == expected
    deadline = time.monotonic() + 30
    while (offset := await committed_offset(env, 0)) != len(records):
        assert time.monotonic() < deadline, f"committed {offset}\n{svc.proc.tail(40)}"
        await asyncio.sleep(0.5)
    svc.stop()


def test_future_timestamps_do_not_stall_the_partition(env: Env) -> None:
    """Regression: a record stamped 50 minutes ahead moved the partition clock with it, so
    no window closed by inactivity until then and offset 0 stayed committed."""
    env.gap_s = 3.0
    asyncio.run(_future_timestamps(env))
