"""Drive the batcher (in process or as a real subprocess) against a real broker.

Every wait is on an observed output (a DatasetReady on the topic, a 200 from /readyz, a
dead letter) with a deadline, never on lag or end offsets (Tansu's are wrong after
batched produce).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefstream_batcher_service.app import create
from prefstream_batcher_service.service import BatcherService
from prefstream_config import PrefstreamConfig
from prefstream_datasets import FILES, MANIFEST, file_digest, read_pair_ids
from prefstream_events import DatasetReady, PairEvent, encode
from prefstream_kafka import ensure_topics
from prefstream_kafka.local_brokers._process import ManagedProcess
from prefstream_kafka.local_brokers.ports import free_port
from prefstream_testing import kafka as kafka_testing

from tests.support import http_probe

REPO = Path(__file__).resolve().parents[2]


def pair_event(
    i: int,
    *,
    example: str | None = None,
    content: int | None = None,
    policy: str | None = "policy-a",
    pad: int = 0,
) -> PairEvent:
    """A valid pair; ``content`` repeats the (prompt, chosen, rejected) of another index."""
    c = i if content is None else content
    ex = example or f"example-{i % 97}"
    return PairEvent(
        pair_id=f"pair-{i:07d}",
        content_hash=f"content-{c:07d}",
        run_id="run",
        example_id=ex,
        turn_id="turn-0",
        prompt=[
            {"role": "system", "content": "Play tic-tac-toe."},
            {"role": "user", "content": f"board {c}"},
        ],
        chosen=f"move {c} " + "x" * pad,
        rejected=f"blunder {c}",
        chosen_score=0.9,
        rejected_score=0.1,
        score_diff=0.8,
        reward=0.8,
        chosen_index=0,
        rejected_index=1,
        policy_model=policy,
    )


@dataclass
class Env:
    """One isolated batcher deployment: own topics, groups and files on a shared broker."""

    bootstrap: str
    tmp: Path
    partitions: int = 4
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    sent: dict[int, int] = field(default_factory=dict)
    """Records produced per partition of the pairs topic = its end offsets (fresh topic)."""

    def topic(self, name: str) -> str:
        return f"t{self.tag}.{name}"

    @property
    def pairs(self) -> str:
        return self.topic("pairs")

    @property
    def datasets(self) -> str:
        return self.topic("datasets")

    @property
    def deadletter(self) -> str:
        return self.topic("deadletter")

    def overrides(self, name: str = "b0", **batcher: Any) -> dict[str, Any]:
        """Dotted config keys for one batcher instance ``name`` (own DB, dir and group)."""
        values: dict[str, Any] = {
            "kafka.bootstrap_servers": self.bootstrap,
            "kafka.partitions": self.partitions,
            "kafka.session_timeout_ms": 2000,
            "kafka.heartbeat_interval_ms": 500,
            **{
                f"kafka.topics.{t}": self.topic(t)
                for t in ("candidates", "pairs", "datasets", "jobs", "deadletter", "control")
            },
            "batcher.group_id": f"g{self.tag}-{name}",
            "batcher.db_path": str(self.tmp / name / "batcher.duckdb"),
            "batcher.datasets_dir": str(self.tmp / name / "datasets"),
            "batcher.http_port": free_port(),
            "logging.format": "text",
        }
        values.update({f"batcher.{k}": v for k, v in batcher.items()})
        return values

    def config(self, name: str = "b0", **batcher: Any) -> PrefstreamConfig:
        data: dict[str, Any] = {}
        for key, value in self.overrides(name, **batcher).items():
            node = data
            *parents, last = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        return PrefstreamConfig.model_validate(data)

    def datasets_dir(self, name: str = "b0") -> Path:
        return self.tmp / name / "datasets"

    async def create_topics(self) -> None:
        await ensure_topics(self.config().kafka)


async def produce(
    env: Env,
    items: Sequence[PairEvent | tuple[bytes | None, bytes]],
    *,
    topic: str | None = None,
    chunk: int = 5000,
) -> None:
    """Send pairs keyed by ``example_id`` (as the pairing service does), batched per
    partition with aiokafka's batch API; raw ``(key, value)`` tuples are sent as they are."""
    topic = topic or env.pairs
    records: list[tuple[bytes | None, bytes]] = [
        (item.example_id.encode(), encode(item)) if isinstance(item, PairEvent) else item
        for item in items
    ]
    sent = await kafka_testing.produce_batched(env.bootstrap, topic, records, chunk=chunk)
    if topic == env.pairs:
        for part, count in sent.items():
            env.sent[part] = env.sent.get(part, 0) + count


class TopicReader(kafka_testing.TopicReader):
    """Reads one of this deployment's topics from the beginning, without a group."""

    def __init__(self, env: Env, topic: str) -> None:
        super().__init__(env.bootstrap, topic)


@asynccontextmanager
async def running(config: PrefstreamConfig) -> AsyncIterator[BatcherService]:
    """The batcher in this process: started (partitions assigned), then stopped."""
    app, service = create(config)
    await app.start()
    try:
        yield service
    finally:
        await app.stop()


async def consumed(service: BatcherService, ends: dict[int, int], timeout_s: float) -> None:
    """Wait until the batcher has stored everything below ``ends`` (its own positions)."""
    deadline = time.monotonic() + timeout_s
    while any(service.state.positions.get(p, 0) < end for p, end in ends.items()):
        if time.monotonic() > deadline:
            raise AssertionError(f"batcher at {service.state.positions}, expected {ends}")
        await asyncio.sleep(0.05)


class ServiceProcess:
    """``prefstream service batcher`` as a child process; SIGKILL and restart keep its files."""

    def __init__(self, env: Env, overrides: dict[str, Any], *, crash_at: str | None = None) -> None:
        self.port = int(overrides["batcher.http_port"])
        argv = [sys.executable, "-m", "prefstream_cli", "service", "batcher"]
        for key, value in overrides.items():
            argv += ["--set", key, json.dumps(value) if not isinstance(value, str) else value]
        environ = {k: v for k, v in os.environ.items() if k != "PREFSTREAM_CRASH_AT"}
        if crash_at is not None:
            environ["PREFSTREAM_CRASH_AT"] = crash_at
        self.proc = ManagedProcess(
            argv,
            name="batcher",
            log_path=env.tmp / "batcher-process.log",
            env={**environ, "PYTHONUNBUFFERED": "1"},
            cwd=REPO,
        )

    def start(self) -> ServiceProcess:
        self.proc.start()
        return self

    def readyz(self) -> dict[str, Any] | None:
        return http_probe.readyz(self.port)

    def metrics(self) -> str:
        return http_probe.metrics(self.port)

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.proc.is_running:
                raise AssertionError(f"batcher exited:\n{self.proc.tail(60)}")
            body = self.readyz()
            if body and body.get("ready"):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"batcher not ready in {timeout_s}s:\n{self.proc.tail(60)}")

    async def wait_exit(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.proc.is_running:
            if time.monotonic() > deadline:
                raise AssertionError(f"batcher still running after {timeout_s}s")
            await asyncio.sleep(0.05)
        code = self.proc.returncode
        assert code is not None
        return code

    @property
    def running(self) -> bool:
        return self.proc.is_running

    def kill(self) -> None:
        self.proc.kill()

    def stop(self, timeout_s: float = 30.0) -> None:
        self.proc.terminate(timeout_s)


def dataset_pair_ids(event: DatasetReady) -> set[str]:
    ids = read_pair_ids(Path(event.directory))
    return set(ids["training"]) | set(ids["validation"])


def check_files(event: DatasetReady) -> None:
    """The announced files exist, unchanged, and the manifest is the announced one."""
    directory = Path(event.directory)
    for meta in (event.training, event.validation):
        assert file_digest(directory, meta.path).sha256 == meta.sha256, meta.path
    assert file_digest(directory, MANIFEST).sha256 == event.manifest_sha256
    assert event.training.path == FILES["nemo"][0]
    assert event.validation.path == FILES["nemo"][1]


def by_name(events: Iterable[DatasetReady]) -> dict[str, list[DatasetReady]]:
    out: dict[str, list[DatasetReady]] = {}
    for e in events:
        out.setdefault(e.name, []).append(e)
    return out
