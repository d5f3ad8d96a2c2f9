"""The hot-path form of a candidate: what pairing needs, nothing more."""

from __future__ import annotations

from typing import Any

import msgspec

from prefstream_pairing.ids import canonical_prompt

PromptValue = str | list[dict[str, Any]]
"""A prompt as received: a string, or OpenAI-style messages with any extra keys kept."""


class Candidate(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One scored candidate of a window.

    ``prompt_key`` is the canonical JSON of the prompt: candidates are paired only when
    their keys are equal. ``arrival`` is the last tie-breaker after ``candidate_index``;
    within a window indices are unique, so it only matters to callers that skip dedup.
    Fields are keyword-only: a candidate is built by name, never by position.
    """

    candidate_index: int
    score: float
    output: str
    prompt: PromptValue
    prompt_key: bytes
    arrival: int = 0
    policy_model: str | None = None
    trace: str | None = None
    """The W3C ``traceparent`` its record carried (only when the service traces)."""


def make_candidate(
    *,
    candidate_index: int,
    score: float,
    output: str,
    prompt: PromptValue,
    arrival: int = 0,
    policy_model: str | None = None,
) -> Candidate:
    """A :class:`Candidate` with its ``prompt_key`` computed from ``prompt``."""
    return Candidate(
        candidate_index=candidate_index,
        score=score,
        output=output,
        prompt=prompt,
        prompt_key=canonical_prompt(prompt),
        arrival=arrival,
        policy_model=policy_model,
    )
