"""The promotion gate: a newly trained model replaces the current one only if its held-out
evaluation is not worse by more than the noise, and it breaks the rules (illegal or
unparsable answers) no more often than the current one, plus ``max_illegal_increase``.

Pure: two measured scores with their standard errors in, a decision and its reason out. The
noise allowance is ``z`` combined standard errors (two independent evaluations), never less
than ``min_tolerance``: with 500 games a win rate near 0.6 has a standard error of ~0.022,
so the default z = 2 lets through a model up to ~6 points behind, and stops a clear regression.
Illegal answers get no noise allowance by default: an agent that starts emitting moves (or
tool calls) its environment rejects has regressed, whatever it wins otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Measured:
    model: str
    score: float
    stderr: float
    illegal_rate: float = 0.0


@dataclass(frozen=True, kw_only=True)
class GatePolicy:
    z: float = 2.0
    min_tolerance: float = 0.0
    max_illegal_increase: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Decision:
    promoted: bool
    tolerance: float
    reason: str


def decide(candidate: Measured, current: Measured | None, policy: GatePolicy) -> Decision:
    if current is None:
        return Decision(promoted=True, tolerance=0.0, reason="no model promoted yet")
    noise = policy.z * math.hypot(candidate.stderr, current.stderr)
    tolerance = max(policy.min_tolerance, noise)
    delta = candidate.score - current.score
    verdict = (
        f"{candidate.score:.3f} vs {current.score:.3f} ({delta:+.3f}, tolerance {tolerance:.3f})"
    )
    if delta < -tolerance:
        reason = f"worse beyond noise: {verdict}"
        return Decision(promoted=False, tolerance=tolerance, reason=reason)
    allowed = current.illegal_rate + policy.max_illegal_increase
    if candidate.illegal_rate > allowed:
        reason = (
            f"more illegal answers: {100 * candidate.illegal_rate:.2f}% vs "
            f"{100 * current.illegal_rate:.2f}% (allowed {100 * allowed:.2f}%); score {verdict}"
        )
        return Decision(promoted=False, tolerance=tolerance, reason=reason)
    return Decision(promoted=True, tolerance=tolerance, reason=f"not worse: {verdict}")
