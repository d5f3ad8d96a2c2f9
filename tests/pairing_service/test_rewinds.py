"""Failures that rewind the pairing service, on Apache Kafka (real ``message.max.bytes``
limits): nothing is committed past an effect that is not durable, a dead letter always
fits, rewinds are bounded and visible, and dead letters are idempotent.

Each test uses ``durable_kafka`` (always Apache Kafka) and topics whose
``max.message.bytes`` is what a broker with default settings accepts (1,048,588 bytes).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from prefstream_events import DeadLetter
from prefstream_testing.synthetic import synthetic_events

from .harness import (
    Env,
    Service,
    TopicReader,
    committed_offset,
    metric_value,
    offline_pair_ids,
    send_raw,
)

BROKER_DEFAULT_MAX_MESSAGE_BYTES = "1048588"


async def create_topic(env: Env, name: str, partitions: int, config: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=config)])
    finally:
        await admin.close()


async def set_topic_config(env: Env, name: str, config: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, config)])
    finally:
        await admin.close()


def turn(example: str, seed: int, *, num_candidates: bool) -> list[bytes]:
    events = synthetic_events(1, 4, seed=seed, run_id=example, with_num_candidates=num_candidates)
    return [msgspec.json.encode({**e, "example_id": example}) for e in events]


async def wait_until(check: Any, timeout_s: float, svc: Service, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout_s}s\n{svc.proc.tail(40)}")
        await asyncio.sleep(0.2)


def readyz_status(port: int) -> tuple[int, dict[str, Any]]:
    """/readyz's status and body, whatever the status."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def letters(values: list[bytes]) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(v) for v in values]


async def _unpublishable_dead_letter(env: Env) -> None:
    # The dead-letter topic takes what a broker with default settings takes (~1 MB);
    # candidates may be bigger (the test broker's message.max.bytes is 8 MB).
    await create_topic(
        env, env.deadletter, 1, {"max.message.bytes": BROKER_DEFAULT_MAX_MESSAGE_BYTES}
    )
    await env.create_topics()
    svc = Service(env).start()
    await svc.wait_ready(partitions=env.partitions)
    a = turn("ex-a", 1, num_candidates=False)  # stays open until the inactivity gap
    b = turn("ex-b", 2, num_candidates=True)
    big = json.dumps({"example_id": "big", "output": "x" * 7_500_000}).encode()
    expected = offline_pair_ids(a + b)
    assert len(expected) >= 5
    async with TopicReader(env, env.pairs) as pairs, TopicReader(env, env.deadletter) as dlq:
        await send_raw(env.bootstrap, env.candidates, [(0, b"k", v, None) for v in [*a, big]])
        # Turn B only once the service has met the big record (a rewind, or its letter).
        await wait_until(
            lambda: (
                "prefstream_pairing_resets_total 0.0" not in (m := svc.metrics()) or "oversize" in m
            ),
            60,
            svc,
            "the big record was never handled",
        )
        await send_raw(env.bootstrap, env.candidates, [(0, b"k", v, None) for v in b])
        await pairs.wait_for(lambda t: set(t.pair_ids()) >= expected, 90, services=[svc])
        await dlq.wait_for(lambda t: len(t.values) >= 1, 60, services=[svc])
        assert set(pairs.pair_ids()) == expected
        (letter,) = {d.deadletter_id: d for d in letters(dlq.values)}.values()
        assert letter.reason == "oversize"
        assert (letter.source.topic, letter.source.partition, letter.source.offset) == (
            env.candidates,
            0,
            4,
        )
        assert letter.original_truncated
        assert letter.original_bytes == len(big)
        assert letter.original_sha256 == hashlib.sha256(big).hexdigest()
        assert big.startswith(letter.original)
        assert len(dlq.values[0]) < int(BROKER_DEFAULT_MAX_MESSAGE_BYTES)
    deadline = time.monotonic() + 30
    while (offset := await committed_offset(env, 0)) != 9:
        assert time.monotonic() < deadline, f"committed {offset}, not 9\n{svc.proc.tail(40)}"
        await asyncio.sleep(0.5)
    svc.stop()
    ids = svc.pair_ids()
    assert sorted(ids) == sorted(expected)


def test_dead_letter_over_the_broker_limit_loses_nothing(
    durable_kafka: Any, tmp_path: Path
) -> None:
    """Turn A (open), a 7.5 MB candidate, turn B. Once the defect: the letter
    (10 MB) failed the batch over and over, then a batch fetched before a rewind was
    decided after it and committed past turn A and the big record."""
    env = Env(durable_kafka.bootstrap_servers, tmp_path, gap_s=3.0)
    asyncio.run(_unpublishable_dead_letter(env))


async def _rejecting_pairs_topic(env: Env) -> None:
    # Every pair (~1 KB) is over the pairs topic's limit: each batch fails at the broker,
    # an infrastructure error, until the limit is raised again.
    await create_topic(env, env.pairs, env.partitions, {"max.message.bytes": "200"})
    await env.create_topics()
    svc = Service(env).start()
    await svc.wait_ready(partitions=env.partitions)
    good = turn("ex-c", 3, num_candidates=True) + turn("ex-d", 4, num_candidates=True)
    bad = [b"not json", b'{"example_id": "x"}', b"\x00\x01"]
    stream = [good[0], bad[0], *good[1:5], bad[1], *good[5:], bad[2]]
    expected = offline_pair_ids(stream)
    await send_raw(env.bootstrap, env.candidates, [(1, b"k", v, None) for v in stream])

    # Visible: not ready, a gauge of consecutive failures, an error log with the cause.
    await wait_until(
        lambda: metric_value(svc.metrics(), "prefstream_pairing_consecutive_failures") >= 3,
        60,
        svc,
        "consecutive_failures >= 3",
    )
    status, body = readyz_status(svc.port)
    assert status == 503, (status, body)
    assert not body["ready"], body
    assert body["consecutive_failures"] >= 3, body
    log = svc.proc.tail(400)
    assert "MessageSizeTooLargeError" in log
    assert "rewinding" in log
    # Bounded: backoff between rewinds, not a hot loop.
    first = metric_value(svc.metrics(), "prefstream_pairing_resets_total")
    started = time.monotonic()
    await wait_until(lambda: time.monotonic() - started >= 8, 20, svc, "8 s")
    assert metric_value(svc.metrics(), "prefstream_pairing_resets_total") - first <= 4

    await set_topic_config(env, env.pairs, {"max.message.bytes": BROKER_DEFAULT_MAX_MESSAGE_BYTES})
    async with TopicReader(env, env.pairs) as pairs, TopicReader(env, env.deadletter) as dlq:
        await pairs.wait_for(lambda t: set(t.pair_ids()) >= expected, 90, services=[svc])
        await dlq.wait_for(lambda t: len(t.values) >= len(bad), 30, services=[svc])
        await svc.wait_ready(30)
        assert metric_value(svc.metrics(), "prefstream_pairing_consecutive_failures") == 0
        await dlq.poll(1.0)
        got = letters(dlq.values)
        # Idempotent: one id per bad record, derived from its coordinates and reason,
        # used as the CloudEvents id; rewinds do not republish acknowledged letters.
        by_offset = {d.source.offset: d.deadletter_id for d in got}
        assert len(set(by_offset.values())) == len(bad)
        assert sorted(d.original for d in {d.deadletter_id: d for d in got}.values()) == sorted(bad)
        for d, headers in zip(got, dlq.headers, strict=True):
            assert d.deadletter_id == by_offset[d.source.offset]
            assert headers["ce_id"] == d.deadletter_id.encode()
        counts = Counter(d.deadletter_id for d in got)
        assert max(counts.values()) == 1, counts
    svc.stop()


def test_rewinds_are_bounded_visible_and_dead_letters_idempotent(
    durable_kafka: Any, tmp_path: Path
) -> None:
    """A pairs topic that rejects every pair makes each batch fail. Once the defect: a hot
    rewind loop, /readyz green, and every rewind republished the batch's dead letters."""
    env = Env(durable_kafka.bootstrap_servers, tmp_path, gap_s=3.0)
    asyncio.run(_rejecting_pairs_topic(env))
