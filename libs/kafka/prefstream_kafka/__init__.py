"""Kafka plumbing: FastStream broker factory, topic creation, CandidatePublisher, local brokers."""

from prefstream_kafka.factory import (
    bootstrap_servers,
    client_options,
    consumer_options,
    is_embedded,
    make_broker,
    raw_body,
    test_profile,
)
from prefstream_kafka.publisher import CandidatePublisher
from prefstream_kafka.topics import TopicSpec, ensure_topics, topic_specs

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
    "test_profile",
    "topic_specs",
]
