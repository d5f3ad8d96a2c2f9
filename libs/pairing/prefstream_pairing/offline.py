"""``prefstream pairs build``: the service's pairing semantics over a whole file.

Windows close exactly as the service closes them when records arrive faster than the
inactivity gap: when ``num_candidates`` distinct candidates have arrived, otherwise at the
end of the input. A candidate for a window that already closed is late and, under the
``pair`` policy, re-pairs the window with everything it holds; the output is the union of
every close's pairs, as the service's insert-or-ignore makes it.

Output order: example (first seen), window (first seen), score difference descending.
Memory holds candidates only; pairs are computed while writing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prefstream_events import InvalidEvent

from prefstream_pairing.candidate import Candidate, PromptValue
from prefstream_pairing.decode import CandidateRecord, decode_candidate
from prefstream_pairing.ids import canonical_prompt
from prefstream_pairing.options import PairingOptions
from prefstream_pairing.pair import Pair, PairingStats
from prefstream_pairing.rules import pair_window
from prefstream_pairing.windows import NUM_CANDIDATES, WindowKey

OFFLINE = "offline"
LATE = "late"


class _FileWindow:
    """``closes`` holds the sizes of the arrival-order prefixes that were paired: the first
    close, then one per late candidate under the ``pair`` policy."""

    __slots__ = ("candidates", "closes", "expected", "indices", "last_prompt", "last_prompt_key")

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []
        self.indices: set[int] = set()
        self.expected: int | None = None
        self.closes: list[int] = []
        self.last_prompt_key = b""
        self.last_prompt: PromptValue = ""


@dataclass(slots=True)
class BuildSummary:
    lines: int = 0
    valid: int = 0
    invalid: int = 0
    filtered: int = 0
    duplicates: int = 0
    late: int = 0
    late_deadlettered: int = 0
    windows: int = 0
    pairs: int = 0
    invalid_reasons: dict[str, int] = field(default_factory=dict)
    stats: PairingStats = field(default_factory=PairingStats)

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "valid": self.valid,
            "invalid": self.invalid,
            "invalid_reasons": dict(sorted(self.invalid_reasons.items())),
            "filtered": self.filtered,
            "duplicates": self.duplicates,
            "late": self.late,
            "late_deadlettered": self.late_deadlettered,
            "windows": self.windows,
            "pairs": self.pairs,
            **{k: v for k, v in self.stats.as_dict().items() if k.startswith("skipped_")},
        }


InvalidHandler = Callable[[int, InvalidEvent], None]


class LineBuilder:
    """What every builder of a file takes and keeps: the rules, how to treat invalid and
    late lines (``late_policy`` is ``pair`` or ``deadletter``), and the summary."""

    def __init__(
        self,
        options: PairingOptions,
        *,
        max_bytes: int,
        late_policy: str = "pair",
        on_invalid: InvalidHandler | None = None,
    ) -> None:
        self.options = options
        self.max_bytes = max_bytes
        self.late_policy = late_policy
        self.on_invalid = on_invalid
        self.summary = BuildSummary()
        self._lineno = 0
        self._init_state()

    def _init_state(self) -> None:
        """The builder's own state before its first line (its columns or windows)."""

    def records(self, lines: Iterable[bytes]) -> Iterator[CandidateRecord]:
        """The valid records of ``lines`` for the configured step, counted in the summary
        (blank lines are not records; invalid ones are reported with their line number)."""
        s = self.summary
        step = self.options.ttc_step_name
        max_bytes = self.max_bytes
        for raw in lines:
            self._lineno += 1
            line = raw.strip()
            if not line:
                continue
            s.lines += 1
            try:
                rec = decode_candidate(line, max_bytes=max_bytes)
            except InvalidEvent as exc:
                s.invalid += 1
                s.invalid_reasons[exc.reason] = s.invalid_reasons.get(exc.reason, 0) + 1
                if self.on_invalid is not None:
                    self.on_invalid(self._lineno, exc)
                continue
            s.valid += 1
            if rec.ttc_step_name != step:
                s.filtered += 1
                continue
            yield rec


class OfflineBuilder(LineBuilder):
    """Feed lines, then iterate :meth:`pairs`."""

    def _init_state(self) -> None:
        self._examples: dict[str, list[WindowKey]] = {}
        self._windows: dict[WindowKey, _FileWindow] = {}

    def feed(self, lines: Iterable[bytes]) -> None:
        s = self.summary
        for rec in self.records(lines):
            self._add(rec, s.valid)

    def _add(self, rec: CandidateRecord, arrival: int) -> None:
        s = self.summary
        key = (rec.run_id, rec.example_id, rec.turn_id)
        w = self._windows.get(key)
        if w is None:
            w = self._windows[key] = _FileWindow()
            self._examples.setdefault(rec.example_id, []).append(key)
        if rec.candidate_index in w.indices:
            s.duplicates += 1
            return
        closed = bool(w.closes)
        if closed and self.late_policy != "pair":
            s.late += 1
            s.late_deadlettered += 1
            return
        prompt = rec.input
        if not (type(prompt) is str and prompt == w.last_prompt):
            key_bytes = canonical_prompt(prompt)
            if key_bytes != w.last_prompt_key:
                w.last_prompt_key = key_bytes
                w.last_prompt = prompt
        # One prompt object per window: the same text is held once, not once per candidate.
        w.candidates.append(
            Candidate(
                candidate_index=rec.candidate_index,
                score=rec.score,
                output=rec.output,
                prompt=w.last_prompt,
                prompt_key=w.last_prompt_key,
                arrival=arrival,
                policy_model=rec.policy_model,
            )
        )
        w.indices.add(rec.candidate_index)
        if w.expected is None and rec.num_candidates is not None:
            w.expected = rec.num_candidates
        if closed:
            s.late += 1
            w.closes.append(len(w.candidates))
        elif w.expected is not None and len(w.candidates) >= w.expected:
            w.closes.append(len(w.candidates))

    def shares(self, n: int) -> list[list[str]]:
        """Example ids cut into ``n`` consecutive runs of about equal candidate counts, so
        the output can be produced in parts (in order) by separate processes."""
        total = sum(len(w.candidates) for w in self._windows.values())
        out: list[list[str]] = [[] for _ in range(max(1, n))]
        done = 0
        for example_id, keys in self._examples.items():
            part = min(len(out) - 1, done * len(out) // max(total, 1))
            out[part].append(example_id)
            done += sum(len(self._windows[k].candidates) for k in keys)
        return out

    def pairs(self, examples: Iterable[str] | None = None) -> Iterator[Pair]:
        """Pairs in output order (of ``examples`` only, if given); each window once, after
        the last :meth:`feed`."""
        s = self.summary
        chosen = (
            self._examples.values() if examples is None else (self._examples[e] for e in examples)
        )
        for keys in chosen:
            for key in keys:
                found = self.window_pairs(key)
                s.pairs += len(found)
                yield from found

    def window_pairs(self, key: WindowKey) -> list[Pair]:
        """Every pair of one window (forgotten afterwards), in output order."""
        s = self.summary
        opts = self.options
        w = self._windows.pop(key)
        s.windows += 1
        run_id, example_id, turn_id = key
        closes = w.closes or [len(w.candidates)]
        reason = NUM_CANDIDATES if w.closes else OFFLINE
        found = pair_window(
            run_id,
            example_id,
            turn_id,
            w.candidates[: closes[0]],
            opts,
            close_reason=reason,
            stats=s.stats,
        )
        if len(closes) > 1:
            seen = {p.pair_id for p in found}
            for size in closes[1:]:
                more = pair_window(
                    run_id,
                    example_id,
                    turn_id,
                    w.candidates[:size],
                    opts,
                    close_reason=LATE,
                    stats=PairingStats(),
                )
                for p in more:
                    if p.pair_id not in seen:
                        seen.add(p.pair_id)
                        found.append(p)
            found.sort(key=lambda p: p.score_diff, reverse=True)
        return found
