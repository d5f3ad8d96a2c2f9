"""NAT 1.9.0's ``DPOTrajectoryBuilder`` on a JSONL file of CandidateEvents, timed in memory.

Runs in the side venv (``make bench-nat-env``), never in prefstream's: it imports only NAT
and the standard library. The events become what NAT's builder reads after ``nat eval``
(one ``EvalInputItem`` per example, a TTC_END ``IntermediateStep`` carrying
``TTCEventData`` per candidate); building them is not timed. Timed: ``finalize`` (collect,
pair, build trajectories, group: the builder call) and, inside it, the pairing call
``_generate_preference_pairs`` alone. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from nat.data_models.evaluator import EvalInputItem
from nat.data_models.intermediate_step import (
    IntermediateStep,
    IntermediateStepPayload,
    IntermediateStepType,
    TTCEventData,
)
from nat.data_models.invocation_node import InvocationNode

# Only the side venv has NAT's customizer plugin (make bench-nat-env).
from nat.plugins.customizer.dpo.config import (  # type: ignore[import-not-found]
    DPOTrajectoryBuilderConfig,
)
from nat.plugins.customizer.dpo.trajectory_builder import (  # type: ignore[import-not-found]
    DPOTrajectoryBuilder,
)


class _EvalOutput:
    """The two attributes of ``EvaluationRunOutput`` the builder reads."""

    def __init__(self, items: list[EvalInputItem]) -> None:
        self.eval_input = type("EvalInput", (), {"eval_input_items": items})()


def _items(path: str, step_name: str) -> tuple[list[EvalInputItem], int]:
    node = InvocationNode(function_name="agent", function_id="agent")
    by_example: dict[str, list[IntermediateStep]] = {}
    events = 0
    with open(path, "rb") as fh:
        for line in fh:
            ev: dict[str, Any] = json.loads(line)
            events += 1
            step = IntermediateStep(
                parent_id="root",
                function_ancestry=node,
                payload=IntermediateStepPayload(
                    event_type=IntermediateStepType.TTC_END,
                    name=ev.get("ttc_step_name", step_name),
                    data=TTCEventData(
                        turn_id=ev["turn_id"],
                        turn_index=ev["turn_index"],
                        candidate_index=ev["candidate_index"],
                        score=ev["score"],
                        input=ev["input"],
                        output=ev["output"],
                    ),
                ),
            )
            by_example.setdefault(ev["example_id"], []).append(step)
    items = [
        EvalInputItem(
            id=ex, input_obj=None, expected_output_obj=None, full_dataset_entry={}, trajectory=steps
        )
        for ex, steps in by_example.items()
    ]
    return items, events


async def _run(path: str) -> dict[str, Any]:
    config = DPOTrajectoryBuilderConfig()
    items, events = _items(path, config.ttc_step_name)
    builder = DPOTrajectoryBuilder(config)
    pairing = {"s": 0.0}
    generate = builder._generate_preference_pairs

    def timed(candidates: Any) -> Any:
        started = time.perf_counter()
        try:
            return generate(candidates)
        finally:
            pairing["s"] += time.perf_counter() - started

    builder._generate_preference_pairs = timed
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.set_result(_EvalOutput(items))
    builder.evaluation_runs["bench"] = done
    started = time.perf_counter()
    collection = await builder.finalize("bench")
    call = time.perf_counter() - started
    pairs = sum(len(group) for group in collection.trajectories)
    return {
        "peer": "nat DPOTrajectoryBuilder 1.9.0",
        "events": events,
        "pairs": pairs,
        "finalize_s": round(call, 3),
        "pairing_call_s": round(pairing["s"], 3),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_run(sys.argv[1]))))
