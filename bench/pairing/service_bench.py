"""Pairing service benchmark through a real broker (embedded Tansu unless --bootstrap).

Starts the service as its own process, produces seeded events from another process
(paced, or flat out), and reads the service's own /metrics: candidate throughput over
the run, the close-latency histogram (last candidate produced -> pairs committed), and
the service's peak RSS sampled with psutil. ``--broker apache`` runs against a local
Apache Kafka (KRaft) instead; ``--raw`` first measures how fast plain aiokafka drains the
same number of events from a backlog (the ceiling the service is compared with), and how
fast one process relays them: the same drain, publishing through the service's own
``Sink`` what the service publishes (1.43 pair records of 1,450 bytes per event, with its
headers, acknowledged before the offsets are committed) and deciding nothing. The relay is
the rate the service would reach if its decisions and its store cost nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from prefstream_config import KafkaConfig
from prefstream_kafka import ensure_topics
from prefstream_kafka.local_brokers import EmbeddedTansu
from prefstream_kafka.local_brokers.ports import free_port
from prefstream_pairing_service.handler import pair_headers
from prefstream_pairing_service.sink import Record, Sink
from prefstream_testing.apache_kafka import ApacheKafka

HERE = Path(__file__).resolve().parent


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def buckets_of(m: dict[str, float], name: str) -> list[tuple[float, float]]:
    out = []
    for k, v in m.items():
        match = re.search(r'le="([^"]+)"', k)
        if k.startswith(f"{name}_bucket") and match:
            out.append((float(match.group(1)), v))
    return sorted(out)


def max_bucket(m: dict[str, float], name: str) -> float:
    """Upper bound of the slowest observation (the first bucket that holds them all)."""
    total = m.get(f"{name}_count", 0)
    return next((le for le, n in buckets_of(m, name) if n >= total), float("nan"))


def quantile(m: dict[str, float], name: str, q: float) -> float:
    buckets = buckets_of(m, name)
    total = buckets[-1][1] if buckets else 0
    if not total:
        return float("nan")
    prev_le, prev_n = 0.0, 0.0
    for le, n in buckets:
        if n >= q * total:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (q * total - prev_n) / max(n - prev_n, 1e-9)
        prev_le, prev_n = le, n
    return prev_le


def raw_drain(bootstrap: str, events: int, tmp: Path) -> dict[str, object]:
    """Produce ``events`` flat out, then read them back with a bare ``AIOKafkaConsumer``
    (``getmany`` of up to 1000, values untouched): what the log delivers to one process."""
    topic = f"raw{os.urandom(4).hex()}.candidates"
    topics = {"candidates": topic}
    kafka = KafkaConfig(bootstrap_servers=bootstrap, topics=topics)
    asyncio.run(ensure_topics(kafka))
    produce = [sys.executable, str(HERE / "produce.py"), "--bootstrap", bootstrap]
    produce += ["--topic", topic, "--events", str(events), "--rate", "0"]
    produced = json.loads(subprocess.run(produce, check=True, capture_output=True).stdout)

    async def drain() -> float:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            started, seen = time.perf_counter(), 0
            while seen < events:
                batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
                seen += sum(len(records) for records in batch.values())
            return time.perf_counter() - started
        finally:
            await consumer.stop()

    seconds = asyncio.run(drain())
    relayed = asyncio.run(relay(kafka, topic, events))
    return {
        "bench": "raw aiokafka drain",
        "events": events,
        "producer_rate": round(produced["rate"]),
        "raw_drain_rate": round(events / seconds),
        "relay_rate": round(events / relayed),
    }


PAIR_BYTES = 1450
"""A pair record's value in these runs: the prompt and two outputs of ~1 KB events."""


def pairs_of(n: int) -> int:
    """10 pairs per 7 events (1.43, what the seeded turns give): 2 for 3 of every 7."""
    return 1 + (n % 7 in (0, 2, 4))


async def relay(kafka: KafkaConfig, topic: str, events: int) -> float:
    """Seconds to drain ``topic`` and publish what the service would, deciding nothing:
    batch N's records are queued, then batch N-1's acknowledgements awaited and its offsets
    committed (the service's order and overlap), through the service's ``Sink``."""
    pairs_topic = f"{topic}.relayed"
    await ensure_topics(
        kafka.model_copy(update={"topics": kafka.topics.model_copy(update={"pairs": pairs_topic})})
    )
    sink = Sink(kafka, client_id="bench-relay")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=f"relay{os.urandom(4).hex()}",
        enable_auto_commit=False,
    )
    await sink.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        value = b"x" * PAIR_BYTES
        started, seen, made = time.perf_counter(), 0, 0
        inflight: tuple[list[asyncio.Future[object]], dict[TopicPartition, int]] = ([], {})
        while seen < events:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            base = pair_headers(b"2026-12-05T00:00:00Z")
            records: list[Record] = []
            for rs in batch.values():
                for r in rs:
                    for _ in range(pairs_of(seen)):
                        made += 1
                        records.append((r.key, value, [*base, ("ce_id", b"%032x" % made)]))
                    seen += 1
            futures = await sink.send(pairs_topic, records)
            await _settle(consumer, *inflight)
            inflight = (futures, {tp: rs[-1].offset + 1 for tp, rs in batch.items()})
        await _settle(consumer, *inflight)
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await sink.stop()


async def _settle(
    consumer: AIOKafkaConsumer,
    futures: list[asyncio.Future[object]],
    offsets: dict[TopicPartition, int],
) -> None:
    await asyncio.gather(*futures)
    if offsets:
        await consumer.commit(offsets)


def run_once(
    bootstrap: str, events: int, rate: float, tmp: Path, extra: dict[str, str]
) -> dict[str, object]:
    tag = os.urandom(4).hex()
    topics = {
        "candidates": f"b{tag}.candidates",
        "pairs": f"b{tag}.pairs",
        "deadletter": f"b{tag}.dlq",
        "datasets": f"b{tag}.ds",
        "jobs": f"b{tag}.jobs",
        "control": f"b{tag}.ctl",
    }
    asyncio.run(ensure_topics(KafkaConfig(bootstrap_servers=bootstrap, topics=topics)))
    port = free_port()
    sets = {
        "kafka.bootstrap_servers": bootstrap,
        "pairing.group_id": f"g{tag}",
        "pairing.db_path": str(tmp / f"{tag}.duckdb"),
        "pairing.http_port": str(port),
        "kafka.session_timeout_ms": "6000",
        "kafka.heartbeat_interval_ms": "2000",
        "logging.level": "WARNING",
        **{f"kafka.topics.{k}": v for k, v in topics.items()},
        **extra,
    }
    argv = [sys.executable, "-m", "prefstream_cli", "service", "pairing"]
    for k, v in sets.items():
        argv += ["--set", k, v]
    log = open(tmp / f"{tag}.log", "wb")  # noqa: SIM115
    svc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    proc = psutil.Process(svc.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if json.loads(r.read()).get("partitions"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or svc.poll() is not None:
                raise RuntimeError((tmp / f"{tag}.log").read_text()[-3000:])
            time.sleep(0.2)
        rss0 = proc.memory_info().rss
        producer = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "produce.py"),
                "--bootstrap",
                bootstrap,
                "--topic",
                topics["candidates"],
                "--events",
                str(events),
                "--rate",
                str(rate),
            ],
            stdout=subprocess.PIPE,
        )
        started = time.monotonic()
        peak = rss0
        samples: list[tuple[float, float]] = []
        rss_by_tenth: dict[int, int] = {}
        first_seen = None
        while True:
            time.sleep(0.5)
            rss = proc.memory_info().rss
            peak = max(peak, rss)
            m = metrics(port)
            done = m.get("prefstream_pairing_candidates_total", 0)
            now = time.monotonic()
            if done and first_seen is None:
                first_seen = now
            samples.append((now, done))
            tenth = int(10 * done / events)
            rss_by_tenth[tenth] = max(rss_by_tenth.get(tenth, 0), rss >> 20)
            if done >= events and m.get("prefstream_pairing_windows_open", 1) == 0:
                break
            if now - started > 3600:
                raise RuntimeError("benchmark did not finish")
        finished = samples[-1][0]
        produced = json.loads(producer.communicate()[0])
        m = metrics(port)
        # Sustained rate: the middle 80% of the run, so the join and the tail are out.
        lo = next(s for s in samples if s[1] >= 0.1 * events)
        hi = next(s for s in samples if s[1] >= 0.9 * events)
        return {
            "events": events,
            "producer_rate_target": rate,
            "producer_rate": round(produced["rate"]),
            "service_rate_sustained": round((hi[1] - lo[1]) / max(hi[0] - lo[0], 1e-9)),
            "service_rate_overall": round(events / (finished - (first_seen or started))),
            "pairs": int(m.get("prefstream_pairing_pairs_published_total", 0)),
            "close_latency_p50_s": round(
                quantile(m, "prefstream_pairing_close_latency_seconds", 0.5), 3
            ),
            "close_latency_p99_s": round(
                quantile(m, "prefstream_pairing_close_latency_seconds", 0.99), 3
            ),
            "batch_p50_s": round(quantile(m, "prefstream_pairing_batch_duration_seconds", 0.5), 3),
            "batch_p99_s": round(quantile(m, "prefstream_pairing_batch_duration_seconds", 0.99), 3),
            "batches": int(m.get("prefstream_pairing_batch_duration_seconds_count", 0)),
            "commit_p99_s": round(
                quantile(m, "prefstream_pairing_commit_duration_seconds", 0.99), 3
            ),
            "commit_max_bucket_s": max_bucket(m, "prefstream_pairing_commit_duration_seconds"),
            "rss_idle_mb": round(rss0 / 2**20),
            "rss_peak_mb": round(peak / 2**20),
            "rss_mb_by_tenth_of_stream": [rss_by_tenth.get(i, 0) for i in range(10)],
            "cpu_seconds": round(sum(proc.cpu_times()[:2]), 1),
            "settings": extra,
        }
    finally:
        svc.terminate()
        try:
            svc.wait(30)
        except subprocess.TimeoutExpired:
            svc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", help="an existing broker; default: start embedded Tansu")
    ap.add_argument("--broker", choices=("tansu", "apache"), default="tansu")
    ap.add_argument("--raw", action="store_true", help="measure plain aiokafka's drain first")
    ap.add_argument("--events", type=int, nargs="+", default=[400_000, 2_000_000])
    ap.add_argument("--rate", type=float, nargs="+", default=[20_000, 0])
    ap.add_argument("--out", type=Path, help="append JSON lines here")
    ap.add_argument("--set", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="prefstream-bench-"))
    extra = dict(args.set)
    broker: EmbeddedTansu | ApacheKafka | None = None

    def start_broker() -> str:
        nonlocal broker
        if args.bootstrap is not None:
            return str(args.bootstrap)
        if args.broker == "apache":
            broker = ApacheKafka(tmp / f"apache-{os.urandom(4).hex()}").start()
        else:
            broker = EmbeddedTansu(log_path=tmp / "tansu.log").start()
        return broker.bootstrap_servers

    def emit(res: dict[str, object]) -> None:
        res = {"machine": f"{os.cpu_count()} vCPU", "broker": args.broker, **res}
        print(json.dumps(res), flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(res) + "\n")

    bootstrap = start_broker()
    try:
        for events in args.events:
            if args.raw:
                emit(raw_drain(bootstrap, events, tmp))
            for rate in args.rate:
                emit(run_once(bootstrap, events, rate, tmp, extra))
                if broker is not None:  # a fresh broker per run (Tansu keeps all in memory)
                    broker.stop()
                    bootstrap = start_broker()
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
