"""The agent-side SDK: publish one decision point's scored candidates in one call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from prefstream_config import KafkaConfig, TracingConfig
from prefstream_events import CandidateEvent, Prompt, ce_headers, encode
from prefstream_runtime.tracing import setup_tracing

from prefstream_kafka.factory import make_broker


class CandidatePublisher:
    """Publishes CandidateEvents keyed by ``example_id`` so a turn lands on one partition.

    Events are validated before they leave the process: an agent learns about a NaN score
    from an exception, not from the dead-letter topic.
    """

    def __init__(
        self,
        broker: KafkaBroker,
        topic: str = "prefstream.candidates.v1",
        *,
        source: str = "prefstream/agent",
        ttc_step_name: str = "dpo_candidate_move",
        policy_model: str | None = None,
        agent_id: str | None = None,
        run_id: str = "",
    ) -> None:
        self._broker = broker
        self.topic = topic
        self._source = source
        self._defaults: dict[str, Any] = {
            "ttc_step_name": ttc_step_name,
            "policy_model": policy_model,
            "agent_id": agent_id,
            "run_id": run_id,
        }

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, kafka: KafkaConfig, *, tracing: TracingConfig | None = None, **options: Any
    ) -> AsyncIterator[CandidatePublisher]:
        """Own a broker connection for the publisher's lifetime.

        With ``tracing.enabled`` each candidate is published in a span of its own (a child
        of the caller's current span, if any) whose ``traceparent`` travels in its headers;
        the spans are flushed on exit."""
        source = str(options.get("source", "prefstream/agent"))
        traced = setup_tracing(tracing or TracingConfig(), source.rsplit("/", 1)[-1])
        broker = make_broker(
            kafka, client_id=f"{kafka.client_id}-agent", middlewares=traced.middlewares
        )
        await broker.connect()
        try:
            yield cls(broker, kafka.topics.candidates, **options)
        finally:
            await broker.stop()
            traced.shutdown()

    def build_turn(
        self,
        example_id: str,
        turn_id: str,
        prompt: Prompt | Sequence[Mapping[str, Any]],
        candidates: Sequence[str],
        scores: Sequence[float],
        *,
        turn_index: int = 0,
        selected_index: int | None = None,
        metadata: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> list[CandidateEvent]:
        """The events of one turn; ``selected_index`` defaults to the best score."""
        if len(candidates) != len(scores):
            raise ValueError(f"{len(candidates)} candidates but {len(scores)} scores")
        if not candidates:
            raise ValueError("a turn needs at least one candidate")
        if selected_index is None:
            selected_index = max(range(len(scores)), key=lambda i: scores[i])
        now = datetime.now(UTC)
        events = []
        for i, (output, score) in enumerate(zip(candidates, scores, strict=True)):
            meta = metadata[i] if isinstance(metadata, Sequence) else metadata
            fields = {
                **self._defaults,
                **overrides,
                "example_id": example_id,
                "turn_id": turn_id,
                "turn_index": turn_index,
                "candidate_index": i,
                "input": prompt,
                "output": output,
                "score": score,
                "num_candidates": len(candidates),
                "is_selected": i == selected_index,
                "metadata": dict(meta or {}),
                "event_time": now,
            }
            events.append(CandidateEvent.model_validate(fields))
        return events

    async def publish(self, events: Sequence[CandidateEvent], *, wait: bool = True) -> None:
        """Send events keyed by example id; with ``wait`` return only once all are acknowledged."""
        futures = []
        for event in events:
            headers = ce_headers("CandidateEvent", self._source, subject=event.example_id)
            fut = await self._broker.publish(
                encode(event),
                topic=self.topic,
                key=event.example_id.encode(),
                headers=headers,
                no_confirm=True,
            )
            futures.append(fut)
        if wait:
            await asyncio.gather(*futures)

    async def publish_turn(
        self,
        example_id: str,
        turn_id: str,
        prompt: Prompt | Sequence[Mapping[str, Any]],
        candidates: Sequence[str],
        scores: Sequence[float],
        *,
        wait: bool = True,
        **options: Any,
    ) -> list[CandidateEvent]:
        """Build, validate and publish one turn; returns the events sent."""
        events = self.build_turn(example_id, turn_id, prompt, candidates, scores, **options)
        await self.publish(events, wait=wait)
        return events
