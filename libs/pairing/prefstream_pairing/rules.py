"""Pair generation for one window: NAT's ``dpo_traj_builder`` rules, fixed (docs/pairing.md).

Differences from NAT (docs/pairing.md): equal scores never pair, only candidates with the
same prompt pair, candidates are ordered by (score desc, candidate_index, arrival) instead
of emission order, and a difference that overflows to infinity is skipped. Non-finite
scores never get here: decoding rejects them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from hashlib import sha256

from prefstream_pairing.candidate import Candidate
from prefstream_pairing.ids import ID_HEX_CHARS, window_prefix
from prefstream_pairing.options import PairingOptions
from prefstream_pairing.pair import Pair, PairingStats


def _order(c: Candidate) -> tuple[float, int, int]:
    return (-c.score, c.candidate_index, c.arrival)


def _candidate_pairs(
    ranked: list[Candidate], options: PairingOptions, stats: PairingStats
) -> list[tuple[float, Candidate, Candidate]]:
    """(diff, chosen, rejected) in generation order; ``ranked`` is best first."""
    min_diff = options.min_score_diff
    out: list[tuple[float, Candidate, Candidate]] = []
    if options.exhaustive_pairs:
        n = len(ranked)
        for i in range(n):
            a = ranked[i]
            for j in range(i + 1, n):
                b = ranked[j]
                if a.prompt_key != b.prompt_key:
                    stats.skipped_prompt_mismatch += 1
                    continue
                _consider(a, b, min_diff, stats, out)
        return out
    groups: dict[bytes, list[Candidate]] = {}
    for c in ranked:
        groups.setdefault(c.prompt_key, []).append(c)
    if len(groups) > 1:
        stats.skipped_prompt_mismatch += len(groups) - 1
    for group in groups.values():
        if len(group) >= 2:
            _consider(group[0], group[-1], min_diff, stats, out)
    return out


def _consider(
    a: Candidate,
    b: Candidate,
    min_diff: float,
    stats: PairingStats,
    out: list[tuple[float, Candidate, Candidate]],
) -> None:
    if a.score == b.score:
        stats.skipped_equal_score += 1
        return
    diff = a.score - b.score  # IEEE double, exactly as NAT: 0.9-0.7 passes 0.2, 0.7-0.5 does not
    if diff < min_diff or math.isinf(diff):
        stats.skipped_score_diff += 1
        return
    out.append((diff, a, b))


def pair_window(
    run_id: str,
    example_id: str,
    turn_id: str,
    candidates: Iterable[Candidate],
    options: PairingOptions,
    *,
    close_reason: str | None = None,
    event_time: str | None = None,
    stats: PairingStats | None = None,
) -> list[Pair]:
    """All pairs of one window, best score difference first.

    The result depends only on the set of candidates (not on their arrival order) as long
    as ``candidate_index`` is unique in the window, which callers guarantee by dedup.
    """
    st = stats if stats is not None else PairingStats()
    ranked = sorted(candidates, key=_order)
    st.turns += 1
    st.candidates += len(ranked)
    if len(ranked) < 2:
        if options.require_multiple_candidates:
            st.skipped_single_candidate += 1
        return []
    found = _candidate_pairs(ranked, options, st)
    found.sort(key=lambda t: t[0], reverse=True)  # stable: ties keep generation order
    if options.max_pairs_per_turn is not None:
        del found[options.max_pairs_per_turn :]
    if not found:
        return []
    prefix = window_prefix(run_id, example_id, turn_id)
    digests: dict[int, bytes] = {}
    prompt_digests: dict[bytes, bytes] = {}
    for _, a, b in found:
        for c in (a, b):
            if c.candidate_index not in digests:
                digests[c.candidate_index] = sha256(c.output.encode()).digest()
        if a.prompt_key not in prompt_digests:
            prompt_digests[a.prompt_key] = sha256(a.prompt_key).digest()
    reward_diff = options.reward_from_score_diff
    step = options.ttc_step_name
    pairs = [
        Pair(
            pair_id=sha256(
                b"%s,%d,%d]" % (prefix, a.candidate_index, b.candidate_index)
            ).hexdigest()[:ID_HEX_CHARS],
            content_hash=sha256(
                prompt_digests[a.prompt_key]
                + digests[a.candidate_index]
                + digests[b.candidate_index]
            ).hexdigest()[:ID_HEX_CHARS],
            run_id=run_id,
            example_id=example_id,
            turn_id=turn_id,
            prompt=a.prompt,
            chosen=a.output,
            rejected=b.output,
            chosen_score=a.score,
            rejected_score=b.score,
            score_diff=diff,
            reward=diff if reward_diff else a.score,
            chosen_index=a.candidate_index,
            rejected_index=b.candidate_index,
            ttc_step_name=step,
            policy_model=a.policy_model,
            rejected_policy_model=b.policy_model,
            close_reason=close_reason,
            event_time=event_time,
        )
        for diff, a, b in found
    ]
    st.pairs += len(pairs)
    return pairs
