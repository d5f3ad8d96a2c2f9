"""Producer for the service benchmark: seeded synthetic turns, paced, keyed by example_id.

Runs as its own process so that the service's CPU is its own. Record timestamps are the
produce time, which is what the service's close-latency histogram measures from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from prefstream_testing.synthetic import synthetic_events


async def main(args: argparse.Namespace) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=4 * 1024 * 1024,
        enable_idempotence=False,
    )
    await producer.start()
    encode = msgspec.json.Encoder().encode
    parts = sorted(await producer.partitions_for(args.topic))
    partitioner = DefaultPartitioner()
    started = time.perf_counter()
    sent = 0
    # Paced in 50 ms steps: smooth enough for latency, cheap enough not to steal the
    # service's CPU (every step is a send per partition).
    tick = max(100, int(args.rate * 0.05)) if args.rate else 2000
    batch: dict[int, list[tuple[bytes, bytes]]] = {}
    pending = []
    events = synthetic_events(
        args.events // 4,
        4,
        seed=args.seed,
        event_bytes=1000,
        interleave=16,
        examples=max(1, args.events // 16),
    )
    for ev in events:
        key = ev["example_id"].encode()
        batch.setdefault(partitioner(key, parts, parts), []).append((key, encode(ev)))
        sent += 1
        if sent % tick == 0:
            pending += await _flush(producer, args.topic, batch)
            batch = {}
            if args.rate:
                ahead = sent / args.rate - (time.perf_counter() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            if len(pending) > 64:
                await asyncio.gather(*pending)
                pending = []
    pending += await _flush(producer, args.topic, batch)
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - started
    await producer.stop()
    print(json.dumps({"produced": sent, "seconds": elapsed, "rate": sent / elapsed}), flush=True)


async def _flush(
    producer: AIOKafkaProducer, topic: str, batch: dict[int, list[tuple[bytes, bytes]]]
) -> list[asyncio.Future[object]]:
    futures = []
    for part, recs in batch.items():
        b = producer.create_batch()
        for key, value in recs:
            if b.append(key=key, value=value, timestamp=None) is None:
                futures.append(await producer.send_batch(b, topic, partition=part))
                b = producer.create_batch()
                b.append(key=key, value=value, timestamp=None)
        futures.append(await producer.send_batch(b, topic, partition=part))
    return futures


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--rate", type=float, default=20_000, help="events/s; 0 = as fast as possible")
    ap.add_argument("--seed", type=int, default=1)
    asyncio.run(main(ap.parse_args()))
