"""Hypothesis strategies for PairEvents: the one definition the dataset and store tests share.

Each test keeps what it draws through the parameters: the dataset tests draw rich text and
chat prompts with four roles (``PROMPT``, ``SOME_TEXT``); the batcher's store tests draw a
few short strings that stress JSON escaping (``SHORT_PROMPT``, ``SHORT_TEXT``). Tests that
need fixed pairs build them with :func:`pair_event`, the constructor the strategy draws for.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from prefstream_events import PairEvent

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
PLAIN = st.sampled_from(
    ["", "x", "hello", 'say "hi"', "back\\slash", "tab\there", "é", "日本", "\n"]
)
SOME_TEXT = st.one_of(PLAIN, TEXT)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": SOME_TEXT}
)
PROMPT: st.SearchStrategy[Any] = st.one_of(SOME_TEXT, st.lists(MESSAGE, max_size=3))

SHORT_TEXT = st.sampled_from(["", "x", 'say "hi"', "back\\slash", "é", "日本", "\n"])
SHORT_PROMPT: st.SearchStrategy[Any] = st.one_of(
    SHORT_TEXT,
    st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["system", "user"]), "content": SHORT_TEXT}),
        max_size=3,
    ),
)

POLICY_MODELS = st.sampled_from(["policy-a", "policy-b", None])


@st.composite
def pair_events(
    draw: st.DrawFn,
    index: int,
    *,
    examples: int = 8,
    contents: int = 30,
    prompts: st.SearchStrategy[Any] = PROMPT,
    texts: st.SearchStrategy[str] = SOME_TEXT,
) -> PairEvent:
    """Pair ``pair-<index>`` of one of ``examples`` examples and ``contents`` contents (a
    content is a (prompt, chosen, rejected) the test can repeat), one of two policy models
    or none."""
    example = draw(st.integers(0, examples - 1))
    content = draw(st.integers(0, contents - 1))
    prompt = draw(prompts)
    chosen = f"chosen {content} " + draw(texts)
    return pair_event(
        index,
        example=example,
        content=content,
        prompt=prompt,
        chosen=chosen,
        rejected=f"rejected {content}",
        policy_model=draw(POLICY_MODELS),
    )


def pair_event(
    index: int,
    *,
    example: int,
    content: int,
    prompt: Any,
    chosen: str,
    rejected: str,
    policy_model: str | None = None,
) -> PairEvent:
    """Pair ``pair-<index>`` of example ``example-<example>`` and content
    ``content-<content>``: what :func:`pair_events` draws, for tests that choose it."""
    return PairEvent(
        pair_id=f"pair-{index}",
        content_hash=f"content-{content}",
        run_id="",
        example_id=f"example-{example}",
        turn_id="t0",
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        chosen_score=1.0,
        rejected_score=0.0,
        score_diff=1.0,
        reward=1.0,
        chosen_index=0,
        rejected_index=1,
        policy_model=policy_model,
    )


@st.composite
def pair_sets(
    draw: st.DrawFn, *, max_size: int = 40, examples: int = 8, contents: int = 30
) -> list[PairEvent]:
    """Pairs with repeated examples, repeated contents and a few policy models."""
    n = draw(st.integers(0, max_size))
    return [draw(pair_events(i, examples=examples, contents=contents)) for i in range(n)]
