"""NAT plugin registration: the two ``_type``s a NAT config can name to stream candidates.

Loaded by NAT through the ``nat.components`` entry point, like any NAT plugin:

- ``eval.evaluators.<name>: {_type: prefstream_candidates}`` forwards each eval item's
  candidate steps with ``example_id = str(item.id)``, the id NAT's DPO builder uses.
  It runs when the eval's workflow pass is done (``nat eval`` and ``nat finetune``).
- ``general.telemetry.tracing.<name>: {_type: prefstream}`` forwards candidate steps live,
  from any run (``nat run``/``serve``/``eval``). A running workflow is not told which eval
  item it serves, so ``example_id`` is the input's ``example_id_key`` field when the input
  has one, else the run's ``workflow_run_id``.

Both open one Kafka producer for the builder's lifetime and flush it when NAT shuts down.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

from nat.builder.builder import Builder
from nat.builder.context import ContextState
from nat.builder.evaluator import EvaluatorInfo
from nat.cli.register_workflow import register_evaluator, register_telemetry_exporter
from nat.data_models.evaluator import EvalInput, EvaluatorBaseConfig
from nat.data_models.intermediate_step import IntermediateStep
from nat.data_models.telemetry_exporter import TelemetryExporterBaseConfig
from nat.observability.exporter.base_exporter import BaseExporter
from prefstream_config import KafkaConfig, TracingConfig
from prefstream_kafka import CandidatePublisher
from pydantic import BaseModel, Field, PositiveFloat, PositiveInt

from prefstream_nat.bridge import StepBridge
from prefstream_nat.forwarder import CandidateForwarder

log = logging.getLogger(__name__)


class _BridgeOptions(BaseModel):
    kafka: KafkaConfig = Field(
        default_factory=KafkaConfig,
        description="prefstream's kafka section (bootstrap_servers, topics.candidates, SASL/TLS).",
    )
    ttc_step_name: str = Field(
        "dpo_candidate_move", description="Forward TTC_END steps with this name, as NAT's builder."
    )
    policy_model: str | None = Field(None, description="Recorded on every candidate.")
    agent_id: str | None = Field(None, description="Recorded on every candidate.")
    max_buffer: PositiveInt = Field(10_000, description="Candidates held while Kafka is slow.")
    flush_timeout_seconds: PositiveFloat = 30.0
    tracing: TracingConfig = Field(
        default_factory=TracingConfig,
        description="prefstream's tracing section: a traceparent on every forwarded candidate.",
    )


class PrefstreamEvaluatorConfig(EvaluatorBaseConfig, _BridgeOptions, name="prefstream_candidates"):
    """Forward every eval item's candidate steps to prefstream, keyed by the item id."""

    run_id: str | None = Field(
        None, description="One play of the dataset; default: a new id per evaluation."
    )


class PrefstreamExporterConfig(TelemetryExporterBaseConfig, _BridgeOptions, name="prefstream"):
    """Forward candidate steps to prefstream as the workflow emits them."""

    example_id_key: str = Field(
        "id", description="Input field holding the example id; else the workflow_run_id is used."
    )


@asynccontextmanager
async def open_bridge(options: _BridgeOptions, source: str) -> AsyncIterator[StepBridge]:
    """A connected bridge; on exit its buffer is flushed and the producer closed."""
    async with CandidatePublisher.connect(
        options.kafka,
        tracing=options.tracing,
        source=source,
        ttc_step_name=options.ttc_step_name,
        policy_model=options.policy_model,
        agent_id=options.agent_id,
    ) as publisher:
        forwarder = CandidateForwarder(publisher, max_buffer=options.max_buffer)
        try:
            yield StepBridge(
                forwarder,
                ttc_step_name=options.ttc_step_name,
                policy_model=options.policy_model,
                agent_id=options.agent_id,
            )
        finally:
            await forwarder.aclose(options.flush_timeout_seconds)


def example_id_from_input(value: Any, key: str) -> str | None:
    """``value[key]`` for a mapping, model or JSON-object string input; else ``None``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, Mapping) and value.get(key) not in (None, ""):
        return str(value[key])
    return None


class PrefstreamExporter(BaseExporter):
    """Called by NAT for every step of every run; forwards only candidate steps."""

    def __init__(
        self, bridge: StepBridge, example_id_key: str, context_state: ContextState | None = None
    ) -> None:
        super().__init__(context_state)
        self._bridge = bridge
        self._example_id_key = example_id_key

    def export(self, event: IntermediateStep) -> None:
        if not self._bridge.matches(event):
            return
        state = self._context_state
        run_id = state.workflow_run_id.get() or ""
        example_id = (
            example_id_from_input(state.input_message.get(), self._example_id_key)
            or run_id
            or "unknown"
        )
        self._bridge.on_step(event, self._bridge.routing(example_id, run_id))


@register_telemetry_exporter(config_type=PrefstreamExporterConfig)  # type: ignore[untyped-decorator]
async def prefstream_exporter(
    config: PrefstreamExporterConfig, builder: Builder
) -> AsyncIterator[PrefstreamExporter]:
    async with open_bridge(config, "prefstream/nat-exporter") as bridge:
        yield PrefstreamExporter(bridge, config.example_id_key)


@register_evaluator(config_type=PrefstreamEvaluatorConfig)  # type: ignore[untyped-decorator]
async def prefstream_candidates_evaluator(
    config: PrefstreamEvaluatorConfig, builder: Builder
) -> AsyncIterator[EvaluatorInfo]:
    from nat.plugins.eval.data_models.evaluator_io import EvalOutput, EvalOutputItem

    async with open_bridge(config, "prefstream/nat-evaluator") as bridge:

        async def evaluate(eval_input: EvalInput) -> EvalOutput:
            """Score = candidates forwarded per item, so ``nat eval`` output shows the flow."""
            run_id = config.run_id or f"nat-eval-{uuid.uuid4().hex[:12]}"
            items = []
            for item in eval_input.eval_input_items:
                before = bridge.stats.forwarded
                routing = bridge.routing(str(item.id), run_id)
                for step in item.trajectory:
                    bridge.on_step(step, routing)
                items.append(
                    EvalOutputItem(
                        id=item.id,
                        score=bridge.stats.forwarded - before,
                        reasoning={"run_id": run_id, "example_id": routing.example_id},
                    )
                )
            if not await bridge.forwarder.flush(config.flush_timeout_seconds):
                log.warning("prefstream: candidates of %s still buffered after flush", run_id)
            log.info("prefstream: %s forwarded, stats %s", run_id, bridge.stats.as_dict())
            average = sum(i.score for i in items) / len(items) if items else 0.0
            return EvalOutput(average_score=average, eval_output_items=items)

        yield EvaluatorInfo(
            config=config,
            evaluate_fn=cast(Any, evaluate),  # NAT annotates a plain result but awaits it
            description="Streams TTC candidate steps to prefstream's candidates topic.",
        )
