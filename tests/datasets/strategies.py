"""Hypothesis strategies for pairs (shared by the dataset tests)."""

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


@st.composite
def pair_sets(
    draw: st.DrawFn, *, max_size: int = 40, examples: int = 8, contents: int = 30
) -> list[PairEvent]:
    """Pairs with repeated examples, repeated contents and a few policy models."""
    n = draw(st.integers(0, max_size))
    pairs = []
    for i in range(n):
        ex = draw(st.integers(0, examples - 1))
        content = draw(st.integers(0, contents - 1))
        pairs.append(
            PairEvent(
                pair_id=f"pair-{i}",
                content_hash=f"content-{content}",
                run_id="",
                example_id=f"example-{ex}",
                turn_id="t0",
                prompt=draw(PROMPT),
                chosen=f"chosen {content} " + draw(SOME_TEXT),
                rejected=f"rejected {content}",
                chosen_score=1.0,
                rejected_score=0.0,
                score_diff=1.0,
                reward=1.0,
                chosen_index=0,
                rejected_index=1,
                policy_model=draw(st.sampled_from(["policy-a", "policy-b", None])),
            )
        )
    return pairs
