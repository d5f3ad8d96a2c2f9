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


# -- hostile raw bytes ------------------------------------------------------------------
# json.dumps ASCII-escapes every non-ASCII character, so it can never produce invalid
# UTF-8; these strategies splice real bytes into a real-UTF-8 encoding of a valid event.

INVALID_UTF8: list[bytes] = [
    b"\xff",
    b"\xff\xfe",
    b"\x80",  # a lone continuation byte
    b"\xc0\xaf",  # overlong "/"
    b"\xe2\x82",  # truncated 3-byte sequence
    b"\xed\xa0\x80",  # UTF-8 of a surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # 5-byte form
]
STRING_FIELDS = ["example_id", "turn_id", "output", "input", "run_id", "policy_model", "agent_id"]
NUMBER_FIELDS = ["score", "turn_index", "candidate_index", "num_candidates"]
# Tokens written as raw JSON where a number, bool or timestamp belongs: some are valid.
LAX_TOKENS: list[bytes] = [
    b"true",
    b"false",
    b"null",
    b"0",
    b"1",
    b"-1",
    b"-0",
    b"0.5",
    b"1.0",
    b"2.0",
    b"-0.0",
    b"1e2",
    b"1E0",
    b"1700000000",
    b'"0.5"',
    b'" 1e3 "',
    b'"1"',
    b'" 7 "',
    b'"NaN"',
    b'"true"',
    b'"2026-01-02T03:04:05Z"',
]
# Odd JSON string bodies and number tokens, for values a fast decoder may skip unchecked.
ESCAPES = [
    r"\ud800",
    r"\udc00",
    r"\uD83D\uDE00",
    r"\ud800\u0041",
    r"\u00e9",
    r"\x",
    "\\",
    r"\/",
    "a",
    "\t",
]
NUMBERS = [
    b"-",
    b"01",
    b"1.",
    b".5",
    b"+1",
    b"1e+",
    b"-0",
    b"1E400",
    b"-1e-400",
    b"9" * 400,
    b"0x1",
]
_SLOT = "\u2603slot\u2603"


def _utf8(ev: dict[str, Any]) -> bytes:
    """Real UTF-8 on the wire, as agents in other languages send it."""
    return json.dumps(ev, ensure_ascii=False).encode()


def invalid_utf8() -> st.SearchStrategy[bytes]:
    def invalid(b: bytes) -> bool:
        try:
            b.decode()
        except UnicodeDecodeError:
            return True
        return False

    return st.sampled_from(INVALID_UTF8) | st.binary(min_size=1, max_size=6).filter(invalid)


def nested(depth: int, shape: str) -> bytes:
    """``depth`` levels of arrays, objects or both alternating, around a scalar."""
    if shape == "array":
        return b"[" * depth + b"1" + b"]" * depth
    if shape == "object":
        return b'{"k":' * depth + b"1" + b"}" * depth
    opens = b"".join(b"[" if i % 2 else b'{"k":' for i in range(depth))
    closes = b"".join(b"]" if i % 2 else b"}" for i in reversed(range(depth)))
    return opens + b"1" + closes


depths = st.integers(1, 2000) | st.integers(190, 210)


@st.composite
def hostile_records(draw: st.DrawFn) -> bytes:
    """A valid event with real bytes spliced in: invalid UTF-8 in a value or a key, deep
    nesting, a bool, string or float where a number, index or flag belongs, or odd
    escapes and numbers where a fast decoder may skip them."""
    ev = draw(valid_events())
    kind = draw(
        st.sampled_from(["utf8_value", "utf8_key", "utf8_outside", "deep", "lax", "skipped"])
    )
    if kind == "skipped":
        body = "".join(draw(st.lists(st.sampled_from(ESCAPES), min_size=1, max_size=3)))
        token = draw(st.sampled_from([f'"{body}"'.encode(), *NUMBERS]))
        where = draw(st.sampled_from(["unknown", "key", "metadata", "message"]))
        if where == "key":
            ev[_SLOT] = 1
            return _utf8(ev).replace(_SLOT.encode(), body.encode(), 1)
        if where == "unknown":
            ev["extra"] = _SLOT
        elif where == "metadata":
            ev["metadata"] = {"m": _SLOT}
        else:
            ev["input"] = [{"role": "user", "content": "c", "x": _SLOT}]
        return _utf8(ev).replace(json.dumps(_SLOT, ensure_ascii=False).encode(), token, 1)
    if kind == "utf8_value":
        where = draw(st.sampled_from([*STRING_FIELDS, "unknown", "metadata", "message"]))
        text = draw(st.text(max_size=4)) + _SLOT + draw(st.text(max_size=4))
        if where == "unknown":
            ev["extra"] = text
        elif where == "metadata":
            ev["metadata"] = {"note": text}
        elif where == "message":
            ev["input"] = [{"role": "user", "content": text}]
        else:
            ev[where] = text
        return _utf8(ev).replace(_SLOT.encode(), draw(invalid_utf8()), 1)
    if kind == "utf8_key":
        where = draw(st.sampled_from(["unknown", "metadata", "message"]))
        if where == "unknown":
            ev[_SLOT] = draw(json_values)
        elif where == "metadata":
            ev["metadata"] = {_SLOT: 1}
        else:
            ev["input"] = [{"role": "user", "content": "c", _SLOT: "x"}]
        return _utf8(ev).replace(_SLOT.encode(), draw(invalid_utf8()), 1)
    if kind == "utf8_outside":  # between tokens, not inside any string
        raw = _utf8(ev)
        at = draw(st.sampled_from([0, 1, len(raw) - 1, len(raw)]))
        return raw[:at] + draw(invalid_utf8()) + raw[at:]
    if kind == "deep":
        where = draw(st.sampled_from(["unknown", "metadata", "message", "input", "score"]))
        value = nested(draw(depths), draw(st.sampled_from(["array", "object", "mixed"])))
        if where == "unknown":
            ev["extra"] = _SLOT
        elif where == "metadata":
            ev["metadata"] = {"m": _SLOT}
        elif where == "message":
            ev["input"] = [{"role": "user", "content": "c", "tool_calls": _SLOT}]
        else:
            ev[where] = _SLOT
        return _utf8(ev).replace(json.dumps(_SLOT, ensure_ascii=False).encode(), value, 1)
    field = draw(st.sampled_from([*NUMBER_FIELDS, "is_selected", "event_time"]))
    ev[field] = _SLOT
    token = draw(st.sampled_from(LAX_TOKENS))
    return _utf8(ev).replace(json.dumps(_SLOT, ensure_ascii=False).encode(), token, 1)
