"""An EvaluationEvent's fields, as tests of the event and of its readers build it."""

from __future__ import annotations

from typing import Any

OPPONENTS: list[dict[str, Any]] = [
    {"opponent": "random", "games": 500, "wins": 410, "draws": 50, "losses": 40},
    {
        "opponent": "minimax",
        "games": 200,
        "wins": 0,
        "draws": 150,
        "losses": 50,
        "illegal_moves": 3,
    },
]


def evaluation_fields(**overrides: Any) -> dict[str, Any]:
    """A first model's evaluation (no baseline), promoted; ``overrides`` replace fields."""
    fields: dict[str, Any] = {
        "model": "ns/ttt-1-dpo",
        "baseline_model": None,
        "opponents": [dict(o) for o in OPPONENTS],
        "score": 0.71,
        "score_stderr": 0.012,
        "promoted": True,
        "reason": "no model promoted yet",
        "seed": 7,
    }
    fields.update(overrides)
    return fields
