"""Create prefstream's topics with the configured partitions, idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from prefstream_config import KafkaConfig
from prefstream_events.limits import max_pair_bytes

from prefstream_kafka.factory import client_options


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(kafka: KafkaConfig) -> list[TopicSpec]:
    """All topics; jobs, job metrics and evaluations may be compacted because each event
    carries the full state of its key (a job; a chunk of its curves; a model's latest
    evaluation)."""
    t = kafka.topics
    compact = {"cleanup.policy": "compact"}
    jobs_cfg = compact if kafka.jobs_topic_compacted else {}
    evaluations_cfg = compact if kafka.evaluations_topic_compacted else {}
    pair_bytes = max_pair_bytes(kafka.max_record_bytes)
    return [
        TopicSpec(t.candidates, kafka.partitions, {}),
        TopicSpec(t.pairs, kafka.partitions, {"max.message.bytes": str(pair_bytes)}),
        TopicSpec(t.datasets, 1, {}),
        TopicSpec(t.jobs, 1, jobs_cfg),
        TopicSpec(t.job_metrics, 1, jobs_cfg),
        TopicSpec(t.deadletter, 1, {}),
        TopicSpec(t.control, 1, {}),
        TopicSpec(t.evaluations, 1, evaluations_cfg),
    ]


async def ensure_topics(kafka: KafkaConfig, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics; returns the names it created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(client_id=f"{kafka.client_id}-admin", **client_options(kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in (specs or topic_specs(kafka)) if s.name not in existing]
        created = []
        for spec in wanted:
            topic = NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=kafka.replication_factor,
                topic_configs=spec.config,
            )
            try:
                await admin.create_topics([topic])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()
