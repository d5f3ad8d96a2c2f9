"""Live forwarding from plain NAT runs (nat-core only): the exporter and ``subscribe``.

The workflow is loaded from YAML by NAT's own loader, so the exporter is picked up through
the ``nat.components`` entry point, exactly as ``nat run`` would.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("nat.runtime.loader", reason="nvidia-nat-core is not installed")

from aiokafka import AIOKafkaConsumer, TopicPartition
from nat.builder.context import Context
from nat.builder.runtime_event_subscriber import pull_intermediate
from nat.runtime.loader import load_workflow
from prefstream_config import KafkaConfig, TopicsConfig
from prefstream_events import CandidateEvent, decode
from prefstream_kafka import TopicSpec, ensure_topics
from prefstream_nat import CandidateForwarder, StepBridge, subscribe

pytestmark = pytest.mark.timeout(60)


class Recording:
    def __init__(self) -> None:
        self.events: list[CandidateEvent] = []

    async def publish(self, events: Sequence[CandidateEvent], *, wait: bool = True) -> None:
        self.events.extend(events)


def write_config(tmp_path: Path, topic: str, bootstrap: str, *, emit_start: bool) -> Path:
    config = {
        "workflow": {
            "_type": "ttc_tic_tac_toe",
            "candidates_per_move": 3,
            "emit_start": emit_start,
        },
        "general": {
            "telemetry": {
                "tracing": {
                    "prefstream": {
                        "_type": "prefstream",
                        "kafka": {"bootstrap_servers": bootstrap, "topics": {"candidates": topic}},
                        "agent_id": "nat-agent",
                    }
                }
            }
        },
    }
    path = tmp_path / f"config-{emit_start}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def run_games(path: Path, games: list[dict[str, Any]], bridge: StepBridge) -> list[Any]:
    """Run each game as NAT runs a request, with ``subscribe`` attached to the run."""
    trajectories = []
    async with load_workflow(path) as sessions:
        for game in games:
            async with sessions.session() as session, session.run(json.dumps(game)) as runner:
                steps = pull_intermediate()
                manager = Context.get().intermediate_step_manager
                subscription = subscribe(manager, bridge, lambda: bridge.routing("sub", "run"))
                await runner.result()
                trajectories.append(await steps)
                subscription.unsubscribe()
    return trajectories


async def read_all(bootstrap: str, topic: str, count: int) -> list[CandidateEvent]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, 0)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        out: list[CandidateEvent] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + 20
        while len(out) < count and loop.time() < end:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                out.extend(decode(CandidateEvent, r.value) for r in batch)
        return out
    finally:
        await consumer.stop()


async def test_nat_run_streams_live_through_the_exporter_and_subscribe(
    kafka_broker: Any, tmp_path: Path
) -> None:
    topic = f"nat-live-{uuid.uuid4().hex[:8]}"
    bootstrap = kafka_broker.bootstrap_servers
    await ensure_topics(
        KafkaConfig(bootstrap_servers=bootstrap, topics=TopicsConfig(candidates=topic)),
        [TopicSpec(topic, 1, {})],
    )
    recording = Recording()
    bridge = StepBridge(CandidateForwarder(recording))
    games = [{"role": "X", "seed": 1}, {"role": "O", "seed": 2, "id": "row-17"}]
    steps = await run_games(
        write_config(tmp_path, topic, bootstrap, emit_start=True), games, bridge
    )
    assert await bridge.forwarder.flush(timeout_s=5)

    ttc_end = [s for run in steps for s in run if s["payload"]["event_type"] == "TTC_END"]
    expected = [s for s in ttc_end if s["payload"]["name"] == "dpo_candidate_move"]
    kept = [s for s in expected if s["payload"]["data"].get("score") is not None]
    assert len(kept) == len(expected) - bridge.stats.skipped_missing_score > 0

    # subscribe(): the same candidates NAT's own subscriber saw, in emission order.
    assert [(e.turn_id, e.candidate_index) for e in recording.events] == [
        (s["payload"]["data"]["turn_id"], s["payload"]["data"]["candidate_index"]) for s in kept
    ]
    assert {(e.example_id, e.run_id) for e in recording.events} == {("sub", "run")}

    # The exporter (the config block): the same candidates, on Kafka.
    live = await read_all(bootstrap, topic, len(kept))
    assert sorted((e.turn_id, e.candidate_index, e.output, e.score) for e in live) == sorted(
        (e.turn_id, e.candidate_index, e.output, e.score) for e in recording.events
    )
    assert {e.agent_id for e in live} == {"nat-agent"}
    by_run: dict[str, set[str]] = {}
    for e in live:
        by_run.setdefault(e.run_id, set()).add(e.example_id)
    assert len(by_run) == 2  # one workflow_run_id per game
    examples = {ids.pop() for ids in by_run.values()}
    assert "row-17" in examples  # taken from the input's "id"
    assert examples - {"row-17"} <= set(by_run)  # the other game: its workflow_run_id


async def test_ttc_end_without_its_start_never_reaches_any_subscriber(
    kafka_broker: Any, tmp_path: Path
) -> None:
    """The guide's snippet emits TTC_END alone: NAT drops it, so neither NAT nor we see it."""
    topic = f"nat-end-only-{uuid.uuid4().hex[:8]}"
    path = write_config(tmp_path, topic, kafka_broker.bootstrap_servers, emit_start=False)
    bridge = StepBridge(CandidateForwarder(Recording()))
    steps = await run_games(path, [{"role": "X", "seed": 1}], bridge)
    names = {(s["payload"]["event_type"], s["payload"]["name"]) for s in steps[0]}
    assert ("TTC_END", "dpo_candidate_move") in names  # the noise steps do have a START
    assert all(
        s["payload"]["data"].get("candidate_index") == 9
        for s in steps[0]
        if s["payload"]["event_type"] == "TTC_END" and s["payload"]["name"] == "dpo_candidate_move"
    )
    assert bridge.stats.forwarded == 0
    assert bridge.stats.skipped_missing_score == bridge.stats.steps_matched > 0


def test_nat_finds_both_hooks_through_the_entry_point_alone() -> None:
    """In a fresh interpreter nothing imports prefstream_nat: NAT's plugin discovery must."""
    code = (
        "from nat.runtime.loader import PluginTypes, discover_and_register_plugins\n"
        "from nat.cli.type_registry import GlobalTypeRegistry\n"
        "discover_and_register_plugins(PluginTypes.CONFIG_OBJECT)\n"
        "r = GlobalTypeRegistry.get()\n"
        "found = [*r.get_registered_telemetry_exporters(), *r.get_registered_evaluators()]\n"
        "print(sorted(t.full_type for t in found if t.full_type.startswith('prefstream')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip().splitlines()[-1] == (
        "['prefstream_nat/prefstream', 'prefstream_nat/prefstream_candidates']"
    )
