"""Every pairing rule of docs/pairing.md, by example and by property (hypothesis)."""

from __future__ import annotations

import itertools
import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_pairing import Candidate, PairingOptions, PairingStats, make_candidate, pair_window

MSGS = [{"role": "user", "content": "x"}]


def cands(*scores: float, prompt: object = "p") -> list[Candidate]:
    return [
        make_candidate(candidate_index=i, score=s, output=f"out{i}", prompt=prompt)  # type: ignore[arg-type]
        for i, s in enumerate(scores)
    ]


def pairs_of(cs: list[Candidate], **opts: object) -> list[tuple[int, int]]:
    ps = pair_window("r", "e", "t", cs, PairingOptions(**opts))  # type: ignore[arg-type]
    return [(p.chosen_index, p.rejected_index) for p in ps]


def test_float_edge_matches_nat() -> None:
    # 0.9-0.7 = 0.20000000000000007 passes 0.2; 0.7-0.5 = 0.19999999999999996 does not.
    got = pairs_of(cands(0.9, 0.7, 0.5), min_score_diff=0.2)
    assert got == [(0, 2), (0, 1)]


def test_equal_scores_never_pair() -> None:
    stats = PairingStats()
    assert pair_window("r", "e", "t", cands(0.5, 0.5, 0.5), PairingOptions(), stats=stats) == []
    assert stats.skipped_equal_score == 3
    assert pairs_of(cands(0.5, 0.5), exhaustive_pairs=False) == []
    assert pairs_of(cands(0.7, 0.5, 0.5)) == [(0, 1), (0, 2)]


def test_single_candidate_counts_only_when_required() -> None:
    for required, skipped in ((True, 1), (False, 0)):
        stats = PairingStats()
        opts = PairingOptions(require_multiple_candidates=required)
        assert pair_window("r", "e", "t", cands(0.9), opts, stats=stats) == []
        assert stats.skipped_single_candidate == skipped


def test_mixed_prompts_only_pair_within_a_prompt() -> None:
    cs = [*cands(0.9, 0.1), make_candidate(candidate_index=5, score=0.5, output="o5", prompt=MSGS)]
    stats = PairingStats()
    ps = pair_window("r", "e", "t", cs, PairingOptions(), stats=stats)
    assert [(p.chosen_index, p.rejected_index) for p in ps] == [(0, 1)]
    assert stats.skipped_prompt_mismatch == 2


def test_message_list_prompt_key_order_does_not_matter() -> None:
    a = make_candidate(
        candidate_index=0, score=0.9, output="a", prompt=[{"role": "user", "content": "x"}]
    )
    b = make_candidate(
        candidate_index=1, score=0.1, output="b", prompt=[{"content": "x", "role": "user"}]
    )
    c = make_candidate(
        candidate_index=2, score=0.5, output="c", prompt="x"
    )  # a string prompt is not the same as [user: x]
    assert pairs_of([a, b, c]) == [(0, 1)]


def test_max_pairs_and_order() -> None:
    got = pairs_of(cands(0.1, 0.9, 0.5, 0.3), max_pairs_per_turn=3)
    assert got == [(1, 0), (1, 3), (1, 2)]


def test_best_vs_worst_and_reward() -> None:
    cs = cands(0.4, 0.9, 0.6)
    ps = pair_window("r", "e", "t", cs, PairingOptions(exhaustive_pairs=False))
    assert [(p.chosen_index, p.rejected_index) for p in ps] == [(1, 0)]
    assert ps[0].reward == pytest.approx(0.5)
    ps = pair_window(
        "r", "e", "t", cs, PairingOptions(exhaustive_pairs=False, reward_from_score_diff=False)
    )
    assert ps[0].reward == 0.9


def test_tie_break_is_candidate_index_not_arrival() -> None:
    a = Candidate(
        candidate_index=3, score=0.5, output="a", prompt="p", prompt_key=b'"p"', arrival=0
    )
    b = Candidate(
        candidate_index=1, score=0.5, output="b", prompt="p", prompt_key=b'"p"', arrival=1
    )
    c = Candidate(
        candidate_index=2, score=0.1, output="c", prompt="p", prompt_key=b'"p"', arrival=2
    )
    for order in itertools.permutations([a, b, c]):
        got = pairs_of(list(order), exhaustive_pairs=False)
        assert got == [(1, 2)]  # best = lowest index among the tied best; worst = c


def test_options_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="min_score_diff"):
        PairingOptions(min_score_diff=float("nan"))
    with pytest.raises(ValueError, match="max_pairs_per_turn"):
        PairingOptions(max_pairs_per_turn=0)


scores = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 2))
windows = st.lists(st.tuples(scores, st.sampled_from(["p", "q", "MSG"])), min_size=0, max_size=8)
opts = st.builds(
    PairingOptions,
    exhaustive_pairs=st.booleans(),
    min_score_diff=st.sampled_from([0.0, 0.05, 0.2, 1.0]),
    max_pairs_per_turn=st.none() | st.integers(1, 5),
    reward_from_score_diff=st.booleans(),
    require_multiple_candidates=st.booleans(),
)


def build(spec: list[tuple[float, str]]) -> list[Candidate]:
    return [
        make_candidate(
            candidate_index=i,
            score=s,
            output=f"o{i}",
            prompt=MSGS if p == "MSG" else p,
            arrival=i,
        )
        for i, (s, p) in enumerate(spec)
    ]


@settings(max_examples=300, deadline=None)
@given(windows, opts, st.randoms())
def test_arrival_order_never_changes_pairs(
    spec: list[tuple[float, str]], o: PairingOptions, rnd: random.Random
) -> None:
    cs = build(spec)
    shuffled = cs[:]
    rnd.shuffle(shuffled)
    shuffled = [msgspec.structs.replace(c, arrival=j) for j, c in enumerate(shuffled)]
    a = pair_window("r", "e", "t", cs, o)
    b = pair_window("r", "e", "t", shuffled, o)
    assert [p.pair_id for p in a] == [p.pair_id for p in b]
    assert a == b


@settings(max_examples=300, deadline=None)
@given(windows, opts)
def test_every_pair_obeys_the_rules(spec: list[tuple[float, str]], o: PairingOptions) -> None:
    cs = build(spec)
    ps = pair_window("r", "e", "t", cs, o)
    by_index = {c.candidate_index: c for c in cs}
    valid = {
        (a.candidate_index, b.candidate_index)
        for a in cs
        for b in cs
        if a.prompt_key == b.prompt_key
        and a.score > b.score
        and a.score - b.score >= o.min_score_diff
    }
    got = [(p.chosen_index, p.rejected_index) for p in ps]
    assert len(set(got)) == len(got)
    assert set(got) <= valid
    diffs = [p.score_diff for p in ps]
    assert diffs == sorted(diffs, reverse=True)
    for p in ps:
        a, b = by_index[p.chosen_index], by_index[p.rejected_index]
        assert p.score_diff == a.score - b.score
        assert p.reward == (p.score_diff if o.reward_from_score_diff else a.score)
        assert p.prompt == a.prompt
    if o.max_pairs_per_turn is not None:
        assert len(ps) <= o.max_pairs_per_turn
    if o.exhaustive_pairs and o.max_pairs_per_turn is None:
        assert set(got) == valid
    if not o.exhaustive_pairs:
        prompts = [by_index[c].prompt_key for c, _ in got]
        assert len(prompts) == len(set(prompts))  # at most one (best, worst) per prompt
