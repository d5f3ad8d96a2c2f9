"""Client retries: the first failure is logged at once with its cause and URL, and a
deadline ends the retries even when attempts are left."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from prefstream_nemo import NemoClient
from prefstream_nemo.errors import Transient
from prefstream_nemo.retry import RetryPolicy

HOST = "http://platform.invalid:8000"


def refusing_client(policy: RetryPolicy) -> tuple[NemoClient, list[float]]:
    sent: list[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        raise httpx.ConnectError("connection refused", request=request)

    client = NemoClient(
        entity_host=HOST, datastore_host=HOST, transport=httpx.MockTransport(refuse), policy=policy
    )
    return client, sent


async def test_the_first_failure_is_logged_with_operation_url_cause_and_next_step(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = refusing_client(RetryPolicy(attempts=2, max_seconds=0.01, initial_seconds=0.001))
    with caplog.at_level(logging.WARNING), pytest.raises(Transient):
        await client.get_dataset("ns", "d")
    await client.aclose()

    first = caplog.records[0]
    assert first.attempt == 1  # type: ignore[attr-defined]
    assert first.attempts == 2  # type: ignore[attr-defined]
    assert f"{HOST}/v1/datasets/ns/d" in first.error  # type: ignore[attr-defined]
    assert "ConnectError" in first.error  # type: ignore[attr-defined]
    assert first.retry_in_s >= 0  # type: ignore[attr-defined]
    assert "retrying" in first.getMessage()


async def test_a_deadline_stops_retrying_before_the_attempts_run_out() -> None:
    policy = RetryPolicy(attempts=1000, max_seconds=0.2, initial_seconds=0.1, deadline_seconds=1)
    client, sent = refusing_client(policy)
    started = time.monotonic()
    with pytest.raises(Transient, match="ConnectError"):
        await client.get_dataset("ns", "d")
    await client.aclose()

    assert time.monotonic() - started < 1.0
    assert 1 < len(sent) < 1000
