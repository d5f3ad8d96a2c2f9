"""Kafka plumbing: FastStream broker factory, topic creation, CandidatePublisher, local brokers."""
