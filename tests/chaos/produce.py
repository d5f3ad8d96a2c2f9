"""Produce a chaos stream as an agent would (keyed by ``example_id``), through broker kills.

Records go out in paced chunks over the production window. A chunk whose sends fail
(broker down) is resent until acknowledged (``acks=all``, no idempotence, like agents),
so a record may land twice: the ground truth is therefore what the topic holds, read
back afterwards, not what was sent. Skewed records get ``CreateTime = now + skew``.
Every client call has a timeout, so a dead broker never hangs the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from tests.chaos.fuzz import Record

Log = Callable[[str], None]


@dataclass
class ProduceStats:
    sent: int = 0
    resent: int = 0
    failures: int = 0
    seconds: float = 0.0


def _producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024 - 1024,
        request_timeout_ms=8000,
        retry_backoff_ms=250,
    )


async def _started(bootstrap: str, log: Log) -> AIOKafkaProducer:
    """A started producer; while the broker is down, try again with backoff (5 min max)."""
    deadline = time.monotonic() + 300
    attempt = 0
    while True:
        attempt += 1
        producer = _producer(bootstrap)
        try:
            await asyncio.wait_for(producer.start(), 15)
            return producer
        except Exception as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)
            if time.monotonic() > deadline:
                raise AssertionError(f"produce: no producer for 300s: {exc}") from exc
            if attempt % 10 == 1:
                log(f"produce: producer start failed ({exc}); retrying")
            await asyncio.sleep(min(2.0, 0.25 * attempt))  # retry backoff


async def produce(
    bootstrap: str,
    topic: str,
    records: list[Record],
    production_s: float,
    log: Log,
    *,
    chunk: int = 100,
) -> ProduceStats:
    stats = ProduceStats()
    start = time.monotonic()
    chunks = [records[i : i + chunk] for i in range(0, len(records), chunk)]
    step = production_s / max(1, len(chunks))
    producer = await _started(bootstrap, log)
    try:
        for n, part in enumerate(chunks):
            due = start + n * step
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)  # pacing: when to send, not a synchronisation
            pending = list(part)
            attempt = 0
            while pending:
                attempt += 1
                if attempt > 200:
                    raise AssertionError(f"produce: {len(pending)} records never acknowledged")
                failed = await _send(producer, topic, pending)
                stats.sent += len(pending) - len(failed)
                if attempt > 1:
                    stats.resent += len(pending) - len(failed)
                if failed:
                    stats.failures += 1
                    if stats.failures % 10 == 1:
                        log(f"produce: {len(failed)} sends failed (attempt {attempt}); resending")
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(producer.stop(), 15)
                    producer = await _started(bootstrap, log)
                pending = failed
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 15)
    stats.seconds = time.monotonic() - start
    return stats


async def _send(producer: AIOKafkaProducer, topic: str, records: list[Record]) -> list[Record]:
    """Send and await acks; return the records that were not acknowledged."""
    futures: list[tuple[Record, asyncio.Future[Any] | None]] = []
    for r in records:
        ts = None if r.skew_s is None else int((time.time() + r.skew_s) * 1000)
        try:
            fut = await asyncio.wait_for(
                producer.send(topic, r.value, key=r.key, timestamp_ms=ts), 15
            )
        except Exception:
            futures.append((r, None))
            continue
        futures.append((r, fut))
    failed = []
    for r, fut in futures:
        if fut is None:
            failed.append(r)
            continue
        try:
            await asyncio.wait_for(fut, 30)
        except Exception:
            failed.append(r)
    return failed
