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


# Message lists built to confuse a regex over their JSON: roles that almost say "system",
# contents that look like the JSON around them, escapes next to quotes.
TRICKY_TEXT = st.one_of(
    SOME_TEXT,
    st.sampled_from(
        [
            '"}, {"role": "system", "content": "',
            '{"role": "system", "content": "x"}',
            '\\", ',
            "\\",
            '"}]',
            "[]",
            "\u2028\x00\x1f",
            "😀",
        ]
    ),
)
TRICKY_MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant", "System", "system ", 'sys"tem']),
        "content": TRICKY_TEXT,
    }
)
TRICKY_PROMPT: st.SearchStrategy[Any] = st.one_of(
    TRICKY_TEXT, st.lists(TRICKY_MESSAGE, max_size=5), PROMPT
)


@settings(deadline=None)
@given(raw=PROMPT, chosen=SOME_TEXT, rejected=SOME_TEXT, full=st.booleans(), keep=st.booleans())
def test_render_equals_json_dumps_of_the_row(
    raw: Any, chosen: str, rejected: str, full: bool, keep: bool
) -> None:
    prompt = _prompt(raw)
    fragments = encode_fragments(prompt, chosen, rejected)
    for fmt in EXPORT_FORMATS:
        expected = row(fmt, prompt, chosen, rejected, full_history=full, keep_system=keep)
        line = render(template(fmt, full, keep_system=keep), fragments)
        assert line == json.dumps(expected) + "\n"
        SCHEMAS[fmt].model_validate(json.loads(line))


@settings(deadline=None)
@given(
    items=st.lists(st.tuples(PROMPT, SOME_TEXT, SOME_TEXT), max_size=20),
    full=st.booleans(),
    keep=st.booleans(),
)
def test_vectorized_lines_equal_the_python_ones(items: list[Any], full: bool, keep: bool) -> None:
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
        tpl = template(fmt, full, keep_system=keep)
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


@settings(deadline=None, max_examples=300)
@given(items=st.lists(TRICKY_PROMPT, min_size=1, max_size=12))
def test_system_prompts_vectorized_equal_the_reference(items: list[Any]) -> None:
    """The regex rewrite in Arrow, the decode-join-encode in Python and ``row`` agree."""
    prompts = [_prompt(p) for p in items]
    fragments = [encode_fragments(p, "c", "r") for p in prompts]
    column = pa.array([f.prompt_messages for f in fragments], pa.string())
    tpl = template("trl_standard", keep_system=True)
    lines = render_lines(tpl, {Fragment.PROMPT_MESSAGES: column, **_constant(len(items))})
    expected = [json.dumps(row("trl_standard", p, "c", "r", keep_system=True)) for p in prompts]
    assert bytes(contiguous_bytes(lines)).decode().splitlines() == expected
    assert [render(tpl, f)[:-1] for f in fragments] == expected


@settings(deadline=None)
@given(raw=PROMPT, full=st.booleans())
def test_without_system_messages_the_option_changes_nothing(raw: Any, full: bool) -> None:
    """The default output is NAT's; keeping system messages differs only where there are
    system messages before the last message."""
    prompt = _prompt(raw)
    fragments = encode_fragments(prompt, "c", "r")
    has_system = not isinstance(prompt, str) and any(m.role == "system" for m in prompt[:-1])
    for fmt in EXPORT_FORMATS:
        same = render(template(fmt, full), fragments) == render(
            template(fmt, full, keep_system=True), fragments
        )
        assert same or (has_system and (fmt == "trl_standard" or (fmt == "nemo" and not full)))


def test_system_prompt_rendering() -> None:
    def msgs(*pairs: tuple[str, str]) -> list[ChatMessage]:
        return [ChatMessage(role=r, content=c) for r, c in pairs]

    def text(prompt: Any) -> Any:
        return row("trl_standard", prompt, "c", "r", keep_system=True)["prompt"]

    assert text(msgs(("system", "Be brief."), ("user", "Hi?"))) == "Be brief.\n\nHi?"
    two = msgs(("system", "A"), ("user", "u1"), ("assistant", "a1"), ("system", "B"), ("user", "q"))
    assert text(two) == "A\n\nB\n\nq"  # every system message, in order; other turns dropped
    assert text(msgs(("user", "u"), ("system", "last"))) == "last"  # not repeated
    assert text(msgs(("user", "q"))) == "q"
    assert text([]) == ""
    assert text("plain") == "plain"
    # default: NAT's rule, the system message is dropped
    assert row("nemo", two, "c", "r")["prompt"] == "q"
    assert row("nemo", two, "c", "r", keep_system=True)["prompt"] == "A\n\nB\n\nq"
    # the full message history and the conversational format already hold it
    full = row("nemo", two, "c", "r", full_history=True, keep_system=True)["prompt"]
    assert full[0] == {"role": "system", "content": "A"}
    assert template("trl_conversational", keep_system=True) == template("trl_conversational")


def _constant(n: int) -> dict[Fragment, pa.Array]:
    return {
        Fragment.CHOSEN: pa.array(['"c"'] * n, pa.string()),
        Fragment.REJECTED: pa.array(['"r"'] * n, pa.string()),
    }


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
