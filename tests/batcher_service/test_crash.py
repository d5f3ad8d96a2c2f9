"""SIGKILL the real batcher process at every step of the cut protocol and at random moments.

After each crash the service is restarted on the same files; at the end every pair must be
in exactly one dataset, every name announced with one content, and every announced file
intact (a half-written file is never announced).
"""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

from prefstream_batcher_service.service import CRASH_POINTS as POINTS
from prefstream_datasets import STAGING

from .harness import (
    Env,
    ServiceProcess,
    TopicReader,
    by_name,
    check_files,
    dataset_pair_ids,
    pair_event,
    produce,
)

TOTAL = 3000
ROUNDS = [*POINTS, None, None, None]
"""Every crash point once, then three kills at random moments."""


async def test_sigkill_anywhere_loses_nothing_and_announces_once(env: Env) -> None:
    rng = random.Random(20260101)
    pairs = [pair_event(i) for i in range(TOTAL)]
    chunk = TOTAL // (len(ROUNDS) + 1)
    overrides = env.overrides(
        "c", min_new_pairs=250, max_wait_seconds=1.0, min_pairs=1, batch_max_records=200
    )
    sent = 0
    for crash_at in ROUNDS:
        await produce(env, pairs[sent : sent + chunk])
        sent += chunk
        proc = ServiceProcess(env, overrides, crash_at=crash_at).start()
        if crash_at is not None:
            code = await proc.wait_exit(90)
            assert code == -signal.SIGKILL, f"{crash_at}: exit {code}\n{proc.proc.tail(40)}"
        else:
            await proc.wait_ready(60)
            await _sleep(rng.uniform(0.0, 2.5))
            proc.kill()
            await proc.wait_exit(30)
    await produce(env, pairs[sent:])

    final = ServiceProcess(env, overrides).start()
    try:
        await final.wait_ready(60)
        async with TopicReader(env, env.datasets) as reader:

            def everything(_: TopicReader) -> bool:
                names = by_name(reader.datasets())
                return sum(v[0].num_pairs for v in names.values()) >= TOTAL

            await reader.wait_for(everything, 120, f"{TOTAL} pairs in datasets")
            events = reader.datasets()
        metrics = final.metrics()
        assert "prefstream_batcher_pairs_pending 0.0" in metrics
        assert "prefstream_batcher_datasets_announced_total" in metrics
    finally:
        final.stop()

    announced = by_name(events)
    owner: dict[str, str] = {}
    for name, copies in sorted(announced.items()):
        first = copies[0]
        for again in copies[1:]:
            assert again == first, f"{name} announced twice with different contents"
        check_files(first)
        for pair_id in dataset_pair_ids(first):
            assert pair_id not in owner, f"{pair_id} in {owner.get(pair_id)} and {name}"
            owner[pair_id] = name
    assert set(owner) == {p.pair_id for p in pairs}, "every pair is in exactly one dataset"
    sequences = sorted(e.sequence for e in (c[0] for c in announced.values()))
    assert sequences == list(range(1, len(sequences) + 1)), "no gap, no reuse"
    staging = env.datasets_dir("c") / STAGING
    assert not staging.exists() or not any(staging.iterdir())
    assert all((Path(c[0].directory) / "manifest.json").exists() for c in announced.values())


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)  # a random kill moment, not a synchronization
