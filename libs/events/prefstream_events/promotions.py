"""The latest evaluation of every model, and which model is promoted now, folded from
EvaluationEvents in topic order (what the compacted evaluations topic keeps).

A model evaluated again replaces its earlier evaluation (same key, as compaction would),
and counts from where the new one arrived: the promoted model is the one whose latest
evaluation is the latest to say ``promoted``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstream_events.evaluation import EvaluationEvent


@dataclass
class PromotionBoard:
    evaluations: dict[str, EvaluationEvent] = field(default_factory=dict)
    """By model, in the order their latest evaluation arrived."""

    def apply(self, event: EvaluationEvent) -> bool:
        """Fold one event in; True when it is new (a replay of the same evaluation is not)."""
        current = self.evaluations.get(event.model)
        if current is not None and current.evaluation_id == event.evaluation_id:
            return False
        self.evaluations.pop(event.model, None)
        self.evaluations[event.model] = event
        return True

    def latest_promoted(self) -> EvaluationEvent | None:
        return next((e for e in reversed(self.evaluations.values()) if e.promoted), None)

    def ordered(self) -> list[EvaluationEvent]:
        return list(self.evaluations.values())
