"""Malformed records between valid ones: each one reaches the dead-letter topic with the
reason pydantic gives it, the service keeps running, and valid records still pair."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefstream_events import CandidateEvent, DeadLetter, InvalidEvent, decode
from prefstream_testing.synthetic import synthetic_lines

from tests.pairing.corpus import broken_events

from .harness import (
    Env,
    Service,
    TopicReader,
    metric_value,
    offline_pair_ids,
    produce,
    send_raw,
)

OVERSIZE_LIMIT = 64 * 1024


def expected_reason(raw: bytes) -> str | None:
    try:
        decode(CandidateEvent, raw, max_bytes=OVERSIZE_LIMIT)
    except InvalidEvent as exc:
        return exc.reason
    return None


async def run_examples(env: Env, svc: Service, batches: list[list[bytes]]) -> None:
    stream: list[bytes] = []
    bad: list[tuple[bytes, str]] = []
    for i, extra in enumerate(batches):
        good = list(synthetic_lines(40, 4, seed=i, run_id=uuid.uuid4().hex[:8]))
        for j, line in enumerate(good):
            stream.append(line)
            if j < len(extra):
                stream.append(extra[j])
                reason = expected_reason(extra[j])
                if reason is not None:
                    bad.append((extra[j], reason))
    # One offline run over the whole stream: valid "broken" records may share windows.
    expected = offline_pair_ids(stream, max_bytes=OVERSIZE_LIMIT)
    async with TopicReader(env, env.pairs) as pairs, TopicReader(env, env.deadletter) as dlq:
        await produce(env, stream)
        await pairs.wait_for(lambda t: set(t.pair_ids()) >= expected, 120, services=[svc])
        await dlq.wait_for(lambda t: len(t.values) >= len(bad), 120, services=[svc])
        got = []
        for value in dlq.values:
            letter = DeadLetter.model_validate_json(value)
            assert letter.detail
            assert letter.source.topic == env.candidates
            got.append((letter.original, letter.reason))
        assert sorted(got) == sorted(bad)
        assert set(pairs.pair_ids()) == expected
    assert svc.proc.is_running
    reasons = Counter(reason for _, reason in bad)
    deadline = time.monotonic() + 30  # metrics follow the DuckDB commit, after the publish
    while True:
        metrics = svc.metrics()
        if all(
            f'prefstream_pairing_dead_letters_total{{reason="{r}"}} {float(n)}' in metrics
            for r, n in reasons.items()
        ):
            break
        assert time.monotonic() < deadline, metrics
        await asyncio.sleep(0.2)


def test_malformed_records_go_to_the_dead_letter_topic(env: Env) -> None:
    env.extra["kafka.max_record_bytes"] = str(OVERSIZE_LIMIT)
    svc = Service(env).start()
    asyncio.run(svc.wait_ready(partitions=env.partitions))
    collected: list[list[bytes]] = []
    oversize = json.dumps({"example_id": "big", "output": "x" * OVERSIZE_LIMIT}).encode()
    extras = st.lists(
        broken_events() | st.just(oversize) | st.just(b"") | st.just(b"\xff\xfe"),
        min_size=1,
        max_size=25,
    )

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(extras)
    def gather(extra: list[bytes]) -> None:
        collected.append(extra)

    gather()
    asyncio.run(run_examples(env, svc, collected))
    svc.stop()


def poison_pills(run_id: str) -> list[tuple[bytes, str]]:
    """Real bytes, as a hostile producer sends them: invalid UTF-8 inside a JSON string,
    and an unknown key nested 1,000 objects deep (a 6 KB record)."""
    base = {
        "example_id": "ex-0",
        "turn_id": "poison",
        "turn_index": 0,
        "candidate_index": 0,
        "input": "p",
        "output": "@",
        "score": 0.5,
        "run_id": run_id,
    }
    utf8 = json.dumps(base).encode().replace(b'"@"', b'"\xff\xfe"')
    deep = json.dumps({**base, "candidate_index": 1, "u": 0}).encode()
    deep = deep.replace(b'"u": 0', b'"u": ' + b'{"k":' * 1000 + b"1" + b"}" * 1000)
    return [(utf8, "invalid_utf8"), (deep, "too_deep")]


async def run_poison(env: Env, svc: Service) -> None:
    run_id = uuid.uuid4().hex[:8]
    good = list(synthetic_lines(40, 4, seed=7, run_id=run_id))
    expected = offline_pair_ids(good)
    pills = poison_pills(run_id)
    parts = list(range(env.partitions))
    part = DefaultPartitioner()(b"ex-0", parts, parts)
    async with TopicReader(env, env.pairs) as pairs, TopicReader(env, env.deadletter) as dlq:
        # ex-0 has turns 0 and 10 before the pills and 20 and 30 after, on their partition.
        await produce(env, good[:80])
        await send_raw(
            env.bootstrap, env.candidates, [(part, b"ex-0", raw, None) for raw, _ in pills]
        )
        await produce(env, good[80:])
        await pairs.wait_for(lambda t: set(t.pair_ids()) >= expected, 60, services=[svc])
        for _, reason in pills:  # counted after the DuckDB commit of their batch
            await svc.wait_metric(f'prefstream_pairing_dead_letters_total{{reason="{reason}"}} 1.0')
        await dlq.wait_for(lambda t: len(t.values) >= len(pills), 30, services=[svc])
        await dlq.poll()
        letters = [DeadLetter.model_validate_json(v) for v in dlq.values]
        assert sorted((d.original, d.reason) for d in letters) == sorted(pills)
        assert {(d.source.topic, d.source.partition) for d in letters} == {(env.candidates, part)}
        assert set(pairs.pair_ids()) == expected
    assert (
        metric_value(svc.metrics(), "prefstream_pairing_resets_total") == 0.0
    )  # no rewind republished them
    assert svc.proc.is_running


def test_invalid_utf8_and_deep_nesting_are_dead_lettered_once(env: Env) -> None:
    svc = Service(env).start()
    asyncio.run(svc.wait_ready(partitions=env.partitions))
    asyncio.run(run_poison(env, svc))
    svc.stop()
