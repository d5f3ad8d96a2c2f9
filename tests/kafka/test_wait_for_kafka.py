"""``wait_for_kafka``: retries with backoff, says why at once and then now and then."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import KafkaConnectionError
from prefstream_config import KafkaConfig
from prefstream_kafka import wait_for_kafka


class FakeClock:
    """Time moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FlakyBroker:
    """Refuses the first ``failures`` probes, then answers."""

    def __init__(self, failures: int, error: BaseException | None = None) -> None:
        self.failures = failures
        self.error = error or KafkaConnectionError("Unable to bootstrap from [('h', 9)]")
        self.calls = 0

    async def probe(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error


KAFKA = KafkaConfig(bootstrap_servers="broker-a:9092")


async def test_retries_with_capped_backoff_until_reachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock, broker, reports = FakeClock(), FlakyBroker(failures=12), list[str]()
    caplog.set_level(logging.INFO, logger="prefstream.kafka")
    await wait_for_kafka(
        KAFKA, probe=broker.probe, report=reports.append, sleep=clock.sleep, clock=clock
    )
    assert broker.calls == 13
    assert clock.sleeps == [0.5, 1, 2, 4, 8, 10, 10, 10, 10, 10, 10, 10]
    assert len(reports) == 12
    assert "Unable to bootstrap" in reports[0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    # at once (t=0), then once 30 s have passed (t=35.5, t=65.5): not once per attempt
    assert [r.__dict__["waited_s"] for r in warnings] == [0.0, 35.5, 65.5]
    first = warnings[0].getMessage()
    assert "broker-a:9092" in first
    assert "Unable to bootstrap" in first
    assert "KafkaConnectionError: KafkaConnectionError" not in first
    assert caplog.records[-1].levelno == logging.INFO
    assert "available after 13 attempts" in caplog.records[-1].getMessage()


async def test_reachable_at_once_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    clock, broker = FakeClock(), FlakyBroker(failures=0)
    caplog.set_level(logging.INFO, logger="prefstream.kafka")
    await wait_for_kafka(KAFKA, probe=broker.probe, sleep=clock.sleep, clock=clock)
    assert (broker.calls, clock.sleeps, caplog.records) == (1, [], [])


async def test_configuration_errors_are_not_retried() -> None:
    clock = FakeClock()
    broker = FlakyBroker(failures=5, error=ValueError("sasl_password is not set"))
    with pytest.raises(ValueError, match="sasl_password"):
        await wait_for_kafka(KAFKA, probe=broker.probe, sleep=clock.sleep, clock=clock)
    assert broker.calls == 1
