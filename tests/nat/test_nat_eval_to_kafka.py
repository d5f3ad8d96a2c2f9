"""A real ``nat eval`` run, with the bridge added by config, streaming to a real broker.

The NAT config below is what a user who followed the DPO guide has, plus one block per
hook. The candidates that reach Kafka are paired with prefstream's pairing library and
compared with the pairs NAT's ``dpo_traj_builder`` rules make from the same eval items
(computed here from NAT 1.9.0's rules, see docs/nat-bridge.md): identical, except that
NAT also pairs equal scores and prefstream never does (docs/pairing.md, "The contract").
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("nat.plugins.eval", reason="nvidia-nat-eval is not installed")
pytest.importorskip(
    "langchain_core",
    reason="nvidia-nat-eval 1.9.0 imports langchain_core without declaring it: "
    "install langchain-core to run a real `nat eval`",
)

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from nat.data_models.evaluate_runtime import EvaluationRunConfig
from nat.data_models.evaluator import EvalInputItem
from nat.data_models.intermediate_step import (
    IntermediateStepType,
    StreamEventData,
    TTCEventData,
)
from nat.plugins.eval.runtime.evaluate import EvaluationRun
from prefstream_config import KafkaConfig, TopicsConfig
from prefstream_events import CandidateEvent, decode
from prefstream_kafka import TopicSpec, ensure_topics
from prefstream_pairing import PairingOptions, make_candidate, pair_window
from prefstream_testing.kafka import test_profile as short_timeouts

pytestmark = pytest.mark.timeout(120)

GAMES = 8
PARTITIONS = 3
STEP = "dpo_candidate_move"
PairKey = tuple[str, str, str, str, str, float]
"""(example_id, turn_id, prompt JSON, chosen output, rejected output, score difference)."""


def nat_builder_pairs(items: list[EvalInputItem]) -> list[PairKey]:
    """NAT 1.9.0 ``dpo_traj_builder`` with its defaults (exhaustive, min_score_diff 0)."""
    groups: dict[tuple[str, str], list[tuple[float, str, Any]]] = {}
    for item in items:
        for step in item.trajectory:
            if step.event_type != IntermediateStepType.TTC_END or step.name != STEP:
                continue
            # After eval's dump/validate round trip, data is StreamEventData with TTC extras.
            assert isinstance(step.payload.data, StreamEventData)
            data = TTCEventData(**step.payload.data.model_dump())
            if data.turn_id is None or data.score is None:
                continue
            output = str(data.output) if data.output else ""
            groups.setdefault((str(item.id), data.turn_id), []).append(
                (float(data.score), output, data.input)
            )
    pairs: list[PairKey] = []
    for (example_id, turn_id), cands in groups.items():
        if len(cands) < 2:
            continue
        ranked = sorted(cands, key=lambda c: c[0], reverse=True)  # stable: ties keep order
        for i, a in enumerate(ranked):
            for b in ranked[i + 1 :]:
                if a[0] - b[0] >= 0.0:
                    prompt = json.dumps(a[2], sort_keys=True)
                    pairs.append((example_id, turn_id, prompt, a[1], b[1], a[0] - b[0]))
    return pairs


def prefstream_pairs(events: list[CandidateEvent]) -> list[PairKey]:
    windows: dict[tuple[str, str, str], list[CandidateEvent]] = defaultdict(list)
    for e in events:
        windows[(e.run_id, e.example_id, e.turn_id)].append(e)
    out: list[PairKey] = []
    for (run_id, example_id, turn_id), group in windows.items():
        candidates = [
            make_candidate(
                candidate_index=e.candidate_index,
                score=e.score,
                output=e.output,
                prompt=e.input if isinstance(e.input, str) else [m.model_dump() for m in e.input],
            )
            for e in group
        ]
        for p in pair_window(run_id, example_id, turn_id, candidates, PairingOptions()):
            prompt = json.dumps(p.prompt, sort_keys=True)
            out.append((p.example_id, p.turn_id, prompt, p.chosen, p.rejected, p.score_diff))
    return out


async def read_events(kafka: KafkaConfig, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of the candidates topic until ``count`` are seen, or a 30 s deadline."""
    import asyncio

    topic = kafka.topics.candidates
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        records: list[ConsumerRecord[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + 30
        while len(records) < count and loop.time() < end:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def kafka_for(bootstrap: str, topic: str) -> KafkaConfig:
    return short_timeouts(
        KafkaConfig(bootstrap_servers=bootstrap, topics=TopicsConfig(candidates=topic))
    )


def nat_config(tmp_path: Path, eval_kafka: KafkaConfig, live_kafka: KafkaConfig) -> Path:
    dataset = tmp_path / "games.json"
    dataset.write_text(
        json.dumps(
            [
                {
                    "id": f"game-{i}",
                    "question": json.dumps({"role": "XO"[i % 2], "seed": i}),
                    "answer": "",
                }
                for i in range(GAMES)
            ]
        )
    )

    def kafka_block(k: KafkaConfig) -> dict[str, Any]:
        return {
            "bootstrap_servers": k.bootstrap_servers,
            "topics": {"candidates": k.topics.candidates},
        }

    config = {
        "workflow": {"_type": "ttc_tic_tac_toe", "candidates_per_move": 3},
        # Hook 2, live: the telemetry exporter.
        "general": {
            "telemetry": {
                "tracing": {"prefstream": {"_type": "prefstream", "kafka": kafka_block(live_kafka)}}
            }
        },
        "eval": {
            "general": {
                "output_dir": str(tmp_path / "eval"),
                "max_concurrency": 4,
                "dataset": {"_type": "json", "file_path": str(dataset)},
            },
            # Hook 1, exact NAT example ids: the evaluator.
            "evaluators": {
                "prefstream": {
                    "_type": "prefstream_candidates",
                    "kafka": kafka_block(eval_kafka),
                    "run_id": "nat-run-1",
                    "policy_model": "meta/llama-3.1-8b-instruct",
                }
            },
        },
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_nat_eval_streams_candidates_that_pair_like_nats_builder(
    kafka_broker: Any, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex[:8]
    eval_kafka = kafka_for(kafka_broker.bootstrap_servers, f"nat-eval-{token}")
    live_kafka = kafka_for(kafka_broker.bootstrap_servers, f"nat-live-{token}")
    await ensure_topics(
        eval_kafka,
        [
            TopicSpec(eval_kafka.topics.candidates, PARTITIONS, {}),
            TopicSpec(live_kafka.topics.candidates, PARTITIONS, {}),
        ],
    )

    output = await EvaluationRun(
        EvaluationRunConfig(config_file=nat_config(tmp_path, eval_kafka, live_kafka))
    ).run_and_evaluate()
    assert not output.workflow_interrupted
    items = output.eval_input.eval_input_items
    assert len(items) == GAMES

    nat_pairs = nat_builder_pairs(items)
    nat_candidates = []
    for item in items:
        for s in item.trajectory:
            if s.event_type != IntermediateStepType.TTC_END or s.name != STEP:
                continue
            assert isinstance(s.payload.data, StreamEventData)
            d = TTCEventData(**s.payload.data.model_dump())
            if d.score is not None:
                assert isinstance(s.payload.metadata, dict)
                row = (str(item.id), d.turn_id, d.candidate_index, str(d.output), d.score)
                nat_candidates.append((*row, s.payload.metadata["is_selected"]))
    nat_candidates.sort()
    kept = len(nat_candidates)
    ties = [p for p in nat_pairs if p[5] == 0.0]
    assert ties, "the seeds are chosen so that some turns have equal scores"

    # Hook 1: exactly NAT's candidates, keyed by NAT's example ids.
    records = await read_events(eval_kafka, kept)
    assert len(records) == kept
    events = [decode(CandidateEvent, r.value) for r in records]
    assert all(r.key == e.example_id.encode() for r, e in zip(records, events, strict=True))
    assert {e.example_id for e in events} == {str(item.id) for item in items}
    assert {e.run_id for e in events} == {"nat-run-1"}
    assert {e.policy_model for e in events} == {"meta/llama-3.1-8b-instruct"}
    assert all(e.ttc_step_name == STEP and e.candidate_index != 9 for e in events)
    assert nat_candidates == sorted(
        (e.example_id, e.turn_id, e.candidate_index, e.output, e.score, e.is_selected)
        for e in events
    )
    by_turn: dict[str, list[CandidateEvent]] = defaultdict(list)
    for e in events:
        by_turn[e.turn_id].append(e)
    for group in by_turn.values():
        assert sum(e.is_selected is True for e in group) == 1
        assert max(group, key=lambda e: (e.score, -e.candidate_index)).is_selected
    assert sorted(prefstream_pairs(events)) == sorted(p for p in nat_pairs if p[5] > 0.0)

    scores = dict(output.evaluation_results)["prefstream"].eval_output_items
    per_item: dict[str, int] = defaultdict(int)
    for e in events:
        per_item[e.example_id] += 1
    assert {str(i.id): i.score for i in scores} == dict(per_item)

    # Hook 2: the same candidates, live; one example per workflow run.
    live = [decode(CandidateEvent, r.value) for r in await read_events(live_kafka, kept)]
    assert len(live) == kept

    def content(e: CandidateEvent) -> tuple[str, int, str, float]:
        return (e.turn_id, e.candidate_index, e.output, e.score)

    assert sorted(map(content, live)) == sorted(map(content, events))
    assert all(e.example_id == e.run_id for e in live)
    assert len({e.run_id for e in live}) == GAMES
    turn_runs = {e.turn_id: e.run_id for e in live}
    assert all(turn_runs[e.turn_id] == e.run_id for e in live)
