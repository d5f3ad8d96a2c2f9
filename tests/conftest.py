"""Shared fixtures: real local Kafka brokers for tests.

- ``kafka_broker`` (session): Tansu by default, Apache Kafka with
  ``PREFSTREAM_TEST_BROKER=apache``. Tests that use it are marked ``kafka`` automatically,
  so ``-m "not kafka"`` runs without any broker.
- ``unique_name`` (function): a short name unique to the test run, valid as a Kafka
  topic or group id, so tests sharing the session broker never see each other's data.
- ``durable_kafka`` (function, backed by one session broker): always Apache Kafka, with
  ``.kill()`` (SIGKILL) and ``.restart()`` on the same log directory. Tests that use it
  are marked ``durable`` automatically. It is running again after every test, even one
  that failed while the broker was down.

Brokers log to files under pytest's tmp dir; a broker that fails to start fails the tests
with its log tail and the path of the full log. Brokers are stopped at session end, by an
atexit hook after Ctrl-C, and by the kernel (PDEATHSIG) if pytest itself is killed.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Literal, Protocol

import pytest
from prefstream_kafka.local_brokers import EmbeddedTansu, LocalBrokerError
from prefstream_testing.apache_kafka import ApacheKafka

BROKER_ENV = "PREFSTREAM_TEST_BROKER"
BrokerKind = Literal["tansu", "apache"]


class KafkaBroker(Protocol):
    """What tests may rely on from ``kafka_broker``, whichever broker runs."""

    @property
    def kind(self) -> BrokerKind: ...

    @property
    def bootstrap_servers(self) -> str: ...


def selected_broker_kind() -> BrokerKind:
    value = os.environ.get(BROKER_ENV, "").strip().lower() or "tansu"
    if value == "tansu":
        return "tansu"
    if value == "apache":
        return "apache"
    raise pytest.UsageError(f"{BROKER_ENV}={value!r}: expected 'tansu' or 'apache'")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "kafka_broker" in fixtures:
            item.add_marker(pytest.mark.kafka)
        if "durable_kafka" in fixtures:
            item.add_marker(pytest.mark.durable)


def _start_apache(tmp_path_factory: pytest.TempPathFactory, name: str) -> ApacheKafka:
    broker = ApacheKafka(tmp_path_factory.mktemp(name))
    try:
        broker.start()
    except LocalBrokerError as exc:
        broker.kill()
        pytest.fail(f"could not start Apache Kafka for tests: {exc}", pytrace=False)
    return broker


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A running broker for the session, chosen by ``PREFSTREAM_TEST_BROKER``."""
    kind = selected_broker_kind()
    if kind == "apache":
        apache = _start_apache(tmp_path_factory, "apache-kafka")
        try:
            yield apache
        finally:
            apache.stop()
        return
    tansu = EmbeddedTansu(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log")
    try:
        tansu.start()
    except LocalBrokerError as exc:
        pytest.fail(f"could not start the embedded Tansu broker: {exc}", pytrace=False)
    try:
        yield tansu
    finally:
        tansu.stop()


@pytest.fixture(scope="session")
def _durable_kafka_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    broker = _start_apache(tmp_path_factory, "apache-kafka-durable")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def durable_kafka(_durable_kafka_session: ApacheKafka) -> Iterator[ApacheKafka]:
    """Apache Kafka that the test may SIGKILL and restart; running before and after."""
    broker = _durable_kafka_session
    if not broker.is_running:
        broker.restart()
    yield broker
    if not broker.is_running:
        broker.restart()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """``<test name>-<random>``, restricted to characters Kafka allows in topic names."""
    base = re.sub(r"[^a-zA-Z0-9._-]+", "-", request.node.name).strip("-")[:40]
    return f"{base}-{uuid.uuid4().hex[:8]}"
