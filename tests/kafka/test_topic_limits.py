"""The topics prefstream creates accept every record its services may write (on Apache
Kafka, whose default ``max.message.bytes`` is about 1 MB: a pair of two large candidates
is bigger, and a refused pair would rewind its batch for ever)."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prefstream_config import KafkaConfig
from prefstream_events.limits import BROKER_DEFAULT_MESSAGE_MAX_BYTES, max_pair_bytes
from prefstream_kafka import ensure_topics
from prefstream_testing.apache_kafka import ApacheKafka


def test_pair_limit_holds_three_records_and_never_shrinks_below_4_mib() -> None:
    assert max_pair_bytes(1_048_576) == 4 * 1024 * 1024
    assert max_pair_bytes(2_000_000) == 3 * 2_000_000 + 64 * 1024
    assert max_pair_bytes(1) > BROKER_DEFAULT_MESSAGE_MAX_BYTES


async def test_pairs_topic_is_created_large_enough_for_any_pair(
    durable_kafka: ApacheKafka,
) -> None:
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaConfig.model_validate(
        {
            "bootstrap_servers": durable_kafka.bootstrap_servers,
            "max_record_bytes": 2_000_000,
            "topics": {
                name: f"t{tag}.{name}"
                for name in ("candidates", "pairs", "datasets", "jobs", "deadletter", "control")
            },
        }
    )
    await ensure_topics(kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=durable_kafka.bootstrap_servers)
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, kafka.topics.pairs)]
        )
    finally:
        await admin.close()
    (resource,) = response.resources
    configs = {entry[0]: entry[1] for entry in resource[4]}
    assert configs["max.message.bytes"] == str(max_pair_bytes(2_000_000))
