"""Evaluation events: how a trained model played its held-out games, and whether the
promotion gate let it replace the current model (``prefstream.evaluations.v1``, keyed by
``model``, compacted: the latest evaluation of each model is what stays)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, ConfigDict, Field, NonNegativeInt, model_validator

from prefstream_events.models import FiniteFloat, Id, OptionalId, _Event, utc_now

NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def evaluation_id(model: str, baseline_model: str | None, seed: int, games: dict[str, int]) -> str:
    """sha256 of the compact JSON ``[model, baseline_model, seed, {opponent: games}]``
    (sorted keys), hex, first 32 characters: the same evaluation run again (same model,
    baseline, seed and games) gets the same id, so a re-published one deduplicates."""
    doc = json.dumps(
        [model, baseline_model, seed, dict(sorted(games.items()))], separators=(",", ":")
    )
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


class OpponentResult(_Event):
    """The model's games against one opponent. A game lost by an illegal move counts in
    ``losses``; ``illegal_moves`` counts the illegal moves themselves."""

    opponent: Id
    games: NonNegativeInt
    wins: NonNegativeInt
    draws: NonNegativeInt
    losses: NonNegativeInt
    illegal_moves: NonNegativeInt = 0

    @model_validator(mode="after")
    def _outcomes_add_up(self) -> Self:
        if self.wins + self.draws + self.losses != self.games:
            raise ValueError(
                f"wins + draws + losses = {self.wins + self.draws + self.losses}, "
                f"not games = {self.games}"
            )
        return self


def _evaluation_id_required(schema: dict[str, Any]) -> None:
    required = schema.setdefault("required", [])
    if "evaluation_id" not in required:
        required.insert(0, "evaluation_id")


class EvaluationEvent(_Event):
    """One model's held-out evaluation and the promotion gate's verdict on it."""

    model_config = ConfigDict(json_schema_extra=_evaluation_id_required)

    evaluation_id: Id = Field(
        "",  # derived when not given (always present on the wire)
        description="sha256 of [model, baseline_model, seed, {opponent: games}] as compact "
        "JSON, hex, first 32 characters; also the CloudEvents ce_id. Deduplicate by it.",
    )
    model: Id = Field(description="The evaluated model (the deployment's output model).")
    baseline_model: OptionalId | None = Field(
        None, description="The promoted model it was compared with; None for the first."
    )
    opponents: list[OpponentResult] = Field(min_length=1)
    score: FiniteFloat = Field(description="The model's evaluation score (the gate's measure).")
    score_stderr: NonNegativeFloat = Field(description="Standard error of ``score``.")
    baseline_score: FiniteFloat | None = None
    baseline_stderr: NonNegativeFloat | None = None
    tolerance: NonNegativeFloat = Field(
        0.0, description="How far the score may trail the baseline's and still be promoted."
    )
    promoted: bool
    reason: Annotated[str, Field(max_length=4000)] = ""
    seed: int
    job_key: OptionalId | None = Field(None, description="The job that trained the model.")
    dataset_id: OptionalId | None = Field(None, description="The dataset it was trained on.")
    evaluated_at: AwareDatetime = Field(default_factory=utc_now)

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("evaluation_id"):
            return data
        try:
            games = {
                str(o["opponent"] if isinstance(o, dict) else o.opponent): int(
                    o["games"] if isinstance(o, dict) else o.games
                )
                for o in data["opponents"]
            }
            ident = evaluation_id(
                str(data["model"]),
                None if data.get("baseline_model") is None else str(data["baseline_model"]),
                int(data["seed"]),
                games,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return data  # validation names what is missing
        return {**data, "evaluation_id": ident}

    @property
    def games(self) -> int:
        return sum(o.games for o in self.opponents)

    @property
    def illegal_moves(self) -> int:
        return sum(o.illegal_moves for o in self.opponents)
