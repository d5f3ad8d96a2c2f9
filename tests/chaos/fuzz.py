"""Seeded record generator: good candidate turns and hostile records, as real bytes.

Every byte string here is written by hand or by ``msgspec`` (which writes UTF-8 as UTF-8),
never by ``json.dumps`` (which ASCII-escapes and so can never carry invalid UTF-8). Each
bad record states the dead-letter reasons it must get from what this module put into it,
not from what the production decoder happens to say:

- ``invalid_utf8``: a candidate whose ``output`` holds invalid UTF-8 (``ff fe``, a lone
  continuation byte, an overlong ``/``, an encoded surrogate) -> ``not_json`` (RFC 8259
  §8.1: JSON text is UTF-8) or the more precise ``invalid_utf8``;
- ``invalid_utf8_unknown_key``: the same bytes in an unknown key's value -> the same;
- ``deep_nesting``: an unknown key nested 1,000-20,000 levels -> ``too_deep``, or
  ``not_json`` / ``invalid_field`` (a nesting limit; any of these names is sound);
- ``truncated``: a valid candidate cut short, maybe inside a character -> ``not_json``
  (or ``invalid_utf8`` when the cut split a character);
- ``garbage``: random bytes after a NUL -> ``not_json`` (or ``invalid_utf8`` when the
  bytes are not UTF-8, which random bytes nearly always are);
- ``oversize``: a valid candidate padded above ``kafka.max_record_bytes`` (up to 7.5 MB)
  -> ``oversize``;
- ``wrong_type``: ``"score": true``, ``"score": "0.5"``, ``" 1e3 "``,
  ``"candidate_index": true``, ... -> ``invalid_field``;
- ``non_finite``: ``"score": NaN`` / ``Infinity`` / ``-Infinity`` / ``1e999`` ->
  ``non_finite_score``;
- ``missing_field``: a required field left out -> ``missing_field``;
- ``not_object``: a JSON array, string, number, ``null`` or ``true`` -> ``invalid_field``.

Bad records that look like candidates use the window of a real turn and a fresh
``candidate_index``: a decoder that wrongly accepts one adds pairs that ``pairs build`` of
the good records does not have, so the mistake shows twice (extra pairs, missing dead letter).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

GOOD = "good"
BAD_KINDS: tuple[str, ...] = (
    "invalid_utf8",
    "invalid_utf8_unknown_key",
    "deep_nesting",
    "truncated",
    "garbage",
    "oversize",
    "wrong_type",
    "non_finite",
    "missing_field",
    "not_object",
)
_encode = msgspec.json.Encoder().encode
_PROSE = "centre corner edge fork block win draw lose threat line diagonal row column square "
_WORDS = [*_PROSE.split(), "tempo", "parity", "café", "naïve", "中心", "角", "🙂", "✓", "Ω", "ß"]
_BAD_UTF8 = (b"\xff\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc3")
_REQUIRED = ("example_id", "turn_id", "turn_index", "candidate_index", "input", "output", "score")


@dataclass(frozen=True, slots=True)
class Record:
    """One record to produce. ``reasons`` is empty for good records; ``skew_s`` shifts the
    Kafka CreateTime of the record from the moment it is sent."""

    key: bytes
    value: bytes
    kind: str
    reasons: frozenset[str] = frozenset()
    skew_s: float | None = None

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.value).digest()

    @property
    def bad(self) -> bool:
        return self.kind != GOOD


@dataclass(frozen=True, slots=True)
class FuzzSpec:
    turns: int
    candidates: int = 4
    bad_per_kind: int = 5
    oversize_bytes: tuple[int, ...] = (1_200_000, 2_500_000)
    """Sizes of the ``oversize`` records, cycled; the limit is ``max_record_bytes``."""
    oversize_count: int | None = None
    """``oversize`` records (default ``bad_per_kind``): megabytes each, so fewer of them."""
    max_record_bytes: int = 1_048_576
    num_candidates_share: float = 0.8
    """Turns that say ``num_candidates`` (the rest close by inactivity)."""
    skewed: int = 10
    skew_bound_s: float = 60.0
    """Skews beyond this are "far" (may be dead-lettered as ``clock_skew``)."""


@dataclass(slots=True)
class Stream:
    records: list[Record] = field(default_factory=list)
    by_digest: dict[bytes, Record] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.records:
            out[r.kind] = out.get(r.kind, 0) + 1
        return out

    def skewed(self) -> list[Record]:
        return [r for r in self.records if r.skew_s is not None]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _turn(rng: random.Random, run: str, t: int, spec: FuzzSpec) -> list[dict[str, Any]]:
    example = f"ex-{t % max(1, spec.turns // 3)}"
    prompt_text = f"turn {t}: {_text(rng, 12)}"
    prompt: Any = (
        [{"role": "system", "content": "play"}, {"role": "user", "content": prompt_text}]
        if t % 2
        else prompt_text
    )
    scores = rng.sample(range(0, 21), spec.candidates)
    with_n = rng.random() < spec.num_candidates_share
    out = []
    for c in range(spec.candidates):
        ev: dict[str, Any] = {
            "run_id": run,
            "example_id": example,
            "turn_id": f"turn-{t}",
            "turn_index": t,
            "candidate_index": c,
            "input": prompt,
            "output": f"{c}: {_text(rng, 8)}",
            "score": scores[c] * 0.05,
            "policy_model": "policy-a",
        }
        if with_n:
            ev["num_candidates"] = spec.candidates
        out.append(ev)
    return out


def _candidate_bytes(ev: dict[str, Any], *, replace: dict[str, bytes]) -> bytes:
    """A candidate object written field by field; ``replace`` gives raw value bytes."""
    parts = []
    for name, value in ev.items():
        raw = replace.get(name, _encode(value))
        parts.append(_encode(name) + b":" + raw)
    for name, raw in replace.items():
        if name not in ev:
            parts.append(_encode(name) + b":" + raw)
    return b"{" + b",".join(parts) + b"}"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _probe(base: dict[str, Any], marker: str) -> dict[str, Any]:
    """A candidate in a real turn's window with a fresh index and a unique output."""
    ev = dict(base)
    ev["candidate_index"] = 1000 + int(marker.rsplit("-", 1)[1])
    ev["output"] = f"{marker} {ev['output']}"
    return ev


def _bad(
    kind: str, rng: random.Random, base: dict[str, Any], marker: str, spec: FuzzSpec, n: int
) -> tuple[bytes, frozenset[str]]:
    ev = _probe(base, marker)
    not_json = frozenset({"not_json"})
    not_utf8 = frozenset({"invalid_utf8", "not_json"})
    if kind == "invalid_utf8":
        junk = rng.choice(_BAD_UTF8)
        raw = b'"' + marker.encode() + b" " + junk + b' tail"'
        return _candidate_bytes(ev, replace={"output": raw}), not_utf8
    if kind == "invalid_utf8_unknown_key":
        junk = rng.choice(_BAD_UTF8)
        return _candidate_bytes(ev, replace={"note": b'"' + junk + b'"'}), not_utf8
    if kind == "deep_nesting":
        depth = rng.choice((1000, 2500, 5000, 20000))
        nested = (
            b"[" * depth + b"]" * depth
            if rng.random() < 0.5
            else b'{"a":' * depth + b"1" + b"}" * depth
        )
        too_deep = frozenset({"too_deep", "not_json", "invalid_field"})
        return _candidate_bytes(ev, replace={"extra": nested}), too_deep
    if kind == "truncated":
        whole = _candidate_bytes(ev, replace={})
        cut = rng.randrange(len(marker) + 40, len(whole) - 1)
        return whole[:cut], not_json if _is_utf8(whole[:cut]) else not_utf8
    if kind == "garbage":
        size = rng.choice((16, 300, 4096, 65536))
        value = b"\x00" + marker.encode() + rng.randbytes(size)
        # Not UTF-8 either (nearly always): the more precise name is fine too.
        return value, not_json if _is_utf8(value) else not_utf8
    if kind == "oversize":
        target = spec.oversize_bytes[n % len(spec.oversize_bytes)]
        target = max(target, spec.max_record_bytes + 1)
        head = _candidate_bytes(ev, replace={})
        pad = target - len(head) - len(b',"padding":""')
        raw = b'"' + (b"pad " * (pad // 4 + 1))[: max(0, pad)] + b'"'
        value = _candidate_bytes(ev, replace={"padding": raw})
        return value, frozenset({"oversize"})
    if kind == "wrong_type":
        field_name, raw = rng.choice(
            (
                ("score", b"true"),
                ("score", b"false"),
                ("score", b'"0.5"'),
                ("score", b'" 1e3 "'),
                ("score", b"null"),
                ("score", b"[0.5]"),
                ("candidate_index", b"true"),
                ("candidate_index", b'"1"'),
                ("candidate_index", b"1.5"),
                ("turn_index", b'"0"'),
                ("output", b"7"),
                ("input", b"42"),
            )
        )
        return _candidate_bytes(ev, replace={field_name: raw}), frozenset({"invalid_field"})
    if kind == "non_finite":
        raw = rng.choice((b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400"))
        return _candidate_bytes(ev, replace={"score": raw}), frozenset({"non_finite_score"})
    if kind == "missing_field":
        gone = rng.choice(_REQUIRED)
        ev.pop(gone)
        return _candidate_bytes(ev, replace={}), frozenset({"missing_field"})
    if kind == "not_object":
        raw = rng.choice(
            (b"[" + _encode(ev) + b"]", _encode(marker), str(n).encode(), b"null", b"true")
        )
        if raw in (b"null", b"true"):
            raw = raw + b" " * n  # unique bytes, still the same JSON value
        return raw, frozenset({"invalid_field"})
    raise ValueError(f"unknown bad kind {kind!r}")


def build_stream(
    seed: int, spec: FuzzSpec, *, progress: Callable[[str], None] | None = None
) -> Stream:
    """The records of one run, in production order: good turns with bad records and skewed
    timestamps scattered through them. Same seed and spec, same bytes."""
    rng = random.Random(f"fuzz-{seed}")
    run = f"chaos-{seed}"
    turns = [_turn(rng, run, t, spec) for t in range(spec.turns)]
    stream = Stream()
    good: list[Record] = []
    for evs in turns:
        for ev in evs:
            key = str(ev["example_id"]).encode()
            good.append(Record(key=key, value=_encode(ev), kind=GOOD))
    # Skewed CreateTime on some good records: half far (beyond the bound), half near.
    # Kafka 4 refuses CreateTime more than an hour ahead (message.timestamp.after.max.ms).
    for i in rng.sample(range(len(good)), min(spec.skewed, len(good))):
        far = rng.random() < 0.5
        if far:
            skew = rng.choice((1.0, -1.0)) * rng.uniform(max(1200.0, spec.skew_bound_s * 2), 3000.0)
        else:
            skew = rng.uniform(-spec.skew_bound_s / 6, spec.skew_bound_s / 6)
        r = good[i]
        good[i] = Record(key=r.key, value=r.value, kind=GOOD, skew_s=skew)
    bad: list[Record] = []
    n = 0
    for kind in BAD_KINDS:
        count = spec.bad_per_kind
        if kind == "oversize" and spec.oversize_count is not None:
            count = spec.oversize_count
        for _ in range(count):
            base = rng.choice(turns)[0]
            marker = f"fuzz-{seed}-{n}"
            value, reasons = _bad(kind, rng, base, marker, spec, n)
            key = str(base["example_id"]).encode()
            bad.append(Record(key=key, value=value, kind=kind, reasons=reasons))
            n += 1
    rng.shuffle(bad)
    # Scatter: each bad record goes after a random good one.
    slots = sorted(rng.randrange(0, len(good) + 1) for _ in bad)
    out: list[Record] = []
    gi = 0
    for slot, record in zip(slots, bad, strict=True):
        out.extend(good[gi:slot])
        gi = max(gi, slot)
        out.append(record)
    out.extend(good[gi:])
    stream.records = out
    for r in out:
        if r.digest in stream.by_digest:
            raise ValueError(f"two generated records share bytes ({r.kind})")
        stream.by_digest[r.digest] = r
    if progress:
        progress(f"stream: {len(out)} records, {stream.counts()}")
    return stream
