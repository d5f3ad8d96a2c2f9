"""EvaluationEvent: a deterministic id, outcomes that add up, and which model is promoted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from prefstream_events import (
    EvaluationEvent,
    InvalidEvent,
    PromotionBoard,
    ce_headers,
    decode,
    encode,
    evaluation_id,
)

from tests.support.evaluations import evaluation_fields


def evaluation(**overrides: Any) -> dict[str, Any]:
    """A second model's evaluation against the first, promoted."""
    fields = {
        "baseline_model": "ns/base",
        "baseline_score": 0.69,
        "baseline_stderr": 0.013,
        "tolerance": 0.035,
        "reason": "not worse: 0.710 vs 0.690",
        "job_key": "ds-1",
        "dataset_id": "ds-1",
        "evaluated_at": "2026-01-01T00:00:00Z",
    }
    return evaluation_fields(**{**fields, **overrides})


def test_round_trips_and_derives_its_id_from_what_was_evaluated() -> None:
    event = EvaluationEvent.model_validate(evaluation())
    assert decode(EvaluationEvent, encode(event)) == event
    assert event.evaluation_id == evaluation_id(
        "ns/ttt-1-dpo", "ns/base", 7, {"minimax": 200, "random": 500}
    )
    assert json.loads(encode(event))["evaluation_id"] == event.evaluation_id
    assert (event.games, event.illegal_moves) == (700, 3)
    # The verdict and the time do not change the id: the same evaluation published again
    # (a retry) deduplicates; another seed or baseline is another evaluation.
    again = EvaluationEvent.model_validate(
        evaluation(promoted=False, evaluated_at="2026-02-01T00:00:00Z")
    )
    assert again.evaluation_id == event.evaluation_id
    ids = {
        EvaluationEvent.model_validate(evaluation(**change)).evaluation_id
        for change in ({"seed": 8}, {"baseline_model": None}, {"model": "ns/other"})
    }
    assert len(ids | {event.evaluation_id}) == 4


def test_given_id_is_kept() -> None:
    assert EvaluationEvent.model_validate(evaluation(evaluation_id="e1")).evaluation_id == "e1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"opponents": []}, "opponents"),
        (
            {"opponents": [{"opponent": "r", "games": 10, "wins": 5, "draws": 5, "losses": 1}]},
            "opponents.0",
        ),
        ({"score": float("nan")}, "score"),
        ({"score_stderr": -0.1}, "score_stderr"),
        ({"seed": None}, "seed"),
        ({"evaluated_at": "2026-01-01T00:00:00"}, "evaluated_at"),
    ],
)
def test_rejects_by_field(change: dict[str, Any], field: str) -> None:
    raw = json.dumps(evaluation(**change)).encode()
    with pytest.raises(InvalidEvent, match=field):
        decode(EvaluationEvent, raw)


def test_missing_model_is_named_not_a_crash_in_the_id() -> None:
    data = evaluation()
    del data["model"]
    with pytest.raises(InvalidEvent, match="model"):
        decode(EvaluationEvent, json.dumps(data).encode())


def test_cloudevents_type() -> None:
    assert ce_headers("EvaluationEvent", "s")["ce_type"] == "dev.prefstream.evaluation.v1"


def at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 0, minute, tzinfo=UTC)


def verdict(model: str, promoted: bool, seed: int = 1) -> EvaluationEvent:
    return EvaluationEvent.model_validate(
        evaluation(model=model, promoted=promoted, seed=seed, evaluated_at=at(seed))
    )


def test_board_promoted_is_the_latest_to_be_promoted_in_topic_order() -> None:
    board = PromotionBoard()
    assert board.latest_promoted() is None
    assert board.apply(verdict("ns/base", True))
    assert board.apply(verdict("ns/m1", False))
    assert _promoted(board) == "ns/base"
    assert board.apply(verdict("ns/m2", True))
    assert not board.apply(verdict("ns/m2", True))  # the same evaluation again
    assert board.apply(verdict("ns/m3", False))
    assert _promoted(board) == "ns/m2"
    # m2 evaluated again (another seed) and rejected: the one promoted before it is back.
    assert board.apply(verdict("ns/m2", False, seed=2))
    assert _promoted(board) == "ns/base"
    # base evaluated again and promoted: it stays the latest, now from its new place.
    assert board.apply(verdict("ns/m4", True))
    assert board.apply(verdict("ns/base", True, seed=3))
    assert _promoted(board) == "ns/base"
    assert [e.model for e in board.ordered()] == ["ns/m1", "ns/m3", "ns/m2", "ns/m4", "ns/base"]


def _promoted(board: PromotionBoard) -> str | None:
    latest = board.latest_promoted()
    return None if latest is None else latest.model
