"""Wait for Kafka at service start instead of exiting.

A service started before its broker (a cluster restart, compose bringing everything
up at once) used to exit after the first refused connection; orchestrators then
restart it in a loop. The services now wait here, with backoff, serving ``/healthz``
and a not-ready ``/readyz`` meanwhile, as they already do when the broker restarts at
run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator

from aiokafka.errors import KafkaError
from prefstream_config import KafkaConfig
from prefstream_runtime.waiting import wait_until_available

from prefstream_kafka.factory import bootstrap_servers, security
from prefstream_kafka.topics import ensure_topics

log = logging.getLogger("prefstream.kafka")

RETRIABLE: tuple[type[BaseException], ...] = (KafkaError, OSError, asyncio.TimeoutError)
"""Errors that mean "not reachable yet"; anything else (bad TLS files, a missing SASL
password) is a configuration error that waiting cannot fix, so it propagates."""

CLIENT_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.admin.client")
"""aiokafka logs an ERROR per refused connection; while waiting, this module says it once."""


def _drop(record: logging.LogRecord) -> bool:
    return False


@contextlib.contextmanager
def _client_logs_muted() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in CLIENT_LOGGERS]
    for logger in loggers:
        logger.addFilter(_drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(_drop)


async def wait_for_kafka(
    kafka: KafkaConfig,
    *,
    probe: Callable[[], Awaitable[object]] | None = None,
    report: Callable[[str], None] = lambda cause: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return once ``probe`` succeeds (default: :func:`ensure_topics`, the first thing
    every service does with the broker), retrying with backoff
    (:func:`~prefstream_runtime.waiting.wait_until_available`); ``report`` gets each cause
    (for ``/readyz``). Cancel the caller to give up (graceful shutdown while waiting)."""
    if probe is None:
        security(kafka)  # a missing CA file or SASL password fails now, not once per retry
    check = probe or (lambda: ensure_topics(kafka))

    async def quietly() -> None:
        with _client_logs_muted():
            await check()

    await wait_until_available(
        quietly,
        what=f"Kafka at {bootstrap_servers(kafka)}",
        hint="Check kafka.bootstrap_servers and that the broker is running.",
        retriable=RETRIABLE,
        log=log,
        report=report,
        sleep=sleep,
        clock=clock,
    )
