"""The columnar rules (``vector_rules.select_pairs``) equal ``rules.pair_window``, by property.

Windows are generated with ties, float edges (0.9/0.7/0.5, overflow to infinity, -0.0),
mixed prompts (strings and message lists whose key order differs) and any arrival order;
several windows of the same size go through one ``select_pairs`` call, as in
``pairs build``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_pairing import Candidate, PairingOptions, PairingStats, make_candidate, pair_window
from prefstream_pairing.vector_rules import select_pairs

PROMPTS: list[object] = [
    "p",
    "q",
    [{"role": "user", "content": "x"}],
    [{"content": "x", "role": "user"}],  # same canonical key as the one above
    [{"role": "user", "content": "y"}],
]
EDGES = [0.9, 0.7, 0.5, 0.2, 0.0, -0.0, 1e308, -1e308, 5e-324, 1.0, 0.95, 0.05]
score = st.sampled_from(EDGES) | st.floats(-10, 10, allow_nan=False).map(lambda x: round(x, 2))
candidate = st.tuples(score, st.integers(0, len(PROMPTS) - 1))
options = st.builds(
    PairingOptions,
    exhaustive_pairs=st.booleans(),
    min_score_diff=st.sampled_from([0.0, 0.05, 0.2, 1.0, 1e308]),
    max_pairs_per_turn=st.none() | st.integers(1, 5),
    reward_from_score_diff=st.booleans(),
    require_multiple_candidates=st.booleans(),
)


@st.composite
def windows(draw: st.DrawFn) -> list[list[Candidate]]:
    """1-4 windows of one size; candidate indices unique per window, in any order."""
    n = draw(st.integers(0, 7))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        specs = draw(st.lists(candidate, min_size=n, max_size=n))
        indices = draw(st.permutations(range(n + 3)))[:n]
        out.append(
            [
                make_candidate(
                    candidate_index=i,
                    score=s,
                    output=f"o{i}",
                    prompt=PROMPTS[p],  # type: ignore[arg-type]
                    arrival=j,
                )
                for j, (i, (s, p)) in enumerate(zip(indices, specs, strict=True))
            ]
        )
    return out


@settings(max_examples=500, deadline=None)
@given(windows(), options)
def test_select_pairs_equals_pair_window(ws: list[list[Candidate]], o: PairingOptions) -> None:
    expected: list[tuple[int, int, int, float]] = []
    want = PairingStats()
    for w, cs in enumerate(ws):
        for p in pair_window("r", "e", "t", cs, o, stats=want):
            expected.append((w, p.chosen_index, p.rejected_index, p.score_diff))
    n = len(ws[0])
    keys: dict[bytes, int] = {}
    scores = np.array([[c.score for c in cs] for cs in ws], np.float64).reshape(len(ws), n)
    index = np.array([[c.candidate_index for c in cs] for cs in ws], np.int64).reshape(len(ws), n)
    prompt = np.array(
        [[keys.setdefault(c.prompt_key, len(keys)) for c in cs] for cs in ws], np.int64
    ).reshape(len(ws), n)
    got_stats = PairingStats()
    sel = select_pairs(scores, index, prompt, o, got_stats)
    got = [
        (int(w), int(index[w, a]), int(index[w, b]), float(d))
        for w, a, b, d in zip(sel.window, sel.chosen, sel.rejected, sel.diff, strict=True)
    ]
    assert got == expected
    assert [str(d) for *_, d in got] == [str(d) for *_, d in expected]  # -0.0, bit for bit
    assert got_stats == want
