"""Hypothesis strategies for CandidateEvent records: valid ones and every kind of broken one."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
ids = st.text(min_size=1, max_size=12) | st.sampled_from(["ex-1", "t-1", "a::b"])
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant"]), "content": st.text(max_size=20)},
        optional={"name": st.text(max_size=5), "tool_calls": json_values},
    ),
    max_size=3,
)


def valid_events() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "example_id": ids,
            "turn_id": ids,
            "turn_index": st.integers(0, 1000),
            "candidate_index": st.integers(0, 50),
            "input": st.text(max_size=30) | messages,
            "output": st.text(max_size=30),
            "score": st.floats(-10, 10, allow_nan=False, allow_infinity=False),
        },
        optional={
            "run_id": st.text(max_size=5),
            "num_candidates": st.integers(1, 8),
            "is_selected": st.booleans(),
            "policy_model": st.text(max_size=6) | st.none(),
            "agent_id": st.none() | st.text(max_size=5),
            "metadata": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
            "event_time": st.sampled_from(
                ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05+02:00", "2026-01-02T03:04:05"]
            ),
            "unknown_field": json_values,
        },
    )


FIELDS = [
    "example_id",
    "turn_id",
    "turn_index",
    "candidate_index",
    "input",
    "output",
    "score",
    "run_id",
    "num_candidates",
    "is_selected",
    "policy_model",
    "metadata",
    "event_time",
    "ttc_step_name",
]
BAD_VALUES: list[object] = [
    None,
    "",
    "x" * 600,
    -1,
    2**64,
    1.5,
    1.0,
    "7",
    True,
    [],
    {},
    "NaN",
    [{"role": ""}],
    [{"role": "user", "content": None}],
    [{"role": "user"}],
    "2026-01-01T00:00:00",
    1700000000,
]


@st.composite
def broken_events(draw: st.DrawFn) -> bytes:
    """A valid event with one mutation: a field dropped or set to an odd value, or a
    non-finite score written as a bare JSON token, or not JSON at all."""
    ev = draw(valid_events())
    kind = draw(st.sampled_from(["drop", "set", "nonfinite", "garbage", "truncate", "array"]))
    if kind == "drop":
        ev.pop(draw(st.sampled_from(FIELDS)), None)
    elif kind == "set":
        ev[draw(st.sampled_from(FIELDS))] = draw(st.sampled_from(BAD_VALUES) | json_values)
    elif kind == "nonfinite":
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]))
        ev["score"] = "__SCORE__"
        return json.dumps(ev).replace('"__SCORE__"', token).encode()
    elif kind == "garbage":
        return draw(st.binary(max_size=40))
    elif kind == "truncate":
        raw = json.dumps(ev).encode()
        return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    else:
        return json.dumps([ev]).encode()
    return json.dumps(ev).encode()


def encode(ev: dict[str, Any]) -> bytes:
    return json.dumps(ev).encode()
