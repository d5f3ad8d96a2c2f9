"""Fixtures for the demo agents: a local fake OpenAI server and a plain candidates reader."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prefstream_config import KafkaConfig, PrefstreamConfig, TopicsConfig
from prefstream_kafka import TopicSpec, ensure_topics
from prefstream_testing.kafka import test_profile

Responder = Callable[[dict[str, Any]], tuple[int, Any]]
_EMPTY = re.compile(r"row (\d), column (\d)")


@dataclass
class FakeOpenAI:
    """Answers ``POST /v1/chat/completions`` like an OpenAI-compatible server, recording calls."""

    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    responder: Responder | None = None
    _counter: int = 0

    def reply(self, content: Any) -> tuple[int, Any]:
        return 200, completion(content)

    def legal_answer(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Pick the k-th empty square the prompt lists, k counting requests."""
        user = body["messages"][-1]["content"]
        listed = user.split("Empty squares:", 1)[1]
        squares = _EMPTY.findall(listed)
        row, col = squares[self._counter % len(squares)]
        self._counter += 1
        return self.reply(f"The fake model likes it.\nMove: row {row}, column {col}")


def completion(content: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(base_url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path != "/v1/chat/completions":
                    status, payload = 404, {"error": f"no route {self.path}"}
                else:
                    status, payload = (fake.responder or fake.legal_answer)(body)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def demo_config(kafka_broker: Any) -> PrefstreamConfig:
    """Config pointing at the session broker, with a fresh 3-partition candidates topic."""
    topic = f"demo-candidates-{uuid.uuid4().hex[:8]}"
    kafka = test_profile(
        KafkaConfig(
            bootstrap_servers=kafka_broker.bootstrap_servers,
            topics=TopicsConfig(candidates=topic),
            partitions=3,
        )
    )
    await ensure_topics(kafka, [TopicSpec(topic, 3, {})])
    return PrefstreamConfig(kafka=kafka)


ReadRecords = Callable[[KafkaConfig, int], Awaitable[list[ConsumerRecord[bytes, bytes]]]]


async def _read_records(
    kafka: KafkaConfig, count: int, deadline_s: float = 30.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of the candidates topic until ``count`` are seen (no group, no end offsets)."""
    topic = kafka.topics.candidates
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        records: list[ConsumerRecord[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while len(records) < count and loop.time() < end:
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


@pytest.fixture
def read_records() -> ReadRecords:
    return _read_records
