"""A NAT workflow that follows the DPO guide, registered with NAT's real plugin registry.

``ttc_tic_tac_toe`` plays one game per eval item. At each of its own turns it generates
candidate moves, scores them by minimax and calls :func:`ttc_move_selector`, the guide's
"TTC Move Selector" that emits one ``TTC_END`` step with ``TTCEventData`` per candidate
(``metadata={"is_selected": ...}``), preceded by the matching ``TTC_START`` as NAT's
tic-tac-toe example does: NAT's step manager drops an END whose START it never saw.
The workflow also emits steps the DPO builder must ignore (another step name, a candidate
with no score), so the bridge is tested against what NAT itself keeps.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

nat = pytest.importorskip(
    "nat.data_models.intermediate_step",
    reason="nvidia-nat-core is not installed (pip install prefstream-nat pulls it in)",
)

from nat.builder.builder import Builder  # noqa: E402
from nat.builder.context import Context  # noqa: E402
from nat.builder.function_info import FunctionInfo  # noqa: E402
from nat.cli.register_workflow import register_function  # noqa: E402
from nat.data_models.function import FunctionBaseConfig  # noqa: E402
from nat.data_models.intermediate_step import (  # noqa: E402
    IntermediateStepPayload,
    IntermediateStepType,
    TTCEventData,
)
from prefstream_demo.tictactoe import Board, build_messages, generate_candidates, score_turn  # noqa: E402

STEP_NAME = "dpo_candidate_move"


def ttc_move_selector(
    prompt: Any,
    candidates: list[str],
    scores: list[float],
    turn_id: str,
    turn_index: int,
    *,
    emit_start: bool = True,
) -> int:
    """The guide's selector: emit every candidate as a TTC_END step, return the best index."""
    step_manager = Context.get().intermediate_step_manager
    best_idx = scores.index(max(scores))
    for idx, (candidate, score) in enumerate(zip(candidates, scores, strict=True)):
        step_uuid = str(uuid.uuid4())
        if emit_start:
            step_manager.push_intermediate_step(
                IntermediateStepPayload(
                    event_type=IntermediateStepType.TTC_START,
                    name=STEP_NAME,
                    data=TTCEventData(turn_id=turn_id, turn_index=turn_index, candidate_index=idx),
                    UUID=step_uuid,
                )
            )
        step_manager.push_intermediate_step(
            IntermediateStepPayload(
                event_type=IntermediateStepType.TTC_END,
                name=STEP_NAME,
                data=TTCEventData(
                    turn_id=turn_id,
                    turn_index=turn_index,
                    candidate_index=idx,
                    input=prompt,
                    output=candidate,
                    score=score,
                ),
                metadata={"is_selected": idx == best_idx, "move_id": f"{turn_id}_move_{idx}"},
                UUID=step_uuid,
            )
        )
    return best_idx


def _noise(turn_id: str) -> None:
    """Steps NAT's DPO builder ignores or skips: another name, and a candidate with no score."""
    manager = Context.get().intermediate_step_manager
    for name, data in (
        ("other_step", TTCEventData(turn_id=turn_id, candidate_index=0, output="x", score=1.0)),
        (STEP_NAME, TTCEventData(turn_id=turn_id, candidate_index=9, output="unscored")),
    ):
        step_uuid = str(uuid.uuid4())
        for event_type in (IntermediateStepType.TTC_START, IntermediateStepType.TTC_END):
            manager.push_intermediate_step(
                IntermediateStepPayload(event_type=event_type, name=name, data=data, UUID=step_uuid)
            )


class TTCTicTacToeConfig(FunctionBaseConfig, name="ttc_tic_tac_toe"):
    candidates_per_move: int = 3
    message_history: bool = True
    """True: the prompt is the OpenAI message list; False: the user message's text."""
    emit_start: bool = True


@register_function(config_type=TTCTicTacToeConfig)  # type: ignore[untyped-decorator]
async def ttc_tic_tac_toe(config: TTCTicTacToeConfig, builder: Builder) -> AsyncIterator[Any]:
    async def play(game: str) -> str:
        """Input: JSON ``{"role": "X"|"O", "seed": int}``; plays both sides, records its own."""
        spec = json.loads(game)
        rng = random.Random(spec["seed"])
        board = Board()
        game_uuid = uuid.uuid4().hex[:8]
        turn_index = 0
        while not board.is_terminal():
            turn = score_turn(board, generate_candidates(board, config.candidates_per_move, rng))
            if board.to_move == spec["role"]:
                messages = [m.model_dump() for m in build_messages(board)]
                prompt: Any = messages if config.message_history else messages[-1]["content"]
                turn_id = f"turn_{turn_index}_{game_uuid}"
                chosen = ttc_move_selector(
                    prompt,
                    [c.text for c in turn.candidates],
                    list(turn.scores),
                    turn_id,
                    turn_index,
                    emit_start=config.emit_start,
                )
                _noise(turn_id)
                board = board.play(turn.candidates[chosen].square)
            else:
                board = turn.after
            turn_index += 1
        winner = board.winner()
        return "Draw!" if winner is None else ("Win!" if winner == spec["role"] else "Lose!")

    yield FunctionInfo.from_fn(play, description="One tic-tac-toe game with TTC candidates.")
