"""A command against a broker that is not there ends in one sentence naming the broker.

aiokafka retries a lost connection for ever (logging each attempt) and waits
``request_timeout_ms`` for a silent one before raising a bare ``KafkaConnectionError``.
A command run by a person wants the opposite: give up after ``kafka.request_timeout_ms``,
say which broker and what to do. :func:`run_guarded` connects first within that deadline,
then runs the command while a watchdog asks the broker for metadata; the first failure of
either ends the command with :class:`BrokerUnreachable`. Services keep retrying instead
(:mod:`prefstream_kafka.wait`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError
from prefstream_config import KafkaConfig

from prefstream_kafka.factory import bootstrap_servers, client_options

T = TypeVar("T")

HINT = "check kafka.bootstrap_servers and that the broker is running"


class BrokerUnreachable(Exception):
    """The broker refused, never answered, or went away; the message is one line for the user."""

    def __init__(self, kafka: KafkaConfig, what: str) -> None:
        self.servers = bootstrap_servers(kafka)
        super().__init__(f"Kafka at {self.servers}: {what}; {HINT}")


def deadline_s(kafka: KafkaConfig) -> float:
    return kafka.request_timeout_ms / 1000


@contextlib.contextmanager
def client_logs_quiet() -> Iterator[None]:
    """aiokafka logs an ERROR per failed attempt; the caller reports the failure once."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def connect(kafka: KafkaConfig) -> AIOKafkaClient:
    """A bootstrapped client, within ``kafka.request_timeout_ms``, or BrokerUnreachable."""
    timeout = deadline_s(kafka)
    client = AIOKafkaClient(client_id=f"{kafka.client_id}-probe", **client_options(kafka))
    try:
        async with asyncio.timeout(timeout):
            await client.bootstrap()
    except TimeoutError:
        await client.close()
        raise BrokerUnreachable(
            kafka, f"no answer within {timeout:g} s (kafka.request_timeout_ms)"
        ) from None
    except (KafkaError, OSError):
        await client.close()
        raise BrokerUnreachable(kafka, "cannot connect (refused or unknown host)") from None
    return client


async def _watchdog(kafka: KafkaConfig, client: AIOKafkaClient) -> None:
    """Returns never; raises BrokerUnreachable once the broker stops answering metadata."""
    timeout = deadline_s(kafka)
    while True:
        await asyncio.sleep(timeout / 2)  # a poll interval: detection within 1.5 deadlines
        try:
            async with asyncio.timeout(timeout):
                await client.fetch_all_metadata()
        except TimeoutError:
            raise BrokerUnreachable(
                kafka, f"stopped answering (nothing within {timeout:g} s)"
            ) from None
        except (KafkaError, OSError):
            raise BrokerUnreachable(kafka, "connection lost") from None


async def run_guarded(kafka: KafkaConfig, body: Coroutine[Any, Any, T]) -> T:
    """Run ``body`` against the broker; any broker failure becomes BrokerUnreachable."""
    with client_logs_quiet():
        try:
            client = await connect(kafka)
        except BrokerUnreachable:
            body.close()
            raise
        work = asyncio.ensure_future(body)
        dog = asyncio.ensure_future(_watchdog(kafka, client))
        try:
            await asyncio.wait({work, dog}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                try:
                    return work.result()
                except KafkaError as exc:
                    raise BrokerUnreachable(kafka, f"request failed ({exc})") from None
            dog.result()  # raises BrokerUnreachable
            raise AssertionError("the watchdog returned")
        finally:
            for task in (work, dog):
                task.cancel()
            # Clients closing against a dead broker may wait on it: not past one deadline.
            await asyncio.wait({work, dog}, timeout=deadline_s(kafka))
            await client.close()
