"""The NAT intermediate-step subscriber: matching steps in, buffered candidates out.

:class:`StepBridge` is what every hook shares (the telemetry exporter, the evaluator, and
:func:`subscribe` for code that drives NAT itself). It is synchronous and cheap, because
NAT calls it inside ``push_intermediate_step`` on the workflow's event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from nat.builder.intermediate_step_manager import IntermediateStepManager
from nat.data_models.intermediate_step import IntermediateStep
from nat.utils.reactive.subscription import Subscription

from prefstream_nat.forwarder import CandidateForwarder
from prefstream_nat.mapping import BridgeStats, Routing, candidate_from_step, is_candidate_step


class StepBridge:
    def __init__(
        self,
        forwarder: CandidateForwarder,
        *,
        ttc_step_name: str = "dpo_candidate_move",
        policy_model: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        self.forwarder = forwarder
        self.ttc_step_name = ttc_step_name
        self.policy_model = policy_model
        self.agent_id = agent_id

    @property
    def stats(self) -> BridgeStats:
        return self.forwarder.stats

    def routing(self, example_id: str, run_id: str = "") -> Routing:
        return Routing(example_id, run_id, self.ttc_step_name, self.policy_model, self.agent_id)

    def matches(self, step: IntermediateStep) -> bool:
        return is_candidate_step(step, self.ttc_step_name)

    def on_step(self, step: IntermediateStep, routing: Routing) -> None:
        """Forward ``step`` if it is a candidate; everything else is ignored."""
        if not self.matches(step):
            return
        self.stats.steps_matched += 1
        event = candidate_from_step(step, routing, self.stats)
        if event is not None:
            self.forwarder.offer(event)


def subscribe(
    step_manager: IntermediateStepManager,
    bridge: StepBridge,
    routing: Routing | Callable[[], Routing],
) -> Subscription[IntermediateStep]:
    """Forward the current run's candidate steps; ``routing`` may be computed per step.

    Subscribes to the event stream of the context it is called in (one NAT run); call
    ``unsubscribe()`` on the result, or let the run complete.
    """

    def on_next(step: IntermediateStep) -> None:
        if bridge.matches(step):
            bridge.on_step(step, routing() if callable(routing) else routing)

    subscription: Subscription[IntermediateStep] = step_manager.subscribe(on_next)
    return subscription
