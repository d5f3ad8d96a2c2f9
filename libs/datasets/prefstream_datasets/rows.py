"""Dataset rows: NeMo Customizer's DPO format and the two TRL preference formats.

Rows are assembled from four JSON-encoded *fragments* of a pair (prompt as text, prompt as
a message list, chosen, rejected) by a per-format *template*. The batcher encodes the
fragments once, when a pair arrives, and at cut time only concatenates them (vectorized,
see :mod:`prefstream_datasets.arrow_lines`), so a million-row cut does no per-row JSON
work. ``render(template, fragments)`` equals ``json.dumps(row) + "\\n"`` byte for byte,
with ``json.dumps`` defaults as NAT uses them (``", "``/``": "`` separators, ASCII escapes).

Formats:

- ``nemo``: ``{"prompt", "chosen_response", "rejected_response"}``. ``prompt`` is the last
  message's content (whatever its role, as NAT does; ``""`` for an empty list), or the whole
  message list when ``use_full_message_history``; a string prompt becomes one user message
  and an empty list becomes ``""`` (Customizer rejects an empty message list; NAT sends it).
- ``trl_standard``: ``{"prompt", "chosen", "rejected"}``, all strings (prompt as above).
- ``trl_conversational``: ``{"prompt": [messages], "chosen": [assistant message],
  "rejected": [assistant message]}``.

A text prompt drops the system messages, as NAT does; with ``keep_system`` it is every
system message's content before the last message, then the last message's content, joined
by a blank line (how chat templates without a system role, Gemma's for one, fold a system
prompt into the user turn). Without system messages both rules give the same text.

Messages keep only ``role`` and ``content``, as NAT's ``OpenAIMessage`` does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from prefstream_events import ChatMessage, PairEvent, Prompt

ExportFormat = Literal["nemo", "trl_standard", "trl_conversational"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("nemo", "trl_standard", "trl_conversational")


class Fragment(StrEnum):
    PROMPT_TEXT = "prompt_text"
    PROMPT_MESSAGES = "prompt_messages"
    PROMPT_HISTORY = "prompt_history"
    """Derived, not stored: ``PROMPT_MESSAGES``, except ``""`` for an empty list."""
    PROMPT_WITH_SYSTEM = "prompt_with_system"
    """Derived, not stored: the text prompt with ``keep_system`` (from ``PROMPT_MESSAGES``)."""
    CHOSEN = "chosen"
    REJECTED = "rejected"


STORED_FRAGMENTS = (
    Fragment.PROMPT_TEXT,
    Fragment.PROMPT_MESSAGES,
    Fragment.CHOSEN,
    Fragment.REJECTED,
)
EMPTY_MESSAGES = "[]"
EMPTY_TEXT = '""'
SYSTEM_ROLE = "system"
SYSTEM_SEPARATOR = "\n\n"
"""Between the system messages' contents and the last message's in a ``keep_system`` prompt."""


def stored_source(fragment: Fragment) -> Fragment:
    """The stored fragment a (possibly derived) fragment is computed from."""
    if fragment in (Fragment.PROMPT_HISTORY, Fragment.PROMPT_WITH_SYSTEM):
        return Fragment.PROMPT_MESSAGES
    return fragment


Template = tuple[str | Fragment, ...]
"""Literal JSON text and fragments, concatenated in order; ends with a newline."""

FILES: dict[ExportFormat, tuple[str, str]] = {
    "nemo": ("training/training_file.jsonl", "validation/validation_file.jsonl"),
    "trl_standard": ("trl_standard/train.jsonl", "trl_standard/validation.jsonl"),
    "trl_conversational": ("trl_conversational/train.jsonl", "trl_conversational/validation.jsonl"),
}
"""(training, validation) paths of each format, relative to the dataset directory. The NeMo
paths are the repo paths Customizer expects."""


@dataclass(frozen=True, slots=True)
class Fragments:
    """JSON texts of one pair's parts."""

    prompt_text: str
    prompt_messages: str
    chosen: str
    rejected: str

    def get(self, fragment: Fragment) -> str:
        if fragment is Fragment.PROMPT_HISTORY:
            return EMPTY_TEXT if self.prompt_messages == EMPTY_MESSAGES else self.prompt_messages
        if fragment is Fragment.PROMPT_WITH_SYSTEM:
            # The reference for the vectorized rewrite in ``arrow_lines``: decode, join, encode.
            messages = json.loads(self.prompt_messages)
            return json.dumps(_with_system([(m["role"], m["content"]) for m in messages]))
        value: str = getattr(self, fragment.value)
        return value


def prompt_text(prompt: Prompt, keep_system: bool = False) -> str:
    """A string prompt as is; a message list as its last message's content (``""`` if empty),
    after the system messages' contents with ``keep_system``."""
    if isinstance(prompt, str):
        return prompt
    if keep_system:
        return _with_system([(m.role, m.content) for m in prompt])
    return prompt[-1].content if prompt else ""


def _with_system(messages: Sequence[tuple[str, str]]) -> str:
    """``(role, content)`` pairs to the ``keep_system`` text: the system messages before the
    last one, then the last one (a trailing system message is not repeated)."""
    if not messages:
        return ""
    system = [content for role, content in messages[:-1] if role == SYSTEM_ROLE]
    return SYSTEM_SEPARATOR.join([*system, messages[-1][1]])


def prompt_messages(prompt: Prompt) -> list[dict[str, str]]:
    """The prompt as ``[{"role", "content"}]``; a string becomes one user message."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [_message(m) for m in prompt]


def _message(m: ChatMessage) -> dict[str, str]:
    return {"role": m.role, "content": m.content}


def encode_fragments(prompt: Prompt, chosen: str, rejected: str) -> Fragments:
    return Fragments(
        prompt_text=json.dumps(prompt_text(prompt)),
        prompt_messages=json.dumps(prompt_messages(prompt)),
        chosen=json.dumps(chosen),
        rejected=json.dumps(rejected),
    )


def pair_fragments(pair: PairEvent) -> Fragments:
    return encode_fragments(pair.prompt, pair.chosen, pair.rejected)


def template(
    fmt: ExportFormat, use_full_message_history: bool = False, *, keep_system: bool = False
) -> Template:
    """The line template of ``fmt``; only ``nemo`` depends on ``use_full_message_history``,
    and only text prompts (``nemo`` without it, ``trl_standard``) on ``keep_system``."""
    text = Fragment.PROMPT_WITH_SYSTEM if keep_system else Fragment.PROMPT_TEXT
    if fmt == "nemo":
        prompt = Fragment.PROMPT_HISTORY if use_full_message_history else text
        return (
            '{"prompt": ',
            prompt,
            ', "chosen_response": ',
            Fragment.CHOSEN,
            ', "rejected_response": ',
            Fragment.REJECTED,
            "}\n",
        )
    if fmt == "trl_standard":
        return (
            '{"prompt": ',
            text,
            ', "chosen": ',
            Fragment.CHOSEN,
            ', "rejected": ',
            Fragment.REJECTED,
            "}\n",
        )
    if fmt == "trl_conversational":
        return (
            '{"prompt": ',
            Fragment.PROMPT_MESSAGES,
            ', "chosen": [{"role": "assistant", "content": ',
            Fragment.CHOSEN,
            '}], "rejected": [{"role": "assistant", "content": ',
            Fragment.REJECTED,
            "}]}\n",
        )
    raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")


def render(tpl: Template, fragments: Fragments) -> str:
    """One JSONL line (with its newline)."""
    return "".join(fragments.get(part) if isinstance(part, Fragment) else part for part in tpl)


def row(
    fmt: ExportFormat,
    prompt: Prompt,
    chosen: str,
    rejected: str,
    *,
    full_history: bool = False,
    keep_system: bool = False,
) -> dict[str, Any]:
    """The row as a dict: the reference that :func:`render` must match."""
    text = prompt_text(prompt, keep_system)
    if fmt == "nemo":
        p: Any = (prompt_messages(prompt) or "") if full_history else text
        return {"prompt": p, "chosen_response": chosen, "rejected_response": rejected}
    if fmt == "trl_standard":
        return {"prompt": text, "chosen": chosen, "rejected": rejected}
    if fmt == "trl_conversational":
        return {
            "prompt": prompt_messages(prompt),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
        }
    raise ValueError(f"unknown export format {fmt!r}; expected one of {EXPORT_FORMATS}")


def formats_to_write(configured: Sequence[ExportFormat]) -> tuple[ExportFormat, ...]:
    """``nemo`` always (DatasetReady points at its files), then the others configured."""
    return ("nemo", *(f for f in EXPORT_FORMATS if f != "nemo" and f in configured))


def fragments_used(tpl: Template) -> tuple[Fragment, ...]:
    """The stored fragments a template needs, in a stable order."""
    used = {stored_source(p) for p in tpl if isinstance(p, Fragment)}
    return tuple(f for f in STORED_FRAGMENTS if f in used)
