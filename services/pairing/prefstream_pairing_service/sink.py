"""The service's producer: pairs and dead letters, batched per partition, keys kept.

FastStream's ``publish_batch`` has no per-record key and ``publish`` costs ~50 µs a record;
aiokafka's batch API keeps the key (``example_id``, as README.md's topic table requires)
and runs at about 7 µs a record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from prefstream_config import KafkaConfig
from prefstream_events.limits import max_pair_bytes
from prefstream_kafka import client_options

Record = tuple[bytes | None, bytes, list[tuple[str, bytes]]]
"""(key, value, headers)"""

KEY_PARTITIONS = 200_000
"""Keys whose partition is remembered across batches; the memo is dropped when full."""


class KeyRouter:
    """Groups records by the partition their key hashes to on one topic (Kafka's murmur2,
    as the Java client and aiokafka). murmur2 is pure Python (~4 µs a key) and an
    example's turns come in several batches, so each key's partition is remembered."""

    def __init__(self, parts: list[int], limit: int = KEY_PARTITIONS) -> None:
        self.parts = parts
        self.limit = limit
        self._partitioner = DefaultPartitioner()
        self._memo: dict[bytes | None, int] = {None: parts[0]}

    def group(self, records: Sequence[Record]) -> dict[int, list[Record]]:
        if len(self._memo) > self.limit:
            self._memo = {None: self.parts[0]}
        memo, parts = self._memo, self.parts
        by_part: dict[int, list[Record]] = {}
        for rec in records:
            key = rec[0]
            part = memo.get(key)
            if part is None:
                part = memo[key] = self._partitioner(key, parts, parts)
            by_part.setdefault(part, []).append(rec)
        return by_part


class Sink:
    def __init__(self, kafka: KafkaConfig, *, client_id: str) -> None:
        self.producer = AIOKafkaProducer(
            **client_options(kafka),
            client_id=client_id,
            acks="all",
            linger_ms=5,
            max_batch_size=1024 * 1024,
            max_request_size=max_pair_bytes(kafka.max_record_bytes),
            enable_idempotence=False,
        )
        self._routers: dict[str, KeyRouter] = {}

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def _router(self, topic: str) -> KeyRouter:
        router = self._routers.get(topic)
        if router is None:
            parts = sorted(await self.producer.partitions_for(topic))
            router = self._routers[topic] = KeyRouter(parts)
        return router

    async def send(self, topic: str, records: Sequence[Record]) -> list[asyncio.Future[Any]]:
        """Queue ``records``; returns futures that resolve when the broker acknowledges."""
        if not records:
            return []
        by_part = (await self._router(topic)).group(records)
        futures: list[asyncio.Future[Any]] = []
        for part, recs in by_part.items():
            batch = self.producer.create_batch()
            for key, value, headers in recs:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    if batch.record_count() == 0:  # alone bigger than a batch
                        fut = await self.producer.send(
                            topic, value, key=key, partition=part, headers=headers
                        )
                        futures.append(fut)
                        continue
                    futures.append(await self.producer.send_batch(batch, topic, partition=part))
                    batch = self.producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                        fut = await self.producer.send(
                            topic, value, key=key, partition=part, headers=headers
                        )
                        futures.append(fut)
            if batch.record_count():
                futures.append(await self.producer.send_batch(batch, topic, partition=part))
        return futures
