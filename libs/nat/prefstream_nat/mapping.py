"""One NAT intermediate step to one CandidateEvent, with the rules of NAT's DPO builder.

The step filter and the field rules are those of ``dpo_traj_builder`` 1.9.0
(docs/nat-bridge.md, "Mapping"), so the bridge keeps exactly the candidates NAT
would keep and gives them the same prompt and response text:

- only ``TTC_END`` steps whose name is the configured ``ttc_step_name``;
- ``data`` may be ``TTCEventData``, any ``StreamEventData`` or a dict; anything else is
  skipped; a step with no ``turn_id`` or no ``score`` is skipped (NAT skips them too);
- ``candidate_index`` and ``turn_index`` of ``None`` become 0;
- the response is ``str(output)`` when ``output`` is truthy, else ``""`` (NAT's rule, so a
  dict output becomes its Python repr); the prompt is a message list when every element
  is a ``{role, content}`` dict with string values, else ``str(input)``;
- ``is_selected`` comes from ``payload.metadata["is_selected"]``.

The one deliberate difference: a non-finite score (NAT accepts NaN and it poisons the
turn) fails CandidateEvent validation and is skipped and counted (docs/pairing.md, "The contract").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from nat.data_models.intermediate_step import (
    IntermediateStep,
    IntermediateStepType,
    StreamEventData,
    TTCEventData,
)
from prefstream_events import CandidateEvent
from pydantic import BaseModel, ValidationError


class Skip(StrEnum):
    """Why a matching step did not become a candidate (a :class:`BridgeStats` counter)."""

    UNPARSEABLE = "skipped_unparseable"
    MISSING_TURN_ID = "skipped_missing_turn_id"
    MISSING_SCORE = "skipped_missing_score"
    INVALID = "skipped_invalid"


@dataclass(slots=True)
class BridgeStats:
    """What the bridge did with the steps it saw; all counts since it started."""

    steps_matched: int = 0
    """``TTC_END`` steps with the configured name."""
    forwarded: int = 0
    """Candidates accepted into the publish buffer."""
    published: int = 0
    skipped_unparseable: int = 0
    skipped_missing_turn_id: int = 0
    skipped_missing_score: int = 0
    skipped_invalid: int = 0
    outputs_stringified: int = 0
    """Non-string outputs turned into text with NAT's ``str(output) if output else ""``."""
    dropped_buffer_full: int = 0
    dropped_publish_failed: int = 0

    def count(self, reason: Skip) -> None:
        setattr(self, reason.value, getattr(self, reason.value) + 1)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Routing:
    """Who and what a step belongs to: the ids NAT's steps do not carry themselves."""

    example_id: str
    run_id: str = ""
    ttc_step_name: str = "dpo_candidate_move"
    policy_model: str | None = None
    agent_id: str | None = None


def is_candidate_step(step: IntermediateStep, ttc_step_name: str) -> bool:
    return step.event_type == IntermediateStepType.TTC_END and step.name == ttc_step_name


def _ttc_data(data: Any) -> TTCEventData | None:
    try:
        if isinstance(data, TTCEventData):
            return data
        if isinstance(data, StreamEventData):
            return TTCEventData(**data.model_dump())
        if isinstance(data, dict):
            return TTCEventData(**data)
    except (ValidationError, TypeError):
        return None
    return None


def nat_prompt(value: Any) -> str | list[dict[str, Any]]:
    """NAT's ``_extract_prompt``, except that extra message keys are kept, not dropped."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in value
        ):
            return [dict(m) for m in value]
        return str(value)
    return str(value)


def _json_safe(value: Any) -> Any:
    """Metadata as plain JSON values (NAT metadata may hold models, tuples, numpy scalars)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.loads(json.dumps(value, default=str))


def _metadata(step: IntermediateStep) -> dict[str, Any]:
    raw = step.payload.metadata
    meta = raw.model_dump(exclude_none=True) if isinstance(raw, BaseModel) else dict(raw or {})
    safe = _json_safe(meta)
    return safe if isinstance(safe, dict) else {}


def _num_candidates(data: TTCEventData, metadata: dict[str, Any]) -> int | None:
    """Only when the workflow says so: an extra ``num_candidates`` on the data or metadata."""
    extra = data.model_extra or {}
    value = extra.get("num_candidates", metadata.get("num_candidates"))
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def candidate_from_step(
    step: IntermediateStep, routing: Routing, stats: BridgeStats
) -> CandidateEvent | None:
    """The candidate of a matching step, or ``None`` with the reason counted in ``stats``."""
    data = _ttc_data(step.payload.data)
    if data is None:
        stats.count(Skip.UNPARSEABLE)
        return None
    if data.turn_id is None:
        stats.count(Skip.MISSING_TURN_ID)
        return None
    if data.score is None:
        stats.count(Skip.MISSING_SCORE)
        return None
    if not isinstance(data.output, str):
        stats.outputs_stringified += 1
    metadata = _metadata(step)
    selected = metadata.get("is_selected")
    fields_: dict[str, Any] = {
        "example_id": routing.example_id,
        "turn_id": data.turn_id,
        "turn_index": data.turn_index or 0,
        "candidate_index": data.candidate_index or 0,
        "input": nat_prompt(data.input),
        "output": str(data.output) if data.output else "",
        "score": float(data.score),
        "run_id": routing.run_id,
        "ttc_step_name": routing.ttc_step_name,
        "num_candidates": _num_candidates(data, metadata),
        "is_selected": selected if isinstance(selected, bool) else None,
        "policy_model": routing.policy_model,
        "agent_id": routing.agent_id,
        "metadata": {**metadata, "nat_step_uuid": step.payload.UUID},
        "event_time": datetime.fromtimestamp(step.payload.event_timestamp, UTC),
    }
    try:
        return CandidateEvent.model_validate(fields_)
    except ValidationError:
        stats.count(Skip.INVALID)
        return None
