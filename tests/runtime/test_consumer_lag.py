"""``prefstream_consumer_lag_records`` against a real broker: aiokafka keeps the position
in private state, so this is where an aiokafka upgrade that moves it shows up."""

from __future__ import annotations

from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prefstream_runtime.consumer_lag import ConsumerLag, partition_lags
from prefstream_runtime.metrics import new_registry

from tests.conftest import KafkaBroker

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

SENT = {0: 10, 1: 4}


async def test_lag_is_what_the_consumer_has_not_taken_yet(
    kafka_broker: KafkaBroker, unique_name: str
) -> None:
    topic = f"{unique_name}.lag"
    bootstrap = kafka_broker.bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, count in SENT.items():
            for i in range(count):  # one request each: Tansu's end offsets stay right
                await producer.send_and_wait(topic, b"%d" % i, partition=partition)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in SENT]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        assert partition_lags(consumer) == []  # nothing fetched: no high watermark yet
        taken: Counter[int] = Counter()
        while len(partition_lags(consumer)) < len(SENT):  # one record at a time
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=1)).items():
                taken[tp.partition] += len(records)
            assert sum(taken.values()) < sum(SENT.values()), "both fetched, lags still unknown"
        assert set(partition_lags(consumer)) == {(topic, p, SENT[p] - taken[p]) for p in SENT}
        assert sum(lag for _, _, lag in partition_lags(consumer)) > 0

        while sum(taken.values()) < sum(SENT.values()):
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                taken[tp.partition] += len(records)
        registry = new_registry()
        registry.register(ConsumerLag(lambda: [("g", consumer), ("idle", None)]))
        for p in SENT:
            labels = {"group": "g", "topic": topic, "partition": str(p)}
            assert registry.get_sample_value("prefstream_consumer_lag_records", labels) == 0
    finally:
        await consumer.stop()
