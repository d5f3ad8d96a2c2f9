"""Kafka plumbing: FastStream broker factory, topic creation, CandidatePublisher, local brokers."""

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
    "TopicSpec",
    "bootstrap_servers",
    "client_options",
    "consumer_options",
    "ensure_topics",
    "is_embedded",
    "make_broker",
    "raw_body",
    "topic_specs",
    "wait_for_kafka",
]
