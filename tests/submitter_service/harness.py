"""Drive the real submitter: a YAML config, the service as a subprocess, a plain subscriber.

The service runs as ``python -m prefstream_cli service submitter --config F`` exactly as a
user starts it; tests publish DatasetReady records and read the jobs topic with a plain
aiokafka consumer, waiting on observed events with deadlines (never on lags or sleeps).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prefstream_config import KafkaConfig, TopicsConfig
from prefstream_events import DatasetFile, DatasetReady, JobStatusEvent, ce_headers, encode
from prefstream_kafka import ensure_topics
from prefstream_kafka.local_brokers import free_port
from prefstream_submission.dataset_files import file_hashes

CUSTOMIZATION_CONFIG = "meta/llama-3.2-1b-instruct@v1.0.0+A100"
FAST_CLOCKS: dict[str, Any] = {
    "job_created_seconds": 0.3,
    "job_pending_seconds": 0.6,
    "job_seconds_per_epoch": 1.0,
    "deployment_ready_seconds": 0.6,
    "tick_seconds": 0.05,
}
READY_TIMEOUT = 60.0


def kafka_config(bootstrap: str, name: str) -> KafkaConfig:
    return KafkaConfig(
        bootstrap_servers=bootstrap,
        topics=TopicsConfig(
            candidates=f"{name}.candidates",
            pairs=f"{name}.pairs",
            datasets=f"{name}.datasets",
            jobs=f"{name}.jobs",
            job_metrics=f"{name}.job-metrics",
            deadletter=f"{name}.deadletter",
            control=f"{name}.control",
        ),
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        partitions=1,
    )


def write_config(
    path: Path,
    *,
    bootstrap: str,
    base_url: str,
    name: str,
    adapter: Mapping[str, Any] | None = None,
    submitter: Mapping[str, Any] | None = None,
    kafka: Mapping[str, Any] | None = None,
    logging: Mapping[str, Any] | None = None,
) -> Path:
    """A NAT-style config: one ``nemo_customizer_trainer_adapter`` plus prefstream sections."""
    topics = kafka_config(bootstrap, name).topics.model_dump()
    config = {
        "trainer_adapters": {
            "nemo": {
                "_type": "nemo_customizer_trainer_adapter",
                "entity_host": base_url,
                "datastore_host": base_url,
                "namespace": "prefstream-test",
                "customization_config": CUSTOMIZATION_CONFIG,
                "hyperparameters": {"epochs": 1, "batch_size": 4},
                "poll_interval_seconds": 0.2,
                "deployment_timeout_seconds": 60,
                **(adapter or {}),
            }
        },
        "kafka": {
            "bootstrap_servers": bootstrap,
            "topics": topics,
            "partitions": 1,
            "session_timeout_ms": 2000,
            "heartbeat_interval_ms": 500,
            **(kafka or {}),
        },
        "submitter": {
            "group_id": f"{name}-submitter",
            "db_path": str(path.parent / f"{name}-ledger.duckdb"),
            "http_port": free_port(),
            "retry_attempts": 8,
            "retry_max_seconds": 0.5,
            **(submitter or {}),
        },
        "logging": {"level": "INFO", "format": "json", **(logging or {})},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def dataset_event(directory: Path, name: str, sequence: int) -> DatasetReady:
    """The DatasetReady the batcher would publish for ``directory`` (files not validated,
    so a test can hand the submitter a dataset with bad rows)."""
    files = {}
    for key, rel in (
        ("training", "training/training_file.jsonl"),
        ("validation", "validation/validation_file.jsonl"),
    ):
        path = directory / rel
        size, sha256, _ = file_hashes(path)
        rows = sum(1 for line in path.read_bytes().splitlines() if line.strip())
        files[key] = DatasetFile(path=rel, sha256=sha256, rows=rows, bytes=size)
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"dataset_id": f"ds-{name}", "name": name}))
    return DatasetReady(
        dataset_id=f"ds-{name}",
        name=name,
        sequence=sequence,
        directory=str(directory),
        training=files["training"],
        validation=files["validation"],
        manifest_path=str(manifest),
        manifest_sha256=file_hashes(manifest)[1],
        num_pairs=files["training"].rows + files["validation"].rows,
        mode="cumulative",
    )


def write_rows(directory: Path, rows: int = 12, *, bad_line: int | None = None) -> Path:
    (directory / "training").mkdir(parents=True)
    (directory / "validation").mkdir()
    lines = [
        json.dumps(
            {
                "prompt": [{"role": "user", "content": f"Where should X move on board {i}?"}],
                "chosen_response": f"Take the centre, square {i % 9}, it blocks two lines.",
                "rejected_response": "Play a corner without looking at the threats.",
            }
        )
        for i in range(rows)
    ]
    if bad_line is not None:
        lines[bad_line - 1] = json.dumps({"prompt": "where?", "chosen_response": "centre"})
    cut = int(rows * 0.75)
    (directory / "training" / "training_file.jsonl").write_text("\n".join(lines[:cut]) + "\n")
    (directory / "validation" / "validation_file.jsonl").write_text("\n".join(lines[cut:]) + "\n")
    return directory


class SubmitterProcess:
    """``prefstream service submitter`` as a child process, logs to a file."""

    def __init__(self, config: Path, log_path: Path, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.log_path = log_path
        self.env = dict(env or {})
        self.port = int(yaml.safe_load(config.read_text())["submitter"]["http_port"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str] | None = None) -> SubmitterProcess:
        child_env = {**os.environ, **self.env, **(env or {}), "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "prefstream_cli", "service", "submitter"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*cmd, "--config", str(self.config)],
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise AssertionError(f"submitter exited during startup:\n{self.logs()[-4000:]}")
            try:
                with opener.open(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"submitter not ready in {timeout}s:\n{self.logs()[-4000:]}")

    async def wait_exit(self, within: float) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + within
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"submitter still running:\n{self.logs()[-3000:]}")
            await asyncio.sleep(0.05)
        return int(self.proc.returncode)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def stop(self) -> int | None:
        """SIGTERM and wait; uvicorn re-raises the signal after a graceful shutdown, so a
        clean stop returns -15 (the log then ends with "submitter stopped")."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


async def publish(kafka: KafkaConfig, *datasets: DatasetReady) -> None:
    await ensure_topics(kafka)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for ds in datasets:
            headers = ce_headers("DatasetReady", "prefstream/test", subject=ds.dataset_id)
            await producer.send_and_wait(
                kafka.topics.datasets,
                encode(ds),
                key=ds.dataset_id.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()


class JobsReader:
    """A plain subscriber of the jobs topic (no group), from the beginning."""

    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self.records: list[Any] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> JobsReader:
        await ensure_topics(self.kafka)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka.bootstrap_servers, enable_auto_commit=False
        )
        try:  # __aexit__ runs only once this returned
            await consumer.start()
            tps = [TopicPartition(self.kafka.topics.jobs, 0)]  # the jobs topic has one partition
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    def events(self, job_key: str | None = None) -> list[JobStatusEvent]:
        out = [JobStatusEvent.model_validate_json(r.value) for r in self.records]
        return [e for e in out if job_key is None or e.job_key == job_key]

    async def wait_for(
        self,
        predicate: Callable[[list[JobStatusEvent]], bool],
        within: float,
        what: str = "events",
    ) -> list[JobStatusEvent]:
        assert self._consumer is not None
        deadline = time.monotonic() + within
        while True:
            events = self.events()
            if predicate(events):
                return events
            left = deadline - time.monotonic()
            if left <= 0:
                shown = [(e.job_key, e.seq, e.status.value, e.error) for e in events]
                raise AssertionError(f"timed out waiting for {what}; got {shown}")
            batch = await self._consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
            for records in batch.values():
                self.records.extend(records)


def final(events: list[JobStatusEvent], job_key: str) -> JobStatusEvent | None:
    mine = [e for e in events if e.job_key == job_key]
    return max(mine, key=lambda e: e.seq) if mine else None


def terminal(job_key: str) -> Callable[[list[JobStatusEvent]], bool]:
    def check(events: list[JobStatusEvent]) -> bool:
        last = final(events, job_key)
        return last is not None and last.status.terminal

    return check


async def get_json(url: str, **params: Any) -> Any:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url, params=params)
        response.raise_for_status()
        return response.json()


async def jobs_for(base_url: str, output_model: str) -> list[dict[str, Any]]:
    """Every customization job in nmp-local that writes ``output_model``."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        body = await get_json(f"{base_url}/v1/customization/jobs", page=page, page_size=100)
        found.extend(j for j in body["data"] if j.get("output_model") == output_model)
        if page >= body["pagination"]["total_pages"]:
            return found
        page += 1


def submit_config(
    path: Path, base_url: str, *, submitter: Mapping[str, Any] | None = None, **adapter: Any
) -> Path:
    """A config for ``prefstream submit``: one adapter at ``base_url`` (``adapter`` adds or
    overrides its keys) and, when given, a ``submitter`` section."""
    config: dict[str, Any] = {
        "trainer_adapters": {
            "nemo": {
                "_type": "nemo_customizer_trainer_adapter",
                "entity_host": base_url,
                "datastore_host": base_url,
                "namespace": "cli",
                "customization_config": CUSTOMIZATION_CONFIG,
                **adapter,
            }
        }
    }
    if submitter is not None:
        config["submitter"] = dict(submitter)
    path.write_text(yaml.safe_dump(config))
    return path
