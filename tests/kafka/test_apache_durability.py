"""Apache Kafka launcher: what is acknowledged or committed survives SIGKILL + restart.

This is the property the services' crash-safety rests on (offsets committed after the
DuckDB transaction, replay after a restart), so it is checked against a real Kafka with
a real log directory, not Tansu (memory only).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prefstream_testing.apache_kafka import ApacheKafka, cached_jars, fetch_kafka

pytestmark = [pytest.mark.durable, pytest.mark.timeout(240)]

N_RECORDS = 3000
PARTITIONS = 3
SESSION_TIMEOUT_MS = 3000


async def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


def _producer(bootstrap: str) -> AIOKafkaProducer:
    # acks=all without idempotence: the contract we rely on (Tansu has no idempotence).
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=False, linger_ms=2
    )


async def _consume_all(
    bootstrap: str, topic: str, partitions: int, expected: int
) -> dict[int, list[tuple[int, bytes]]]:
    """Read every partition from the start until ``expected`` records arrived."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        total = 0
        while total < expected:
            batch = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), timeout=60)
            for tp, records in batch.items():
                for r in records:
                    assert r.value is not None
                    got[tp.partition].append((r.offset, r.value))
                    total += 1
    finally:
        await consumer.stop()
    return got


async def test_acked_records_survive_sigkill_and_restart(durable_kafka: ApacheKafka) -> None:
    topic = f"durable-{uuid.uuid4().hex[:8]}"
    bootstrap = durable_kafka.bootstrap_servers
    cluster_id = durable_kafka.cluster_id
    await _create_topic(bootstrap, topic, PARTITIONS)

    producer = _producer(bootstrap)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, f"{i}".encode(), key=f"key-{i % 17}".encode())
            for i in range(N_RECORDS)
        ]
        acked = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    expected: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    for i, meta in enumerate(acked):
        expected[meta.partition].append((meta.offset, f"{i}".encode()))
    assert sum(len(v) for v in expected.values()) == N_RECORDS

    durable_kafka.kill()
    assert not durable_kafka.is_running
    durable_kafka.restart()
    assert durable_kafka.bootstrap_servers == bootstrap
    assert durable_kafka.cluster_id == cluster_id

    got = await _consume_all(bootstrap, topic, PARTITIONS, N_RECORDS)
    for partition, records in expected.items():
        # Every acknowledged record, at its acknowledged offset, in order.
        assert got[partition] == records, f"partition {partition} differs after restart"
    assert sum(len(v) for v in got.values()) == N_RECORDS


async def test_committed_group_offset_survives_sigkill(durable_kafka: ApacheKafka) -> None:
    topic = f"commit-{uuid.uuid4().hex[:8]}"
    group = f"group-{topic}"
    bootstrap = durable_kafka.bootstrap_servers
    tp = TopicPartition(topic, 0)
    await _create_topic(bootstrap, topic, 1)
    producer = _producer(bootstrap)
    await producer.start()
    try:
        for i in range(100):
            await producer.send(topic, f"{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    def group_consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=500,
        )

    consumer = group_consumer()
    await consumer.start()
    try:
        first = await asyncio.wait_for(consumer.getone(), timeout=60)
        assert first.value == b"0"
        await consumer.commit({tp: 40})
        assert await consumer.committed(tp) == 40
    finally:
        await consumer.stop()

    durable_kafka.kill()
    durable_kafka.restart()

    consumer = group_consumer()
    await consumer.start()
    try:
        assert await asyncio.wait_for(consumer.committed(tp), timeout=60) == 40
        resumed = await asyncio.wait_for(consumer.getone(), timeout=60)
        assert (resumed.offset, resumed.value) == (40, b"40")
    finally:
        await consumer.stop()


def test_new_launcher_on_same_dir_reuses_port_and_cluster(durable_kafka: ApacheKafka) -> None:
    """What ``apache-kafka.sh start --dir D`` does after a crash: same address, same cluster."""
    bootstrap, cluster_id = durable_kafka.bootstrap_servers, durable_kafka.cluster_id
    durable_kafka.kill()
    again = ApacheKafka(durable_kafka.data_dir)
    try:
        again.start()
        assert (again.bootstrap_servers, again.cluster_id) == (bootstrap, cluster_id)
    finally:
        again.stop()
    # The fixture restarts ``durable_kafka`` for the next test.


def test_fetch_is_cached_and_needs_no_maven(
    durable_kafka: ApacheKafka, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A second fetch reuses the jars: with no mvn on PATH it still succeeds at once."""
    jars = cached_jars(durable_kafka.version)
    assert jars is not None
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn, no java
    assert fetch_kafka(durable_kafka.version) == jars
    assert (jars / f"kafka_2.13-{durable_kafka.version}.jar").is_file()
