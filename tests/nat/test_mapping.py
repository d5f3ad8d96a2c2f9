"""Step -> CandidateEvent mapping with NAT's own models, rule by rule."""

from __future__ import annotations

import math
from typing import Any

import pytest

pytest.importorskip("nat.data_models.intermediate_step", reason="nvidia-nat-core is not installed")

from nat.data_models.intermediate_step import (
    IntermediateStep,
    IntermediateStepPayload,
    IntermediateStepType,
    StreamEventData,
    TraceMetadata,
    TTCEventData,
)
from nat.data_models.invocation_node import InvocationNode
from prefstream_events import ChatMessage
from prefstream_nat import BridgeStats, Routing, candidate_from_step, nat_prompt
from prefstream_nat.mapping import is_candidate_step
from prefstream_nat.register import example_id_from_input

ROUTING = Routing("game-3", "run-1", policy_model="m0", agent_id="a0")
MESSAGES = [{"role": "system", "content": "rules"}, {"role": "user", "content": "board"}]


def step(
    data: Any,
    *,
    name: str = "dpo_candidate_move",
    event_type: IntermediateStepType = IntermediateStepType.TTC_END,
    metadata: Any = None,
) -> IntermediateStep:
    return IntermediateStep(
        parent_id="root",
        function_ancestry=InvocationNode(function_id="f1", function_name="ttc_move_selector"),
        payload=IntermediateStepPayload(
            event_type=event_type, name=name, data=data, metadata=metadata, event_timestamp=1.7e9
        ),
    )


def ttc(**fields: Any) -> TTCEventData:
    base: dict[str, Any] = {
        "turn_id": "turn_0",
        "turn_index": 2,
        "candidate_index": 1,
        "input": MESSAGES,
        "output": "Move: row 1, column 1",
        "score": 0.5,
    }
    return TTCEventData(**{**base, **fields})


def test_guide_step_maps_field_by_field() -> None:
    stats = BridgeStats()
    event = candidate_from_step(
        step(ttc(), metadata={"is_selected": True, "move_id": "m1"}), ROUTING, stats
    )
    assert event is not None
    assert (event.example_id, event.run_id, event.turn_id) == ("game-3", "run-1", "turn_0")
    assert (event.turn_index, event.candidate_index, event.score) == (2, 1, 0.5)
    assert event.input == [ChatMessage(**m) for m in MESSAGES]
    assert event.output == "Move: row 1, column 1"
    assert event.is_selected is True
    assert (event.policy_model, event.agent_id) == ("m0", "a0")
    assert event.ttc_step_name == "dpo_candidate_move"
    assert event.num_candidates is None
    assert event.metadata["move_id"] == "m1"
    assert "nat_step_uuid" in event.metadata
    assert event.event_time is not None
    assert event.event_time.timestamp() == 1.7e9
    assert stats.as_dict()["skipped_invalid"] == 0


def test_none_indices_become_zero_as_nat_does() -> None:
    event = candidate_from_step(
        step(ttc(candidate_index=None, turn_index=None)), ROUTING, BridgeStats()
    )
    assert event is not None
    assert (event.candidate_index, event.turn_index) == (0, 0)
    assert event.is_selected is None


@pytest.mark.parametrize(
    ("fields", "counter"),
    [
        ({"turn_id": None}, "skipped_missing_turn_id"),
        ({"score": None}, "skipped_missing_score"),
        ({"score": math.nan}, "skipped_invalid"),
        ({"score": math.inf}, "skipped_invalid"),
        ({"candidate_index": -1}, "skipped_invalid"),
    ],
)
def test_unusable_steps_are_skipped_and_counted(fields: dict[str, Any], counter: str) -> None:
    stats = BridgeStats()
    assert candidate_from_step(step(ttc(**fields)), ROUTING, stats) is None
    assert {k: v for k, v in stats.as_dict().items() if v} == {counter: 1}


@pytest.mark.parametrize(
    ("output", "text"),
    [({"row": 1}, "{'row': 1}"), (None, ""), (0, ""), ([], ""), (7, "7")],
)
def test_non_string_outputs_follow_nats_str_rule(output: Any, text: str) -> None:
    stats = BridgeStats()
    event = candidate_from_step(step(ttc(output=output)), ROUTING, stats)
    assert event is not None
    assert event.output == text
    assert stats.outputs_stringified == 1


def test_data_as_stream_event_data_or_dict_is_accepted_like_nat() -> None:
    as_stream = StreamEventData(**ttc().model_dump())  # what eval's round trip produces
    as_dict = ttc().model_dump()
    for data in (as_stream, as_dict):
        event = candidate_from_step(step(data), ROUTING, BridgeStats())
        assert event is not None
        assert event.turn_id == "turn_0"
    stats = BridgeStats()
    assert candidate_from_step(step(None), ROUTING, stats) is None
    assert candidate_from_step(step({"turn_id": 3, "score": 1.0}), ROUTING, stats) is None
    assert stats.skipped_unparseable == 2


def test_prompts_follow_nats_extract_prompt() -> None:
    assert nat_prompt(None) == ""
    assert nat_prompt("plain") == "plain"
    assert nat_prompt([]) == []
    with_tool = [{"role": "assistant", "content": "x", "name": "bot"}]
    assert nat_prompt(with_tool) == with_tool  # extra keys kept (NAT drops them)
    broken = [{"role": "tool", "content": None}]
    assert nat_prompt(broken) == "[{'role': 'tool', 'content': None}]"
    assert nat_prompt({"board": [[0]]}) == "{'board': [[0]]}"


def test_num_candidates_only_when_the_workflow_says_so() -> None:
    extra = TTCEventData(**{**ttc().model_dump(), "num_candidates": 3})
    from_data = candidate_from_step(step(extra), ROUTING, BridgeStats())
    from_meta = candidate_from_step(
        step(ttc(), metadata={"num_candidates": 4}), ROUTING, BridgeStats()
    )
    assert from_data is not None
    assert from_data.num_candidates == 3
    assert from_meta is not None
    assert from_meta.num_candidates == 4


def test_trace_metadata_and_unserialisable_values_become_json() -> None:
    meta = TraceMetadata(provided_metadata={"k": 1}, is_selected=False, board=(1, 2))
    event = candidate_from_step(step(ttc(), metadata=meta), ROUTING, BridgeStats())
    assert event is not None
    assert event.is_selected is False
    assert event.metadata["provided_metadata"] == {"k": 1}
    assert event.metadata["board"] == [1, 2]
    odd = candidate_from_step(step(ttc(), metadata={"when": object}), ROUTING, BridgeStats())
    assert odd is not None
    assert isinstance(odd.metadata["when"], str)


def test_only_ttc_end_steps_with_the_configured_name_match() -> None:
    assert is_candidate_step(step(ttc()), "dpo_candidate_move")
    assert not is_candidate_step(step(ttc()), "other_name")
    assert not is_candidate_step(
        step(ttc(), event_type=IntermediateStepType.TTC_START), "dpo_candidate_move"
    )
    assert not is_candidate_step(
        step(ttc(), event_type=IntermediateStepType.CUSTOM_END), "dpo_candidate_move"
    )


def test_exporter_example_id_comes_from_the_input_when_it_has_one() -> None:
    assert example_id_from_input({"id": 7, "role": "X"}, "id") == "7"
    assert example_id_from_input('{"id": "g-1"}', "id") == "g-1"
    assert example_id_from_input(ChatMessage(role="user", content="x"), "role") == "user"
    assert example_id_from_input("X", "id") is None
    assert example_id_from_input({"id": ""}, "id") is None
    assert example_id_from_input(["id"], "id") is None
