"""Row formats: the fragment templates reproduce ``json.dumps(row)`` and satisfy the schemas."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_datasets import EXPORT_FORMATS, Fragment, encode_fragments, render, row, template
from prefstream_datasets.arrow_lines import contiguous_bytes, render_lines
from prefstream_events import ChatMessage
from prefstream_testing.strategies import PROMPT, SOME_TEXT

from tests.support.dpo_rows import SCHEMAS


def _prompt(raw: Any) -> Any:
    return raw if isinstance(raw, str) else [ChatMessage(**m) for m in raw]


@settings(deadline=None)
@given(raw=PROMPT, chosen=SOME_TEXT, rejected=SOME_TEXT, full=st.booleans())
def test_render_equals_json_dumps_of_the_row(
    raw: Any, chosen: str, rejected: str, full: bool
) -> None:
    prompt = _prompt(raw)
    fragments = encode_fragments(prompt, chosen, rejected)
    for fmt in EXPORT_FORMATS:
        expected = row(fmt, prompt, chosen, rejected, full_history=full)
        line = render(template(fmt, full), fragments)
        assert line == json.dumps(expected) + "\n"
        SCHEMAS[fmt].model_validate(json.loads(line))


@settings(deadline=None)
@given(items=st.lists(st.tuples(PROMPT, SOME_TEXT, SOME_TEXT), max_size=20), full=st.booleans())
def test_vectorized_lines_equal_the_python_ones(items: list[Any], full: bool) -> None:
    fragments = [encode_fragments(_prompt(p), c, r) for p, c, r in items]
    columns = {
        f: pa.array([x.get(f) for x in fragments], pa.string())
        for f in (
            Fragment.PROMPT_TEXT,
            Fragment.PROMPT_MESSAGES,
            Fragment.CHOSEN,
            Fragment.REJECTED,
        )
    }
    for fmt in EXPORT_FORMATS:
        tpl = template(fmt, full)
        lines = render_lines(tpl, columns)
        expected = "".join(render(tpl, x) for x in fragments).encode()
        assert bytes(contiguous_bytes(lines)) == expected
        # a slice (non-zero offset) still yields exactly its own lines
        if len(items) > 2:
            part = lines.slice(1, len(items) - 2)
            assert (
                bytes(contiguous_bytes(part))
                == "".join(render(tpl, x) for x in fragments[1:-1]).encode()
            )


def test_nat_prompt_rules() -> None:
    history = [ChatMessage(role="system", content="s"), ChatMessage(role="assistant", content="a")]
    # last message's content whatever its role; an empty list is ""
    assert row("nemo", history, "c", "r")["prompt"] == "a"
    assert row("nemo", [], "c", "r")["prompt"] == ""
    assert row("nemo", "plain", "c", "r")["prompt"] == "plain"
    # full history: messages, a string becomes one user message
    assert row("nemo", history, "c", "r", full_history=True)["prompt"] == [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": "a"},
    ]
    assert row("nemo", "plain", "c", "r", full_history=True)["prompt"] == [
        {"role": "user", "content": "plain"}
    ]


def test_empty_history_is_not_an_empty_message_list() -> None:
    """Customizer rejects an empty message list, so the full-history row falls back to ""."""
    line = render(template("nemo", True), encode_fragments([], "c", "r"))
    assert json.loads(line)["prompt"] == ""
    SCHEMAS["nemo"].model_validate_json(line)


def test_extra_message_keys_are_dropped_like_nat() -> None:
    message = ChatMessage.model_validate({"role": "user", "content": "x", "name": "bob"})
    assert row("nemo", [message], "c", "r", full_history=True)["prompt"] == [
        {"role": "user", "content": "x"}
    ]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        template("csv")  # type: ignore[arg-type]


def test_nulls_are_refused() -> None:
    columns: dict[Fragment, pa.Array] = {
        f: pa.array(["1", None], pa.string()) for f in Fragment if f is not Fragment.PROMPT_HISTORY
    }
    with pytest.raises(ValueError, match="nulls"):
        render_lines(template("nemo"), columns)
