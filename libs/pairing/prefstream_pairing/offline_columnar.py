"""``prefstream pairs build`` in columns: the output of :class:`OfflineBuilder`, byte for byte.

Records are decoded one by one (``decode_candidate``: the validation the service runs) into
columns; windowing, deduplication, close points and pair selection are then numpy over all
windows at once (``vector_rules``), and pair lines are assembled from fragments encoded once
per candidate or per window. Windows the columnar path does not model (a duplicate, a late
candidate, more than :data:`MAX_VECTOR` candidates) are replayed through
:class:`OfflineBuilder` itself, so the per-window rules keep one definition.

``tests/pairing/test_offline_columnar.py`` compares both builders' output bytes and
summaries on generated files.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from prefstream_pairing.decode import CandidateRecord
from prefstream_pairing.ids import ID_HEX_CHARS, canonical_prompt, window_prefix
from prefstream_pairing.offline import OFFLINE, LineBuilder, OfflineBuilder
from prefstream_pairing.vector_rules import IntArray, select_pairs
from prefstream_pairing.windows import NUM_CANDIDATES, WindowKey

MAX_VECTOR = 64
"""Windows with more candidates go through the per-window path (the matrices grow as n^2)."""

_encode = msgspec.json.encode
_HEAD_OPEN = '{"pair_id":"'
_HEAD_MID = '","content_hash":"'
_DEFAULT_STEP = "dpo_candidate_move"

_HEAD_BYTES = len(_HEAD_OPEN) + len(_HEAD_MID) + 2 * ID_HEX_CHARS
"""Every line starts with ``{"pair_id":"<32 hex>","content_hash":"<32 hex>``."""

Piece = tuple[pa.Array, "pa.Array | None"]
"""A column of the lines: fragments and, per line, which fragment (``None``: one each)."""


def _strings(values: list[bytes]) -> pa.Array:
    """A large_string array from UTF-8 bytes, built from buffers: ``pa.array``,
    ``pa.scalar`` and casts import pandas (~1 s without bytecode caches). Every text
    column here is large_string, so no cast is ever needed."""
    offsets = np.zeros(len(values) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, values), np.int64, len(values)), out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_string(),
        len(values),
        [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))],
    )


def _ints(values: npt.NDArray[np.int64]) -> pa.Array:
    """A zero-copy Arrow view of an int64 numpy array (no pandas import, see _strings)."""
    values = np.ascontiguousarray(values, np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def _floats(values: list[float]) -> list[bytes]:
    """msgspec's JSON for each float, from one call (a float's JSON has no comma)."""
    if not values:
        return []
    return _encode(values)[1:-1].split(b",")


@dataclass(slots=True)
class PairPlan:
    """The selected pairs in output order, plus the windows left to the per-window path.

    The arrays are parallel (``chosen``/``rejected`` are rows of the builder's columns);
    ``fallback`` holds (position, encoded lines) of each window the per-window path paired:
    its lines go before the vectorised pair at that position.
    """

    window: IntArray
    chosen: IntArray
    rejected: IntArray
    diff: list[float]
    fallback: list[tuple[int, bytes]]


class ColumnarBuilder(LineBuilder):
    """Feed lines (or :meth:`merge` another builder's :meth:`state`), then :meth:`plan`
    once, then write :meth:`chunks` of the plan (ranges may go to separate processes)."""

    def _init_state(self) -> None:
        self._wids: dict[WindowKey, int] = {}
        self.windows: list[WindowKey] = []
        self._pjson: dict[bytes, int] = {}
        self._prompts: list[bytes] = []  # msgspec JSON of each distinct prompt value
        self._prompt_key: list[int] = []  # its canonical key's id
        self._keys: dict[bytes, int] = {}  # sha256 of a canonical prompt -> its id
        self._key_digest = bytearray()  # 32 bytes a key
        self._w = array("q")
        self._index = array("q")
        self._score = array("d")
        self._expected = array("q")
        self._prompt = array("q")
        self._policy_ids: dict[str | None, int] = {None: 0}
        self._policy = array("q")
        self._oj = bytearray()  # JSON of each output, back to back
        self._oj_end = array("q", [0])  # where each one ends
        self._od = bytearray()  # sha256 of each output, 32 bytes a row

    # -- decoding -----------------------------------------------------------------------

    def feed(self, lines: Iterable[bytes]) -> None:
        """Decode ``lines`` into the columns (the records, counts and invalid-line reports
        of :meth:`LineBuilder.records`, as :meth:`OfflineBuilder.feed` takes them). The
        shared generator costs ~0.13 us a record against an inlined copy (3 % of the feed,
        medians of 5 at 100k records): one definition of what counts is worth that."""
        wids = self._wids
        windows = self.windows
        pjson = self._pjson
        w_col, i_col, s_col = self._w, self._index, self._score
        e_col, p_col, m_col = self._expected, self._prompt, self._policy
        oj, oj_end, od, policies = self._oj, self._oj_end, self._od, self._policy_ids
        for rec in self.records(lines):
            key = (rec.run_id, rec.example_id, rec.turn_id)
            w = wids.get(key)
            if w is None:
                w = wids[key] = len(windows)
                windows.append(key)
            inp = rec.input
            j = _encode(inp)
            p = pjson.get(j)
            if p is None:
                p = pjson[j] = len(self._prompts)
                self._prompts.append(j)
                self._prompt_key.append(self._key_id(j if type(inp) is str else inp))
            w_col.append(w)
            i_col.append(rec.candidate_index)
            s_col.append(rec.score)
            nc = rec.num_candidates
            e_col.append(0 if nc is None else nc)
            p_col.append(p)
            out = rec.output
            oj += _encode(out)
            oj_end.append(len(oj))
            od += sha256(out.encode()).digest()
            m = policies.get(rec.policy_model)
            if m is None:
                m = policies[rec.policy_model] = len(policies)
            m_col.append(m)

    def state(self) -> dict[str, Any]:
        """What :meth:`feed` built, as plain values (to send from a reading process)."""
        s = self.summary
        return {
            "lineno": self._lineno,
            "counts": (s.lines, s.valid, s.invalid, s.filtered),
            "invalid_reasons": s.invalid_reasons,
            "windows": self.windows,
            "prompts": self._prompts,
            "prompt_key": self._prompt_key,
            "key_digest": bytes(self._key_digest),
            "policies": list(self._policy_ids),
            "columns": [bytes(c) for c in self._columns()],
            "oj": bytes(self._oj),
            "oj_end": bytes(self._oj_end),
            "od": bytes(self._od),
        }

    def _columns(
        self,
    ) -> tuple[array[int], array[int], array[float], array[int], array[int], array[int]]:
        return (self._w, self._index, self._score, self._expected, self._prompt, self._policy)

    def merge(self, st: dict[str, Any]) -> None:
        """Append what another builder fed (the lines after this one's), as if fed here."""
        s = self.summary
        self._lineno += st["lineno"]
        lines, valid, invalid, filtered = st["counts"]
        s.lines += lines
        s.valid += valid
        s.invalid += invalid
        s.filtered += filtered
        for reason, n in st["invalid_reasons"].items():
            s.invalid_reasons[reason] = s.invalid_reasons.get(reason, 0) + n
        wids = self._wids
        w_map = np.empty(len(st["windows"]), np.int64)
        for i, key in enumerate(st["windows"]):
            w = wids.get(key)
            if w is None:
                w = wids[key] = len(self.windows)
                self.windows.append(key)
            w_map[i] = w
        digests = st["key_digest"]
        k_map = [
            self._key_id_of_digest(digests[i * 32 : i * 32 + 32]) for i in range(len(digests) // 32)
        ]
        p_map = np.empty(len(st["prompts"]), np.int64)
        for i, j in enumerate(st["prompts"]):
            p = self._pjson.get(j)
            if p is None:
                p = self._pjson[j] = len(self._prompts)
                self._prompts.append(j)
                self._prompt_key.append(k_map[st["prompt_key"][i]])
            p_map[i] = p
        m_map = np.empty(len(st["policies"]), np.int64)
        for i, m in enumerate(st["policies"]):
            got = self._policy_ids.get(m)
            if got is None:
                got = self._policy_ids[m] = len(self._policy_ids)
            m_map[i] = got
        w_col, i_col, s_col, e_col, p_col, m_col = st["columns"]
        self._w.frombytes(w_map[np.frombuffer(w_col, np.int64)].tobytes())
        self._index.frombytes(i_col)
        self._score.frombytes(s_col)
        self._expected.frombytes(e_col)
        self._prompt.frombytes(p_map[np.frombuffer(p_col, np.int64)].tobytes())
        self._policy.frombytes(m_map[np.frombuffer(m_col, np.int64)].tobytes())
        shift = len(self._oj)
        self._oj += st["oj"]
        self._oj_end.frombytes((np.frombuffer(st["oj_end"], np.int64)[1:] + shift).tobytes())
        self._od += st["od"]

    def _key_id_of_digest(self, digest: bytes) -> int:
        k = self._keys.get(digest)
        if k is None:
            k = self._keys[digest] = len(self._keys)
            self._key_digest += digest
        return k

    def _key_id(self, prompt: object) -> int:
        key = prompt if type(prompt) is bytes else canonical_prompt(prompt)  # type: ignore[arg-type]
        return self._key_id_of_digest(sha256(key).digest())

    # -- windows and pairs ----------------------------------------------------------------

    def plan(self) -> PairPlan:
        """Close every window as :class:`OfflineBuilder` does and select its pairs."""
        s = self.summary
        opts = self.options
        self._policy_names = list(self._policy_ids)
        nwin = len(self.windows)
        s.windows = nwin
        wcol = np.frombuffer(self._w, np.int64)
        index = np.frombuffer(self._index, np.int64)
        score = np.frombuffer(self._score, np.float64)
        expected = np.frombuffer(self._expected, np.int64)
        prompt = np.frombuffer(self._prompt, np.int64)
        pkey = np.array(self._prompt_key, np.int64)[prompt]
        count = np.bincount(wcol, minlength=nwin)
        fallback = count > MAX_VECTOR
        # A duplicate index in a window: the per-window path decides (late, dedup, policy).
        by_index = np.lexsort((index, wcol))
        same = (wcol[by_index][1:] == wcol[by_index][:-1]) & (
            index[by_index][1:] == index[by_index][:-1]
        )
        fallback[wcol[by_index][1:][same]] = True
        # Arrival order within each window; rows of window w are order[start[w]:start[w+1]].
        order = np.argsort(wcol, kind="stable")
        start = np.zeros(nwin + 1, np.int64)
        np.cumsum(count, out=start[1:])
        wo = wcol[order]
        pos = np.arange(wo.size, dtype=np.int64) - start[wo]
        # The first candidate carrying num_candidates fixes it; the window closes when it
        # holds that many (or at that candidate, if it already holds more).
        has = expected[order] > 0
        first_has_w, first_has = np.unique(wo[has], return_index=True)
        close_at = np.full(nwin, np.iinfo(np.int64).max, np.int64)
        close_at[first_has_w] = np.maximum(pos[has][first_has] + 1, expected[order][has][first_has])
        fallback |= count > close_at  # late candidates
        closed = count == close_at
        # The prompt each candidate is paired with: the first of its run of equal keys.
        ko = pkey[order]
        run_start = np.ones(wo.size, bool)
        run_start[1:] = (ko[1:] != ko[:-1]) | (wo[1:] != wo[:-1])
        starts = np.maximum.accumulate(np.where(run_start, np.arange(wo.size), 0))
        prompt_of = np.empty(wo.size, np.int64)
        prompt_of[order] = prompt[order][starts]
        self._prompt_of = prompt_of
        self._closed = closed
        # Output order: examples by first appearance, then windows by first appearance.
        examples: dict[str, int] = {}
        ex_of = np.array([examples.setdefault(k[1], len(examples)) for k in self.windows], np.int64)
        out_order = np.lexsort((np.arange(nwin), ex_of))
        rank = np.empty(nwin, np.int64)
        rank[out_order] = np.arange(nwin)

        parts_w: list[IntArray] = []
        parts_a: list[IntArray] = []
        parts_b: list[IntArray] = []
        parts_d: list[npt.NDArray[np.float64]] = []
        parts_p: list[IntArray] = []
        simple = ~fallback
        for n in np.unique(count[simple]).tolist():
            ws = np.nonzero(simple & (count == n))[0]
            rows = order[start[ws][:, None] + np.arange(n)[None, :]]
            sel = select_pairs(score[rows], index[rows], pkey[rows], opts, s.stats)
            if not sel.window.size:
                continue
            parts_w.append(ws[sel.window])
            parts_a.append(rows[sel.window, sel.chosen])
            parts_b.append(rows[sel.window, sel.rejected])
            parts_d.append(sel.diff)
            first = np.r_[0, np.nonzero(np.diff(sel.window))[0] + 1]
            lens = np.diff(np.r_[first, sel.window.size])
            parts_p.append(np.arange(sel.window.size) - np.repeat(first, lens))
        if parts_w:
            pw = np.concatenate(parts_w)
            seq = np.lexsort((np.concatenate(parts_p), rank[pw]))
            pw = pw[seq]
            pch = np.concatenate(parts_a)[seq]
            pb = np.concatenate(parts_b)[seq]
            pd = np.concatenate(parts_d)[seq]
        else:
            pw = pch = pb = np.zeros(0, np.int64)
            pd = np.zeros(0, np.float64)
        s.pairs = int(pw.size)
        late: list[tuple[int, bytes]] = []
        fb = np.nonzero(fallback)[0]
        if fb.size:
            where = np.searchsorted(rank[pw], rank[fb])
            fb_order = np.argsort(rank[fb], kind="stable")
            late = self._replay(fb[fb_order], where[fb_order], order, start)
        return PairPlan(pw, pch, pb, pd.tolist(), late)

    def _replay(
        self, fb: IntArray, where: IntArray, order: IntArray, start: IntArray
    ) -> list[tuple[int, bytes]]:
        """Pair the windows the columnar path does not model with an OfflineBuilder."""
        s = self.summary
        b = OfflineBuilder(self.options, max_bytes=self.max_bytes, late_policy=self.late_policy)
        keys: list[tuple[int, WindowKey]] = []
        dec = msgspec.json.decode
        for w, at in zip(fb.tolist(), where.tolist(), strict=True):
            run_id, example_id, turn_id = key = self.windows[w]
            for row in order[start[w] : start[w + 1]].tolist():
                e = self._expected[row]
                b._add(
                    CandidateRecord(
                        example_id=example_id,
                        turn_id=turn_id,
                        turn_index=0,
                        candidate_index=self._index[row],
                        input=dec(self._prompts[self._prompt[row]]),
                        output=dec(self._output_json(row)),
                        score=self._score[row],
                        run_id=run_id,
                        num_candidates=e or None,
                        policy_model=self._policy_names[self._policy[row]],
                    ),
                    row,
                )
            keys.append((at, key))
        enc = msgspec.json.Encoder().encode_lines
        out: list[tuple[int, bytes]] = []
        for at, key in keys:
            found = b.window_pairs(key)
            s.pairs += len(found)
            out.append((at, enc(found) if found else b""))
        bs = b.summary
        s.duplicates += bs.duplicates
        s.late += bs.late
        s.late_deadlettered += bs.late_deadlettered
        s.stats.add(bs.stats)
        return out

    def _output_json(self, row: int) -> bytes:
        return bytes(self._oj[self._oj_end[row] : self._oj_end[row + 1]])

    # -- encoding ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Build the Arrow columns the encoder gathers from (per window, prompt, policy and
        row), once; :meth:`encoded_bytes` and :meth:`chunks` call it when needed. Forked
        writers share them when it runs before the fork: 0.17 s here, against ~0.3 s in
        each of two writers after it (copy-on-write faults, both cores busy; 400k events)."""
        if hasattr(self, "_t_index"):
            return
        examples_json: dict[str, bytes] = {}
        prefix, head = [], []
        for run_id, example_id, turn_id in self.windows:
            prefix.append(window_prefix(run_id, example_id, turn_id))
            ej = examples_json.get(example_id)
            if ej is None:
                ej = examples_json[example_id] = _encode(example_id)
            head.append(
                b'","run_id":%s,"example_id":%s,"turn_id":%s,"prompt":'
                % (_encode(run_id), ej, _encode(turn_id))
            )
        self._prefix = prefix
        self._t_head = _strings(head)
        num = b',"close_reason":' + _encode(NUM_CANDIDATES) + b"}\n"
        off = b',"close_reason":' + _encode(OFFLINE) + b"}\n"
        self._t_tail = _strings([num, off]).take(_ints((~self._closed).astype(np.int64)))
        self._t_prompt = _strings(self._prompts)
        self._prompts = []
        self._pjson = {}
        self._t_key_of = np.array(self._prompt_key, np.int64)
        names = self._policy_names
        self._t_pmc = _strings(
            [b"" if m is None else b',"policy_model":' + _encode(m) for m in names]
        )
        self._t_pmr = _strings(
            [b"" if m is None else b',"rejected_policy_model":' + _encode(m) for m in names]
        )
        self._t_index = np.frombuffer(self._index, np.int64)
        self._t_prompt_of = self._prompt_of
        self._t_policy = np.frombuffer(self._policy, np.int64)
        self._t_score = _strings(_floats(self._score.tolist()))
        self._t_oj = pa.Array.from_buffers(
            pa.large_string(),
            len(self._oj_end) - 1,
            [None, pa.py_buffer(self._oj_end), pa.py_buffer(self._oj)],
        )
        self._od_bytes = bytes(self._od)
        self._key_digest_bytes = bytes(self._key_digest)

    def encode(self, plan: PairPlan, lo: int, hi: int) -> Iterator[memoryview]:
        """JSON lines of the vectorised pairs ``lo:hi`` (no fallback windows): the two ids
        of each pair by hashlib, everything else gathered (``take``) and joined by Arrow
        from fragments encoded once per candidate, prompt or window."""
        if hi <= lo:
            return
        pieces = self._pieces(plan, lo, hi)
        lines = pc.binary_join_element_wise(
            self._hash_heads(plan, lo, hi),
            *(fragments if which is None else fragments.take(which) for fragments, which in pieces),
            _repeat(b"", hi - lo),
        )
        for arr in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
            # Every input is large_string, so is the result: int64 offsets.
            offsets = np.frombuffer(arr.buffers()[1], np.int64)
            first, last = offsets[arr.offset], offsets[arr.offset + len(arr)]
            yield memoryview(arr.buffers()[2])[int(first) : int(last)]

    def encoded_bytes(self, plan: PairPlan, lo: int, hi: int, size: int = 65536) -> int:
        """How many bytes :meth:`chunks` yields for ``lo:hi``, from the fragments' lengths
        (no hashing, no joining): where a writer of a later range starts in the file.
        Measured ``size`` positions at a time: the pieces of a whole half (~80 MB at 570k
        pairs, mostly repeated literals) would raise the writer's peak RSS."""
        total = sum(len(data) for _, data in self._fallback_in(plan, lo, hi))
        for start in range(lo, hi, size):
            stop = min(hi, start + size)
            total += _HEAD_BYTES * (stop - start)
            for fragments, which in self._pieces(plan, start, stop):
                offsets = np.frombuffer(fragments.buffers()[1], np.int64)
                offsets = offsets[fragments.offset : fragments.offset + len(fragments) + 1]
                if which is None:
                    total += int(offsets[-1] - offsets[0])
                else:
                    lengths = np.diff(offsets)
                    total += int(lengths[np.frombuffer(which.buffers()[1], np.int64)].sum())
        return total

    def _pieces(self, plan: PairPlan, lo: int, hi: int) -> list[Piece]:
        """The columns of the lines ``lo:hi`` after the ids, in order: the one layout that
        :meth:`encode` joins and :meth:`encoded_bytes` measures."""
        self.prepare()
        opts = self.options
        n = hi - lo
        pw = plan.window[lo:hi]
        pa_ = plan.chosen[lo:hi]
        pb = plan.rejected[lo:hi]
        diff = _strings(_floats(plan.diff[lo:hi]))
        index = self._t_index
        step = b""
        if opts.ttc_step_name != _DEFAULT_STEP:
            step = b',"ttc_step_name":' + _encode(opts.ttc_step_name)
        w_ = _ints(pw)
        a_ = _ints(pa_)
        b_ = _ints(pb)

        def lit(text: bytes) -> Piece:
            return _repeat(text, n), None

        return [
            (self._t_head, w_),
            (self._t_prompt, _ints(self._t_prompt_of[pa_])),
            lit(b',"chosen":'),
            (self._t_oj, a_),
            lit(b',"rejected":'),
            (self._t_oj, b_),
            lit(b',"chosen_score":'),
            (self._t_score, a_),
            lit(b',"rejected_score":'),
            (self._t_score, b_),
            lit(b',"score_diff":'),
            (diff, None),
            lit(b',"reward":'),
            (diff, None) if opts.reward_from_score_diff else (self._t_score, a_),
            (self._index_text(index[pa_], b',"chosen_index":'), None),
            (self._index_text(index[pb], b',"rejected_index":'), None),
            lit(step),
            (self._t_pmc, _ints(self._t_policy[pa_])),
            (self._t_pmr, _ints(self._t_policy[pb])),
            (self._t_tail, w_),
        ]

    def _hash_heads(self, plan: PairPlan, lo: int, hi: int) -> pa.Array:
        """``{"pair_id":"…","content_hash":"…`` of each pair ``lo:hi`` (ids.py) by hashlib:
        one call each on precomputed inputs, the only per-pair Python of the encoder."""
        pw = plan.window[lo:hi]
        pa_ = plan.chosen[lo:hi]
        pb = plan.rejected[lo:hi]
        index = self._t_index
        ci = index[pa_]
        ri = index[pb]
        k = self._t_key_of[self._t_prompt_of[pa_]]
        prefix = self._prefix
        od = self._od_bytes
        key_digest = self._key_digest_bytes
        hexes: list[str] = []
        put = hexes.extend
        for w, a, b, c, r, k32 in zip(
            pw.tolist(),
            (pa_ * 32).tolist(),
            (pb * 32).tolist(),
            ci.tolist(),
            ri.tolist(),
            (k * 32).tolist(),
            strict=True,
        ):
            put(
                (
                    _HEAD_OPEN,
                    sha256(b"%s,%d,%d]" % (prefix[w], c, r)).hexdigest()[:ID_HEX_CHARS],
                    _HEAD_MID,
                    sha256(
                        key_digest[k32 : k32 + 32] + od[a : a + 32] + od[b : b + 32]
                    ).hexdigest()[:ID_HEX_CHARS],
                )
            )
        n = len(pw)
        return pa.Array.from_buffers(
            pa.large_string(),
            n,
            [
                None,
                pa.py_buffer(np.arange(n + 1, dtype=np.int64) * _HEAD_BYTES),
                pa.py_buffer("".join(hexes).encode()),
            ],
        )

    def _index_text(self, values: IntArray, label: bytes) -> pa.Array:
        """``label`` + decimal of each value, from one fragment per distinct value."""
        uniq, inverse = np.unique(values, return_inverse=True)
        return _strings([label + b"%d" % v for v in uniq.tolist()]).take(_ints(inverse))

    def chunks(
        self, plan: PairPlan, lo: int, hi: int, size: int = 4096
    ) -> Iterator[bytes | memoryview]:
        """Encoded output of plan positions ``lo:hi``, per-window-path windows in place
        (a window at position ``hi`` belongs here only when ``hi`` is the end)."""
        cur = lo
        for at, data in self._fallback_in(plan, lo, hi):
            while cur < at:
                nxt = min(at, cur + size)
                yield from self.encode(plan, cur, nxt)
                cur = nxt
            if data:
                yield data
        while cur < hi:
            nxt = min(hi, cur + size)
            yield from self.encode(plan, cur, nxt)
            cur = nxt

    @staticmethod
    def _fallback_in(plan: PairPlan, lo: int, hi: int) -> list[tuple[int, bytes]]:
        """The per-window-path windows written with positions ``lo:hi`` (one at ``hi``
        only when ``hi`` is the end)."""
        end = plan.window.size
        return [(at, data) for at, data in plan.fallback if lo <= at < hi or at == hi == end]


def _repeat(text: bytes, n: int) -> pa.Array:
    """``n`` times ``text`` as a string array (a literal for binary_join_element_wise:
    ``pa.scalar`` imports pandas)."""
    offsets = np.arange(n + 1, dtype=np.int64) * len(text)
    return pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text * n)]
    )
