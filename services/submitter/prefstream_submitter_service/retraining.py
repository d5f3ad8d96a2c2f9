"""``retraining.start_from: latest`` wiring: the promoted model from the evaluations topic,
and the platform's customization configs (``prefstream_nemo``)."""

from __future__ import annotations

from prefstream_config import KafkaConfig
from prefstream_kafka.evaluations import latest_promoted_model
from prefstream_nemo import NemoClient
from prefstream_submission.start_model import Retraining


class EvaluationsTopic:
    """The model promoted last, read from the evaluations topic when a job is about to be
    created (a small compacted topic: no background consumer to keep in step)."""

    def __init__(self, kafka: KafkaConfig) -> None:
        self._kafka = kafka

    async def latest_promoted(self) -> str | None:
        event = await latest_promoted_model(self._kafka)
        return None if event is None else event.model


def retraining(kafka: KafkaConfig, client: NemoClient) -> Retraining:
    """The seams the flow needs: configs over the platform client, promotions from Kafka."""
    return Retraining(configs=client.customization_configs, promoted=EvaluationsTopic(kafka))
