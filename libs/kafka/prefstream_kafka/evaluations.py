"""The evaluations topic: publish a model's evaluation, read which model is promoted.

Keyed by ``model`` and compacted, so the topic keeps each model's latest verdict; readers
fold it with :class:`~prefstream_events.PromotionBoard` (no consumer group, see readers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream.kafka import KafkaBroker
from prefstream_config import KafkaConfig, PrefstreamConfig
from prefstream_events import EvaluationEvent, PromotionBoard, ce_headers, encode

from prefstream_kafka.factory import make_broker
from prefstream_kafka.readers import TopicFollower, read_topic
from prefstream_kafka.topics import ensure_topics, topic_specs

SOURCE = "prefstream/evaluator"


def _kafka(config: PrefstreamConfig | KafkaConfig) -> KafkaConfig:
    return config.kafka if isinstance(config, PrefstreamConfig) else config


class EvaluationPublisher:
    """Publishes EvaluationEvents keyed by model, each acknowledged by every replica."""

    def __init__(self, broker: KafkaBroker, topic: str, *, source: str = SOURCE) -> None:
        self._broker = broker
        self.topic = topic
        self._source = source

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, config: PrefstreamConfig | KafkaConfig, *, source: str = SOURCE
    ) -> AsyncIterator[EvaluationPublisher]:
        """Own a broker connection for the publisher's lifetime; creates the topic (compacted)
        if it does not exist yet, as the services do with theirs."""
        kafka = _kafka(config)
        await ensure_topics(
            kafka, [s for s in topic_specs(kafka) if s.name == kafka.topics.evaluations]
        )
        broker = make_broker(kafka, client_id=f"{kafka.client_id}-evaluator", acks="all")
        await broker.connect()
        try:
            yield cls(broker, kafka.topics.evaluations, source=source)
        finally:
            await broker.stop()

    async def publish(self, event: EvaluationEvent) -> None:
        """Send one event and return once the broker acknowledged it. ``ce_id`` is the
        deterministic ``evaluation_id``, so a re-sent evaluation deduplicates."""
        await self._broker.publish(
            encode(event),
            topic=self.topic,
            key=event.model.encode(),
            headers=ce_headers(
                "EvaluationEvent",
                self._source,
                event_id=event.evaluation_id,
                time=event.evaluated_at,
                subject=event.model,
            ),
        )


async def evaluations(config: PrefstreamConfig | KafkaConfig) -> PromotionBoard:
    """Every model's latest evaluation, the topic read up to its end as of the call."""
    kafka = _kafka(config)
    board = PromotionBoard()
    for event in await read_topic(kafka, kafka.topics.evaluations, EvaluationEvent):
        board.apply(event)
    return board


async def latest_promoted_model(config: PrefstreamConfig | KafkaConfig) -> EvaluationEvent | None:
    """The evaluation of the model promoted last (its ``model``), ``None`` before any is.

    Reads the (compacted, small) topic from the beginning: 13-17 ms for 20 records on the
    embedded Tansu broker (measured), so a caller that needs it once per training job
    needs no background consumer."""
    return (await evaluations(config)).latest_promoted()


def follow_evaluations(
    config: PrefstreamConfig | KafkaConfig, *, from_beginning: bool = True
) -> TopicFollower[EvaluationEvent]:
    """Every EvaluationEvent as it arrives (replays included: fold with PromotionBoard)."""
    kafka = _kafka(config)
    return TopicFollower(
        kafka,
        kafka.topics.evaluations,
        EvaluationEvent,
        from_beginning=from_beginning,
        client_id=f"{kafka.client_id}-evaluations",
    )
