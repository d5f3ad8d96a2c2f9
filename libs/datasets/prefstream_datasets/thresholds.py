"""When to cut: a pure function of what was consumed, in the order it was consumed.

A cut covers, per partition of the pairs topic, the offsets ``[start, end)``: ``start`` is
the previous cut's ``end`` and ``end`` is how far that partition had been consumed when the
cut was decided. Ranges, not lists of pairs, define a cut, so a cut is reproducible from
the pairs topic plus the cut's ``ends`` (which the batcher announces).

- ``min_new_pairs``: the cut is decided at the exact record that makes ``min_new_pairs``
  new unique pairs pending (``max_pairs`` lowers that size in incremental mode, so nothing
  is sampled away), so a cut's size does not depend on how records were batched.
- ``max_wait_seconds``: once the oldest pending pair has waited that long and at least
  ``min_pairs`` are pending, everything consumed so far is cut. Wall-clock based, so the
  only trigger whose boundary depends on timing.
- forced: everything consumed so far, if at least one pair is pending.

"Pending" is decided by the caller per arrival: a newly stored pair, first of its content,
from an allowed policy model; this module adds the range test (``offset >= start``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Trigger(StrEnum):
    MIN_NEW_PAIRS = "min_new_pairs"
    MAX_WAIT = "max_wait"
    FORCED = "forced"


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_new_pairs: int
    max_wait_seconds: float
    min_pairs: int
    size_cap: int | None = None
    """Incremental ``max_pairs``: a cut never holds more, and is decided at that size."""

    @property
    def cut_size(self) -> int:
        if self.size_cap is None:
            return self.min_new_pairs
        return min(self.min_new_pairs, self.size_cap)


@dataclass(frozen=True, slots=True)
class Arrival:
    """One consumed record, in consumption order."""

    partition: int
    offset: int
    new_unique: bool
    """Stored now for the first time, first of its content, allowed by the policy filter."""
    at: float
    """Wall-clock time it was consumed (seconds since the epoch)."""


@dataclass(frozen=True, slots=True)
class CutPoint:
    trigger: Trigger
    ends: Mapping[int, int]
    pending: int
    """New unique pairs the cut covers, as counted while consuming."""


@dataclass(frozen=True, slots=True)
class PlannerState:
    starts: Mapping[int, int] = field(default_factory=dict)
    """The last cut's ends: where the next cut's range begins."""
    positions: Mapping[int, int] = field(default_factory=dict)
    """Next offset to consume per partition, as far as the store has it."""
    pending: int = 0
    oldest_pending_at: float | None = None

    def ends(self) -> dict[int, int]:
        """Current consumption as a range end, never below the last cut's."""
        parts = set(self.starts) | set(self.positions)
        return {p: max(self.starts.get(p, 0), self.positions.get(p, 0)) for p in sorted(parts)}

    def after_cut(self, ends: Mapping[int, int]) -> PlannerState:
        return replace(self, starts=dict(ends), pending=0, oldest_pending_at=None)


def observe(
    state: PlannerState, arrivals: Sequence[Arrival], thresholds: Thresholds
) -> tuple[PlannerState, list[CutPoint]]:
    """Advance over ``arrivals``; returns the new state and the count cuts they decide.

    Pure: ``state`` is unchanged, so a failed store transaction simply drops the result.
    """
    positions = dict(state.positions)
    starts = dict(state.starts)
    pending = state.pending
    oldest = state.oldest_pending_at
    cuts: list[CutPoint] = []
    size = thresholds.cut_size
    for a in arrivals:
        positions[a.partition] = max(positions.get(a.partition, 0), a.offset + 1)
        if not a.new_unique or a.offset < starts.get(a.partition, 0):
            continue
        if pending == 0:
            oldest = a.at
        pending += 1
        if pending >= size:
            now = PlannerState(starts, positions, pending, oldest)
            ends = now.ends()
            cuts.append(CutPoint(Trigger.MIN_NEW_PAIRS, ends, pending))
            starts, pending, oldest = ends, 0, None
    return PlannerState(starts, positions, pending, oldest), cuts


def due(state: PlannerState, now: float, thresholds: Thresholds) -> CutPoint | None:
    """A ``max_wait`` cut if the oldest pending pair waited long enough and enough are pending."""
    if state.oldest_pending_at is None or state.pending < thresholds.min_pairs:
        return None
    if now - state.oldest_pending_at < thresholds.max_wait_seconds:
        return None
    return CutPoint(Trigger.MAX_WAIT, state.ends(), state.pending)


def forced(state: PlannerState, pending: int | None = None) -> CutPoint | None:
    """A forced cut of everything consumed; ``pending`` overrides the count (other filters)."""
    count = state.pending if pending is None else pending
    if count < 1:
        return None
    return CutPoint(Trigger.FORCED, state.ends(), count)


def seconds_until_due(state: PlannerState, now: float, thresholds: Thresholds) -> float | None:
    """How long until :func:`due` may fire; ``None`` while not enough pairs are pending."""
    if state.oldest_pending_at is None or state.pending < thresholds.min_pairs:
        return None
    return max(0.0, state.oldest_pending_at + thresholds.max_wait_seconds - now)
