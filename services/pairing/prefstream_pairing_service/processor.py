"""What one batch of records does: decisions only, no I/O except store *reads*.

The async handler applies the returned :class:`Effects` (publish, then DuckDB commit, then
offset commit). Everything here is deterministic given the records, their timestamps and
the store's closed windows, so a replay from the committed offset decides the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
from prefstream_events import DeadLetter, InvalidEvent
from prefstream_pairing import (
    Candidate,
    CandidateRecord,
    ClosedCache,
    ClosedWindow,
    Pair,
    PairingOptions,
    PairingStats,
    Window,
    WindowSet,
    canonical_prompt,
    decode_candidate,
    pair_window,
    window_ids,
    window_key,
)
from prefstream_pairing.bloom import WindowBloom
from prefstream_pairing.windows import NUM_CANDIDATES, WindowKey
from prefstream_runtime.lifecycle import SourceRecord
from prefstream_runtime.trace_headers import record_traceparent
from prefstream_stores.pairing import (
    CandidateRow,
    Columns,
    PairingStore,
    PairRow,
    StoredCandidate,
    WindowRow,
    WindowUpdate,
    encode_indices,
    encode_pair_ids,
)

LATE = "late"
SERVICE = "prefstream-pairing"


@dataclass
class Effects:
    window_rows: Columns[WindowRow] = field(default_factory=lambda: Columns(WindowRow))
    candidate_rows: Columns[CandidateRow] = field(default_factory=lambda: Columns(CandidateRow))
    pair_rows: Columns[PairRow] = field(default_factory=lambda: Columns(PairRow))
    """The batch's rows, columnar: appended to DuckDB as one Arrow table per table."""
    updates: list[WindowUpdate] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    pair_traces: list[tuple[str | None, str | None]] = field(default_factory=list)
    """Only when tracing: per pair, the (chosen, rejected) candidates' ``traceparent``."""
    deadletters: list[DeadLetter] = field(default_factory=list)
    closed: list[tuple[str, int]] = field(default_factory=list)
    """(close reason, last record timestamp ms) per closed window, for metrics."""
    candidates: int = 0
    filtered: int = 0
    duplicates: int = 0
    late: int = 0
    paired: int = 0
    """Candidates of the windows closed here (and late ones) that are in some pair."""
    unpaired: int = 0
    """... in no pair: a single candidate, or scores closer than min_score_diff."""
    records: int = 0
    skewed: int = 0
    seq: int = 0

    def __bool__(self) -> bool:
        return bool(self.window_rows or self.updates or self.deadletters or self.pairs)


@dataclass(slots=True)
class _Late:
    window_key: int
    key: WindowKey
    candidate: Candidate
    partition: int
    offset: int
    closed: ClosedWindow


class Processor:
    def __init__(
        self,
        options: PairingOptions,
        store: PairingStore,
        *,
        inactivity_gap_s: float,
        max_age_s: float,
        late_policy: str,
        max_record_bytes: int,
        cache_size: int = 20_000,
        max_clock_skew_s: float | None = None,
        traced: bool = False,
        # A closed window found in the cache must stay there for the rest of its batch:
        # keep cache_size well above the batch size (the service uses 4x).
    ) -> None:
        self.options = options
        self.store = store
        self.windows = WindowSet(inactivity_gap_s, max_age_s, max_clock_skew_s)
        self.cache = ClosedCache(cache_size)
        self.bloom = WindowBloom()
        self.bloom.update(store.window_keys())
        self.late_policy = late_policy
        self.traced = traced
        """Keep each candidate's ``traceparent`` and fill ``Effects.pair_traces``."""
        self.max_record_bytes = max_record_bytes
        self.stats = PairingStats()
        self._last_ts: dict[WindowKey, int] = {}
        self._seq = 0
        self._pending: dict[int, tuple[int, list[Candidate]]] = {}
        """Windows closed or extended by batches not yet committed: their candidates are
        not readable from the store yet. window_key -> (batch seq, candidates)."""
        self._pending_by_seq: dict[int, list[int]] = {}
        """batch seq -> the window keys it put in ``_pending``: settling a batch visits its
        own windows, not every pending one (a scan cost ~0.5 us an event at 4 per turn)."""

    def reset(self) -> None:
        """Forget everything in memory; the caller rewinds the consumer to its commits.

        The Bloom filter is rebuilt from the store: a rolled-back close must not stay in it
        (it would only cost lookups), but windows committed since startup must."""
        self.windows.clear()
        self.cache.clear()
        self._pending.clear()
        self._pending_by_seq.clear()
        self.bloom = WindowBloom()
        self.bloom.update(self.store.window_keys())
        self._last_ts.clear()

    def drop_partitions(self, partitions: Sequence[int]) -> int:
        dropped = self.windows.drop_partitions(partitions)
        live = self.windows.open
        for key in [k for k in self._last_ts if k not in live]:
            del self._last_ts[key]
        return dropped

    # -- one batch -----------------------------------------------------------------------

    def settle(self, seq: int) -> None:
        """Batches up to ``seq`` are committed: their windows are readable from the store."""
        pending = self._pending
        for s in [s for s in self._pending_by_seq if s <= seq]:
            for k in self._pending_by_seq.pop(s):
                held = pending.get(k)
                if held is not None and held[0] <= seq:  # not taken over by a later batch
                    del pending[k]

    def _hold(self, wk: int, seq: int, cands: list[Candidate]) -> None:
        """Keep ``cands`` of window ``wk`` until batch ``seq`` is settled."""
        self._pending[wk] = (seq, cands)
        self._pending_by_seq.setdefault(seq, []).append(wk)

    def _effects(self) -> Effects:
        self._seq += 1
        return Effects(seq=self._seq)

    def process(self, records: Sequence[SourceRecord], now_ms: int, now_mono: float) -> Effects:
        fx = self._effects()
        fx.records = len(records)
        event_time = _iso(now_ms)
        now = datetime.now(UTC).replace(tzinfo=None)
        decoded: list[tuple[SourceRecord, CandidateRecord]] = []
        step = self.options.ttc_step_name
        observe = self.windows.observe
        skewed = self.windows.skewed
        for r in records:
            observe(r.partition, r.offset, r.timestamp, now_mono, now_ms)
            try:
                rec = decode_candidate(r.value or b"", max_bytes=self.max_record_bytes)
            except InvalidEvent as exc:
                fx.deadletters.append(_dead(r, exc.reason, exc.detail))
                continue
            if rec.ttc_step_name != step:
                fx.filtered += 1
                continue
            decoded.append((r, rec))
        fx.candidates = len(decoded)
        fx.skewed = self.windows.skewed - skewed

        keys: dict[WindowKey, int] = {}
        unknown: list[int] = []
        open_windows = self.windows.open
        for _, rec in decoded:
            key = (rec.run_id, rec.example_id, rec.turn_id)
            if key in open_windows or key in keys:
                continue
            wk = keys[key] = window_key(*key)
            # get() also keeps a cached window from eviction during this batch.
            if self.cache.get(wk) is None and wk in self.bloom:
                unknown.append(wk)
        if unknown:
            for wk, stored in self.store.closed_windows(unknown).items():
                self.cache.put(
                    wk,
                    ClosedWindow(
                        candidate_indices=stored.candidate_indices, pair_ids=stored.pair_ids
                    ),
                )

        lates: list[_Late] = []
        traced = self.traced
        for r, rec in decoded:
            key = (rec.run_id, rec.example_id, rec.turn_id)
            trace = record_traceparent(r) if traced else None
            w = open_windows.get(key)
            prompt = rec.input
            first = next(iter(w.candidates.values()), None) if w is not None else None
            if first is not None and type(prompt) is str and prompt == first.prompt:
                # The common case, a turn's candidates share one prompt: hold it once and
                # skip its canonical encoding (a list prompt is always encoded: equality of
                # Python values would let 1 == true pass for two different prompts).
                cand = Candidate(
                    candidate_index=rec.candidate_index,
                    score=rec.score,
                    output=rec.output,
                    prompt=first.prompt,
                    prompt_key=first.prompt_key,
                    arrival=r.offset,
                    policy_model=rec.policy_model,
                    trace=trace,
                )
            else:
                cand = Candidate(
                    candidate_index=rec.candidate_index,
                    score=rec.score,
                    output=rec.output,
                    prompt=prompt,
                    prompt_key=canonical_prompt(prompt),
                    arrival=r.offset,
                    policy_model=rec.policy_model,
                    trace=trace,
                )
            if w is None:
                known = keys.get(key)
                wk = known if known is not None else window_key(*key)
                keys[key] = wk  # a window closed earlier in this batch is looked up again
                closed = self.cache.get(wk)
                if closed is not None:
                    if rec.candidate_index in closed.candidate_indices:
                        fx.duplicates += 1
                    elif self.late_policy == "pair":
                        closed.candidate_indices.add(rec.candidate_index)
                        lates.append(
                            _Late(
                                window_key=wk,
                                key=key,
                                candidate=cand,
                                partition=r.partition,
                                offset=r.offset,
                                closed=closed,
                            )
                        )
                    else:
                        fx.late += 1
                        fx.deadletters.append(
                            _dead(r, LATE, f"window {key!r} closed before this candidate")
                        )
                    continue
                w = self.windows.open_window(key, r.partition, r.offset)
            if not self.windows.add(w, cand, r.partition, r.offset, rec.num_candidates):
                fx.duplicates += 1
                continue
            self._last_ts[key] = r.timestamp
            if w.complete:
                self.windows.close(w)
                self._close(w, NUM_CANDIDATES, fx, event_time, now)
        for w, reason in self.windows.expire(now_ms, now_mono):
            self._close(w, reason, fx, event_time, now)
        if lates:
            self._pair_lates(lates, fx, event_time)
        return fx

    def tick(self, now_ms: int, now_mono: float) -> Effects:
        """Close windows that expired while no record arrived."""
        fx = self._effects()
        event_time = _iso(now_ms)
        now = datetime.now(UTC).replace(tzinfo=None)
        for w, reason in self.windows.expire(now_ms, now_mono):
            self._close(w, reason, fx, event_time, now)
        return fx

    # -- closing -------------------------------------------------------------------------

    def _close(
        self,
        w: Window,
        reason: str,
        fx: Effects,
        event_time: str,
        now: datetime,
    ) -> None:
        run_id, example_id, turn_id = w.key
        wk, wid = window_ids(run_id, example_id, turn_id)
        cands = list(w.candidates.values())
        pairs = pair_window(
            run_id,
            example_id,
            turn_id,
            cands,
            self.options,
            close_reason=reason,
            event_time=event_time,
            stats=self.stats,
        )
        indices = [c.candidate_index for c in cands]
        pair_ids = [p.pair_id for p in pairs]
        window_prompt = cands[0].prompt_key
        n = len(cands)
        for col, value in zip(
            fx.window_rows.cols,
            (
                wk,
                wid,
                run_id,
                example_id,
                turn_id,
                w.home,
                w.first_offsets.get(w.home),
                w.last_offset,
                reason,
                now,
                n,
                encode_indices(indices),
                encode_pair_ids(pair_ids),
                window_prompt.decode(),
            ),
            strict=True,
        ):
            col.append(value)
        # Candidate rows, a column at a time (no object per row); a prompt equal to the
        # window's is stored once, in the window row.
        c_wk, c_idx, c_score, c_prompt, c_output, c_policy, c_part, c_offset, c_late = (
            fx.candidate_rows.cols
        )
        c_wk.extend([wk] * n)
        c_idx.extend(indices)
        c_score.extend([c.score for c in cands])
        c_prompt.extend(
            [None if c.prompt_key == window_prompt else c.prompt_key.decode() for c in cands]
        )
        c_output.extend([c.output for c in cands])
        c_policy.extend([c.policy_model for c in cands])
        c_part.extend([w.home] * n)
        c_offset.extend([c.arrival for c in cands])
        c_late.extend([False] * n)
        self._emit(wk, pairs, fx, now, cands)
        in_pairs = {i for p in pairs for i in (p.chosen_index, p.rejected_index)}
        paired = sum(1 for i in indices if i in in_pairs)
        fx.paired += paired
        fx.unpaired += len(indices) - paired
        self.cache.put(wk, ClosedWindow(candidate_indices=set(indices), pair_ids=set(pair_ids)))
        self.bloom.add(wk)
        self._hold(wk, fx.seq, cands)
        fx.closed.append((reason, self._last_ts.pop(w.key, 0)))

    def _emit(
        self, wk: int, pairs: list[Pair], fx: Effects, now: datetime, cands: list[Candidate]
    ) -> None:
        if not pairs:
            return
        fx.pairs.extend(pairs)
        n = len(pairs)
        (
            p_id,
            p_hash,
            p_wk,
            p_chosen,
            p_rejected,
            p_chosen_score,
            p_rejected_score,
            p_diff,
            p_reward,
            p_reason,
            p_created,
        ) = fx.pair_rows.cols
        p_id.extend([p.pair_id for p in pairs])
        p_hash.extend([p.content_hash for p in pairs])
        p_wk.extend([wk] * n)
        p_chosen.extend([p.chosen_index for p in pairs])
        p_rejected.extend([p.rejected_index for p in pairs])
        p_chosen_score.extend([p.chosen_score for p in pairs])
        p_rejected_score.extend([p.rejected_score for p in pairs])
        p_diff.extend([p.score_diff for p in pairs])
        p_reward.extend([p.reward for p in pairs])
        p_reason.extend([p.close_reason for p in pairs])
        p_created.extend([now] * n)
        if self.traced:
            # Candidates read back from the store (a late one's closed window) have no trace.
            trace = {c.candidate_index: c.trace for c in cands}
            fx.pair_traces.extend(
                (trace.get(p.chosen_index), trace.get(p.rejected_index)) for p in pairs
            )

    def _pair_lates(self, lates: list[_Late], fx: Effects, event_time: str) -> None:
        """Re-pair each late candidate with everything its window holds, one at a time, so
        the result does not depend on how records were batched."""
        held: dict[int, list[Candidate]] = {
            wk: list(cands) for wk, (_, cands) in self._pending.items()
        }
        need = {x.window_key for x in lates if x.window_key not in held}
        for wk, rows in (self.store.window_candidates(need) if need else {}).items():
            held[wk] = [_from_stored(s) for s in rows]
        updates: dict[int, WindowUpdate] = {}
        now = datetime.now(UTC).replace(tzinfo=None)
        for x in lates:
            cands = held.setdefault(x.window_key, [])
            cands.append(x.candidate)
            closed = x.closed
            run_id, example_id, turn_id = x.key
            pairs = pair_window(
                run_id,
                example_id,
                turn_id,
                cands,
                self.options,
                close_reason=LATE,
                event_time=event_time,
                stats=PairingStats(),
            )
            new = [p for p in pairs if p.pair_id not in closed.pair_ids]
            closed.pair_ids.update(p.pair_id for p in new)
            fx.late += 1
            fx.candidate_rows.append(
                _candidate_row(x.window_key, x.candidate, x.partition, late=True)
            )
            self._emit(x.window_key, new, fx, now, cands)
            mine = x.candidate.candidate_index
            if any(mine in (p.chosen_index, p.rejected_index) for p in new):
                fx.paired += 1
            else:
                fx.unpaired += 1
            self._hold(x.window_key, fx.seq, list(cands))
            updates[x.window_key] = WindowUpdate(
                window_key=x.window_key,
                candidate_indices=sorted(c.candidate_index for c in cands),
                pair_ids=sorted(closed.pair_ids),
            )
        in_batch = {k: i for i, k in enumerate(fx.window_rows.cols[0])}  # window_key column
        for wk, u in updates.items():
            i = in_batch.get(wk)
            if i is not None:  # the row is still being inserted: rewrite it in place
                fx.window_rows[i] = msgspec.structs.replace(
                    fx.window_rows[i],
                    num_candidates=len(u.candidate_indices),
                    candidate_indices=encode_indices(u.candidate_indices),
                    pair_ids=encode_pair_ids(u.pair_ids),
                )
            else:
                fx.updates.append(u)


def _iso(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _candidate_row(
    wk: int, c: Candidate, partition: int, *, late: bool, window_prompt: bytes = b""
) -> CandidateRow:
    return CandidateRow(
        window_key=wk,
        candidate_index=c.candidate_index,
        score=c.score,
        prompt=None if c.prompt_key == window_prompt else c.prompt_key.decode(),
        output=c.output,
        policy_model=c.policy_model,
        source_partition=partition,
        source_offset=c.arrival,
        late=late,
    )


def _pair_row(wk: int, p: Pair, now: datetime) -> PairRow:
    """One pair's row: the reference that :meth:`Processor._emit`'s columns must equal."""
    return PairRow(
        pair_id=p.pair_id,
        content_hash=p.content_hash,
        window_key=wk,
        chosen_index=p.chosen_index,
        rejected_index=p.rejected_index,
        chosen_score=p.chosen_score,
        rejected_score=p.rejected_score,
        score_diff=p.score_diff,
        reward=p.reward,
        close_reason=p.close_reason,
        created_at=now,
    )


def _from_stored(s: StoredCandidate) -> Candidate:
    return Candidate(
        candidate_index=s.candidate_index,
        score=s.score,
        output=s.output,
        prompt=msgspec.json.decode(s.prompt_json),
        prompt_key=s.prompt_json.encode(),
        arrival=0,
        policy_model=s.policy_model,
    )


def _dead(r: SourceRecord, reason: str, detail: str) -> DeadLetter:
    return DeadLetter.for_record(r, reason=reason, detail=detail, service=SERVICE)
