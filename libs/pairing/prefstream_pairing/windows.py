"""Open windows and the commit position they allow, as pure bookkeeping (time is passed in).

A window is one ``(run_id, example_id, turn_id)``. Each partition keeps a clock: the
largest record timestamp seen on it, so a replay of the same records closes the same
windows at the same points. Only when a partition has received nothing for a whole
inactivity gap of wall time does its clock jump to the wall clock, which closes the tail
of a stream that "sends one burst and then nothing".

The clock never moves back, so one record stamped far in the future would hold every
window of its partition open until the wall clock caught up. A record stamped more than
``max_clock_skew_s`` ahead of the wall clock (when it is observed) therefore counts as
stamped *now*: the skew a record can push the clock is bounded, and so is the stall.

The safe commit offset of a partition is the first offset of its oldest open window, or
the next offset to read when none is open: a restart replays every open window whole.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from prefstream_pairing.candidate import Candidate

WindowKey = tuple[str, str, str]
"""(run_id, example_id, turn_id)"""

NUM_CANDIDATES = "num_candidates"
INACTIVITY = "inactivity"
MAX_AGE = "max_age"


@dataclass(slots=True, eq=False)
class Window:
    key: WindowKey
    home: int
    first_ts: int
    last_ts: int
    first_offsets: dict[int, int]
    last_offset: int
    expected: int | None = None
    candidates: dict[int, Candidate] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.expected is not None and len(self.candidates) >= self.expected


@dataclass(slots=True, eq=False)
class _Partition:
    next_offset: int | None = None
    clock_ms: int = 0
    last_arrival: float = 0.0
    by_first: OrderedDict[WindowKey, Window] = field(default_factory=OrderedDict)
    by_activity: OrderedDict[WindowKey, Window] = field(default_factory=OrderedDict)


class WindowSet:
    """All open windows of the partitions this process owns."""

    def __init__(
        self, inactivity_gap_s: float, max_age_s: float, max_clock_skew_s: float | None = None
    ) -> None:
        self.gap_ms = int(inactivity_gap_s * 1000)
        self.max_age_ms = int(max_age_s * 1000)
        self.gap_s = inactivity_gap_s
        self.skew_ms = None if max_clock_skew_s is None else int(max_clock_skew_s * 1000)
        self.skewed = 0
        """Records whose timestamp was beyond the skew bound (counted as the wall clock)."""
        self.open: dict[WindowKey, Window] = {}
        self._parts: dict[int, _Partition] = {}

    def __len__(self) -> int:
        return len(self.open)

    def observe(
        self, partition: int, offset: int, ts_ms: int, now_mono: float, now_ms: int | None = None
    ) -> None:
        """Every consumed record moves its partition forward, valid or not.

        ``now_ms`` (the wall clock) bounds the skew: a timestamp more than the bound
        ahead of it counts as ``now_ms``."""
        p = self._parts.get(partition)
        if p is None:
            p = self._parts[partition] = _Partition()
        p.next_offset = offset + 1
        if ts_ms > p.clock_ms:
            skew = self.skew_ms
            if skew is not None and now_ms is not None and ts_ms - now_ms > skew:
                self.skewed += 1
                ts_ms = now_ms
            if ts_ms > p.clock_ms:
                p.clock_ms = ts_ms
        p.last_arrival = now_mono

    def get(self, key: WindowKey) -> Window | None:
        return self.open.get(key)

    def open_window(self, key: WindowKey, partition: int, offset: int) -> Window:
        p = self._parts[partition]
        w = Window(key, partition, p.clock_ms, p.clock_ms, {partition: offset}, offset)
        self.open[key] = w
        p.by_first[key] = w
        p.by_activity[key] = w
        return w

    def add(
        self,
        window: Window,
        candidate: Candidate,
        partition: int,
        offset: int,
        expected: int | None,
    ) -> bool:
        """Add a candidate; ``False`` if its index is already in the window (a replay)."""
        if candidate.candidate_index in window.candidates:
            return False
        window.candidates[candidate.candidate_index] = candidate
        if window.expected is None and expected is not None:
            window.expected = expected
        window.last_offset = max(window.last_offset, offset)
        p = self._parts[partition]
        if partition not in window.first_offsets:
            # A window spread over partitions (records not keyed by example_id) still
            # holds back the commit of every partition it has records on.
            window.first_offsets[partition] = offset
            p.by_first[window.key] = window
        window.last_ts = p.clock_ms
        if partition == window.home:
            p.by_activity.move_to_end(window.key)
        return True

    def close(self, window: Window) -> None:
        self.open.pop(window.key, None)
        for part in window.first_offsets:
            p = self._parts.get(part)
            if p is not None:
                p.by_first.pop(window.key, None)
        home = self._parts.get(window.home)
        if home is not None:
            home.by_activity.pop(window.key, None)

    def expire(self, now_ms: int, now_mono: float) -> list[tuple[Window, str]]:
        """Close and return windows past their inactivity gap or maximum age."""
        out: list[tuple[Window, str]] = []
        for p in self._parts.values():
            if p.by_activity and now_mono - p.last_arrival >= self.gap_s and now_ms > p.clock_ms:
                p.clock_ms = now_ms
            clock = p.clock_ms
            while p.by_activity:
                w = next(iter(p.by_activity.values()))
                if clock - w.last_ts < self.gap_ms:
                    break
                out.append((w, self._reason(w)))
                self.close(w)
            while p.by_first:
                w = next(iter(p.by_first.values()))
                if clock - w.first_ts < self.max_age_ms:
                    break
                out.append((w, self._reason(w)))
                self.close(w)
        return out

    def _reason(self, w: Window) -> str:
        return MAX_AGE if w.first_ts + self.max_age_ms <= w.last_ts + self.gap_ms else INACTIVITY

    def commit_offsets(self, partitions: Iterable[int] | None = None) -> dict[int, int]:
        """Partition -> offset safe to commit (the next record a restart must read)."""
        out: dict[int, int] = {}
        parts = self._parts.keys() if partitions is None else partitions
        for part in parts:
            p = self._parts.get(part)
            if p is None:
                continue
            if p.by_first:
                out[part] = next(iter(p.by_first.values())).first_offsets[part]
            elif p.next_offset is not None:
                out[part] = p.next_offset
        return out

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget revoked partitions and every window with records on them."""
        dropped = 0
        for part in list(partitions):
            p = self._parts.pop(part, None)
            if p is None:
                continue
            for w in list(p.by_first.values()):
                if w.key in self.open:
                    dropped += 1
                    self.close(w)
        return dropped

    def clear(self) -> None:
        self.open.clear()
        self._parts.clear()
