"""A reader whose broker refuses it closes the consumer it made: aiokafka otherwise warns
"Unclosed AIOKafkaConsumer" when the object is collected (at exit, in every test run)."""

from __future__ import annotations

import gc
import socket
import warnings
from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiokafka.errors import KafkaError
from prefstream_config import KafkaConfig
from prefstream_events import JobStatusEvent
from prefstream_kafka.readers import DatasetWatcher, TopicFollower, read_topic


@pytest.fixture
def refused() -> Iterator[KafkaConfig]:
    """A port bound but not listening: every connection is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield KafkaConfig(
            bootstrap_servers=f"127.0.0.1:{sock.getsockname()[1]}", request_timeout_ms=2000
        )


async def _dataset_watcher(kafka: KafkaConfig) -> None:
    watcher = DatasetWatcher(kafka)
    await watcher.start()
    await watcher.stop()


async def _read_topic(kafka: KafkaConfig) -> None:
    await read_topic(kafka, kafka.topics.jobs, JobStatusEvent)


async def _follower(kafka: KafkaConfig) -> None:
    # job_events is a TopicFollower of the jobs topic.
    async with TopicFollower(kafka, kafka.topics.jobs, JobStatusEvent, from_beginning=True):
        pass


READERS: dict[str, Callable[[KafkaConfig], Awaitable[None]]] = {
    "DatasetWatcher": _dataset_watcher,
    "read_topic": _read_topic,
    "TopicFollower": _follower,
}


@pytest.mark.parametrize("reader", sorted(READERS))
async def test_a_reader_refused_by_the_broker_leaves_no_client_unclosed(
    reader: str, refused: KafkaConfig
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            await READERS[reader](refused)
        except (KafkaError, OSError):
            pass
        else:
            pytest.fail("the reader connected to a port that refuses every connection")
        gc.collect()
    unclosed = [str(w.message) for w in caught if "Unclosed AIOKafka" in str(w.message)]
    assert not unclosed, unclosed
