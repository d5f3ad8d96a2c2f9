"""Dedup, seeded sampling and the example-hash split."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_datasets import (
    Side,
    bucket64,
    choose_rule,
    deduplicate,
    fraction_threshold,
    sample,
    sample_key,
    split,
    summarize,
)
from prefstream_events import PairEvent
from prefstream_testing.strategies import pair_sets

FRACTIONS = st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9])


def _ids(pairs: list[PairEvent]) -> list[str]:
    return [p.pair_id for p in pairs]


@given(pairs=pair_sets())
def test_dedup_keeps_the_first_of_each_content(pairs: list[PairEvent]) -> None:
    unique = list(deduplicate(pairs))
    assert len({p.content_hash for p in unique}) == len(unique)
    assert {p.content_hash for p in unique} == {p.content_hash for p in pairs}
    for p in unique:
        assert p is next(q for q in pairs if q.content_hash == p.content_hash)


@settings(deadline=None)
@given(pairs=pair_sets(), k=st.integers(1, 50), seed=st.integers(0, 3))
def test_sample_is_a_seeded_order_free_subset(pairs: list[PairEvent], k: int, seed: int) -> None:
    chosen = sample(pairs, k, seed)
    assert len(chosen) == min(k, len(pairs))
    positions = [pairs.index(p) for p in chosen]
    assert positions == sorted(positions), "the sample keeps input order"
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    assert set(_ids(sample(shuffled, k, seed))) == set(_ids(chosen)), "independent of order"
    # the kept pairs are exactly the k smallest keys
    keys = sorted((sample_key(seed, p.pair_id), p.pair_id) for p in pairs)
    assert set(_ids(chosen)) == {pid for _, pid in keys[:k]}


def test_sample_without_cap_keeps_everything() -> None:
    assert sample([1, 2, 3], None, 0) == [1, 2, 3]  # type: ignore[type-var]


def test_different_seeds_pick_different_samples() -> None:
    pairs = [_pair(i) for i in range(200)]
    assert set(_ids(sample(pairs, 50, 1))) != set(_ids(sample(pairs, 50, 2)))


@settings(deadline=None, max_examples=200)
@given(pairs=pair_sets(max_size=40, examples=6), fraction=FRACTIONS)
def test_split_never_puts_an_example_on_both_sides(pairs: list[PairEvent], fraction: float) -> None:
    rule, training, validation = split(pairs, fraction, lambda p: p.example_id, lambda p: p.pair_id)
    examples = {p.example_id for p in pairs}
    if len(examples) > 1 or rule.level == "example":
        assert not ({p.example_id for p in training} & {p.example_id for p in validation})
        assert len(training) + len(validation) == len(pairs)
    if fraction == 0.0:
        assert validation == []
        assert training == pairs
    elif len(pairs) >= 2:
        assert training, "both files get rows when there are two pairs"
        assert validation, "both files get rows when there are two pairs"
    elif len(pairs) == 1:
        assert training == validation == pairs, "a lone pair is duplicated, as NAT does"
    if rule.level == "pair":
        assert len(examples) == 1
        assert not (set(_ids(training)) & set(_ids(validation))), "no pair on both sides"
    # the rule is a function of example ids only: sides by hash unless a fallback moved one
    threshold = fraction_threshold(fraction)
    if rule.level == "example" and rule.fallback is None:
        for p in validation:
            assert bucket64(p.example_id) < threshold
        for p in training:
            assert bucket64(p.example_id) >= threshold


@settings(deadline=None)
@given(first=pair_sets(examples=30), second=pair_sets(examples=30))
def test_split_is_stable_across_cuts(first: list[PairEvent], second: list[PairEvent]) -> None:
    """An example hashed to a side stays there in every later dataset (fallbacks aside)."""
    sides: dict[str, Side] = {}
    for pairs in (first, second):
        rule, training, validation = split(pairs, 0.2, lambda p: p.example_id, lambda p: p.pair_id)
        if rule.fallback is not None:
            continue
        for side, items in ((Side.TRAINING, training), (Side.VALIDATION, validation)):
            for p in items:
                assert sides.setdefault(p.example_id, side) is side


def test_fallback_moves_the_closest_example() -> None:
    # pick two examples that both hash into training at 20 %
    threshold = fraction_threshold(0.2)
    exs = [f"ex{i}" for i in range(100) if bucket64(f"ex{i}") >= threshold][:2]
    pairs = [_pair(i, example=exs[i % 2]) for i in range(6)]
    rule, training, validation = split(pairs, 0.2, lambda p: p.example_id, lambda p: p.pair_id)
    lowest = min(exs, key=lambda e: (bucket64(e), e))
    assert rule.to_validation == lowest
    assert rule.fallback
    assert {p.example_id for p in validation} == {lowest}
    assert {p.example_id for p in training} == set(exs) - {lowest}


def test_summary_and_rule_are_deterministic() -> None:
    items = [(f"ex{i % 5}", f"p{i}") for i in range(40)]
    assert summarize(items, 0.2) == summarize(list(reversed(items)), 0.2)
    assert choose_rule(summarize(items, 0.2), 0.2) == choose_rule(summarize(items, 0.2), 0.2)


def _pair(i: int, *, example: str | None = None) -> PairEvent:
    return PairEvent(
        pair_id=f"p{i}",
        content_hash=f"c{i}",
        run_id="",
        example_id=example or f"ex{i}",
        turn_id="t",
        prompt="q",
        chosen="a",
        rejected="b",
        chosen_score=1,
        rejected_score=0,
        score_diff=1,
        reward=1,
        chosen_index=0,
        rejected_index=1,
    )
