"""Kafka plumbing: FastStream broker factory, topic creation, CandidatePublisher, local brokers,
and the followers agents use: deployed models, evaluations."""

from prefstream_kafka.deployed_models import (
    DeployedModel,
    follow_deployed_models,
    job_failure,
    latest_deployed_model,
    latest_deployed_model_now,
)
from prefstream_kafka.evaluations import (
    EvaluationPublisher,
    follow_evaluations,
    latest_promoted_model,
)
from prefstream_kafka.factory import (
    bootstrap_servers,
    client_options,
    consumer_options,
    is_embedded,
    make_broker,
    raw_body,
)
from prefstream_kafka.publisher import CandidatePublisher
from prefstream_kafka.topics import TopicSpec, ensure_topics, topic_specs
from prefstream_kafka.wait import wait_for_kafka

__all__ = [
    "CandidatePublisher",
    "DeployedModel",
    "EvaluationPublisher",
    "TopicSpec",
    "bootstrap_servers",
    "client_options",
    "consumer_options",
    "ensure_topics",
    "follow_deployed_models",
    "follow_evaluations",
    "is_embedded",
    "job_failure",
    "latest_deployed_model",
    "latest_deployed_model_now",
    "latest_promoted_model",
    "make_broker",
    "raw_body",
    "topic_specs",
    "wait_for_kafka",
]
