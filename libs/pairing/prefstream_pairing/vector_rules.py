"""The rules of :func:`prefstream_pairing.rules.pair_window` over many windows at once.

A columnar form for ``prefstream pairs build``: windows of the same size are one matrix
(a row per window), so ranking, the pair conditions and the per-window ordering are numpy
operations instead of Python per pair. It is a second spelling of the same rules, so
``tests/pairing/test_vector_rules.py`` proves it equal to ``pair_window`` on generated
windows (ties, float edges, mixed prompts, message lists); ids and JSON are not made here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from prefstream_pairing.options import PairingOptions
from prefstream_pairing.pair import PairingStats

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SelectedPairs:
    """Pairs in output order: window-major, then score difference descending (ties in
    generation order). ``window`` indexes the matrix rows; ``chosen``/``rejected`` are
    column positions in the matrices passed in."""

    window: IntArray
    chosen: IntArray
    rejected: IntArray
    diff: FloatArray


def _empty() -> SelectedPairs:
    e = np.zeros(0, np.int64)
    return SelectedPairs(e, e, e, np.zeros(0, np.float64))


def select_pairs(
    scores: FloatArray,
    index: IntArray,
    prompt: IntArray,
    options: PairingOptions,
    stats: PairingStats,
) -> SelectedPairs:
    """Pairs of ``W`` windows of ``n`` candidates each (``[W, n]`` matrices, any order).

    ``prompt`` holds a prompt-key id per candidate: equal ids mean equal canonical
    prompts. ``index`` (the candidate index) must be unique within each window, as
    deduplication guarantees; it breaks score ties in the ranking.
    """
    w, n = scores.shape
    stats.turns += w
    stats.candidates += w * n
    if w == 0:
        return _empty()
    if n < 2:
        if options.require_multiple_candidates:
            stats.skipped_single_candidate += w
        return _empty()
    # Best first: score descending, then candidate index (rules._order).
    ranked = np.lexsort((index, -scores), axis=1)
    rs = np.take_along_axis(scores, ranked, 1)
    rk = np.take_along_axis(prompt, ranked, 1)
    if options.exhaustive_pairs:
        first, second = np.triu_indices(n, 1)  # i < j, row-major: the generation order
        a = np.broadcast_to(first, (w, first.size))
        b = np.broadcast_to(second, (w, second.size))
        considered = np.ones(a.shape, bool)
        mismatch = rk[:, first] != rk[:, second]
        stats.skipped_prompt_mismatch += int(mismatch.sum())
        considered &= ~mismatch
    else:
        # Groups of equal prompt in order of first appearance; each pairs its first
        # (best) member with its last (worst), when it has two or more.
        same = rk[:, :, None] == rk[:, None, :]
        earlier = np.tri(n, n, -1, dtype=bool)  # [p, q]: q < p
        is_first = ~(same & earlier[None]).any(2)
        stats.skipped_prompt_mismatch += int(is_first.sum()) - w
        last = n - 1 - np.argmax(same[:, :, ::-1], axis=2)
        a = np.broadcast_to(np.arange(n), (w, n))
        b = last
        considered = is_first & (last > a)
    sa = np.take_along_axis(rs, a, 1)
    sb = np.take_along_axis(rs, b, 1)
    equal = considered & (sa == sb)
    stats.skipped_equal_score += int(equal.sum())
    considered &= ~equal
    with np.errstate(over="ignore", invalid="ignore"):
        diff = sa - sb  # IEEE double, as rules._consider
    too_small = considered & ((diff < options.min_score_diff) | np.isinf(diff))
    stats.skipped_score_diff += int(too_small.sum())
    considered &= ~too_small
    # Stable sort by difference, descending; what is not kept sorts last.
    key = np.where(considered, -diff, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    kept = considered.sum(1)
    if options.max_pairs_per_turn is not None:
        kept = np.minimum(kept, options.max_pairs_per_turn)
    take = np.arange(order.shape[1])[None, :] < kept[:, None]
    stats.pairs += int(kept.sum())
    rows = np.broadcast_to(np.arange(w)[:, None], order.shape)[take]
    a_rank = np.take_along_axis(a, order, 1)[take]
    b_rank = np.take_along_axis(b, order, 1)[take]
    return SelectedPairs(
        window=rows.astype(np.int64),
        chosen=ranked[rows, a_rank].astype(np.int64),
        rejected=ranked[rows, b_rank].astype(np.int64),
        diff=np.take_along_axis(diff, order, 1)[take],
    )
