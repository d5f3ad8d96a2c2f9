"""The promotion gate's rule, over generated evaluations."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from prefstream_demo.promotion import GatePolicy, Measured, decide

scores = st.floats(0.0, 1.0)
errors = st.floats(0.0, 0.1)


def test_the_first_model_is_promoted() -> None:
    decision = decide(Measured(model="m1", score=0.1, stderr=0.02), None, GatePolicy())
    assert decision.promoted
    assert decision.reason == "no model promoted yet"


@given(scores, errors, scores, errors, st.floats(0.5, 3.0), st.floats(0.0, 0.1))
def test_promoted_exactly_when_not_worse_beyond_the_noise(
    new: float, new_err: float, old: float, old_err: float, z: float, floor: float
) -> None:
    policy = GatePolicy(z=z, min_tolerance=floor)
    decision = decide(
        Measured(model="new", score=new, stderr=new_err),
        Measured(model="old", score=old, stderr=old_err),
        policy,
    )
    allowance = max(floor, z * math.hypot(new_err, old_err))
    assert decision.tolerance == allowance
    assert decision.promoted == (new - old >= -allowance)
    if new >= old:
        assert decision.promoted


def test_a_clear_regression_is_refused_and_says_by_how_much() -> None:
    decision = decide(
        Measured(model="new", score=0.40, stderr=0.02),
        Measured(model="old", score=0.60, stderr=0.02),
        GatePolicy(z=2.0),
    )
    assert not decision.promoted
    assert "worse beyond noise" in decision.reason
    assert "-0.200" in decision.reason


@given(scores, st.floats(0.0, 0.2), st.floats(0.0, 0.2), st.floats(0.0, 0.05))
def test_more_illegal_answers_than_allowed_are_refused_whatever_the_score(
    new: float, new_illegal: float, old_illegal: float, allowance: float
) -> None:
    decision = decide(
        Measured(model="new", score=new, stderr=0.02, illegal_rate=new_illegal),
        Measured(model="old", score=0.0, stderr=0.02, illegal_rate=old_illegal),
        GatePolicy(max_illegal_increase=allowance),
    )
    assert decision.promoted == (new_illegal <= old_illegal + allowance)
    if not decision.promoted:
        assert decision.reason.startswith("more illegal answers")
