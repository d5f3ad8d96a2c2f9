"""The invariants of a chaos run, as pure functions over what was observed at the end.

Each returns an :class:`Outcome`: held or violated, the numbers behind it, and up to a
few examples of what broke. Nothing here talks to Kafka, DuckDB or HTTP; ``collect.py``
gathers the inputs.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from prefstream_pairing.ids import canonical_prompt

from tests.chaos.fuzz import Record, Stream

Coord = tuple[int, int]
Fingerprint = tuple[Any, ...]
_SHOW = 5


@dataclass
class Outcome:
    name: str
    held: bool
    numbers: str
    examples: list[str] = field(default_factory=list)


# ground truth -----------------------------------------------------------------------
@dataclass
class Truth:
    """The candidates topic as it ended up, classified by the generator's own records."""

    good: list[tuple[Coord, bytes]] = field(default_factory=list)
    bad: dict[Coord, Record] = field(default_factory=dict)
    skewed_far: set[Coord] = field(default_factory=set)
    unknown: list[Coord] = field(default_factory=list)


def classify(
    records: Iterable[tuple[int, int, bytes]], stream: Stream, skew_bound_s: float
) -> Truth:
    truth = Truth()
    for partition, offset, value in records:
        coord = (partition, offset)
        rec = stream.by_digest.get(hashlib.sha256(value).digest())
        if rec is None:
            truth.unknown.append(coord)
        elif rec.bad:
            truth.bad[coord] = rec
        else:
            truth.good.append((coord, value))
            if rec.skew_s is not None and abs(rec.skew_s) > skew_bound_s:
                truth.skewed_far.add(coord)
    return truth


# dead letters -----------------------------------------------------------------------
@dataclass(frozen=True)
class DeadLetterSeen:
    id: str
    reason: str
    topic: str
    partition: int
    offset: int


def parse_dead_letter(value: bytes, headers: Mapping[str, bytes]) -> DeadLetterSeen | None:
    """The id is the record's ``deadletter_id`` when the event has one, else its CloudEvents
    ``ce_id``, else derived from the source coordinates (the same inputs the contract's
    deterministic id is made of)."""
    try:
        doc = msgspec.json.decode(value)
        src = doc["source"]
        topic, partition, offset = str(src["topic"]), int(src["partition"]), int(src["offset"])
        reason = str(doc["reason"])
    except (msgspec.DecodeError, KeyError, TypeError, ValueError):
        return None
    ident = doc.get("deadletter_id") or (headers.get("ce_id") or b"").decode(errors="replace")
    return DeadLetterSeen(
        ident or f"{topic}/{partition}/{offset}", reason, topic, partition, offset
    )


def dead_letters(
    truth: Truth, seen: list[DeadLetterSeen | None], candidates_topic: str
) -> tuple[Outcome, set[Coord]]:
    """Every bad record dead-lettered once (one distinct id; copies sharing it are fine)
    with an expected reason; no good record dead-lettered except a far-skewed one as
    ``clock_skew``. Returns the outcome and the good records dead-lettered as clock_skew."""
    by_coord: dict[Coord, list[DeadLetterSeen]] = defaultdict(list)
    foreign: list[DeadLetterSeen] = []
    unreadable = 0
    for d in seen:
        if d is None:
            unreadable += 1
        elif d.topic != candidates_topic:
            foreign.append(d)
        else:
            by_coord[(d.partition, d.offset)].append(d)
    ok = missing = multi = wrong = 0
    examples: list[str] = []
    for coord, rec in sorted(truth.bad.items()):
        got = by_coord.get(coord, [])
        ids = {d.id for d in got}
        reasons = {d.reason for d in got}
        if not got:
            missing += 1
            examples.append(f"{rec.kind} at p{coord[0]}@{coord[1]}: not dead-lettered")
        elif len(ids) > 1:
            multi += 1
            examples.append(f"{rec.kind} at p{coord[0]}@{coord[1]}: {len(ids)} distinct ids")
        elif not reasons <= rec.reasons:
            wrong += 1
            examples.append(
                f"{rec.kind} at p{coord[0]}@{coord[1]}: reason {sorted(reasons)}, "
                f"expected {sorted(rec.reasons)}"
            )
        else:
            ok += 1
    skew_dl: set[Coord] = set()
    good_dl = 0
    good_coords = {c for c, _ in truth.good}
    for coord, got in by_coord.items():
        if coord in truth.bad:
            continue
        if (
            coord in good_coords
            and coord in truth.skewed_far
            and {d.reason for d in got} == {"clock_skew"}
        ):
            skew_dl.add(coord)
            continue
        good_dl += 1
        examples.append(
            f"good record p{coord[0]}@{coord[1]} dead-lettered: {sorted({d.reason for d in got})}"
        )
    copies = sum(len(v) for v in by_coord.values())
    held = ok == len(truth.bad) and good_dl == 0 and not foreign and unreadable == 0
    if foreign:
        examples.append(f"{len(foreign)} dead letters of other topics, e.g. {foreign[0]}")
    numbers = (
        f"{ok}/{len(truth.bad)} once with expected reason; missing {missing}, several ids "
        f"{multi}, wrong reason {wrong}; good dead-lettered {good_dl} (+{len(skew_dl)} "
        f"far-skewed as clock_skew, allowed); foreign {len(foreign)}; unreadable {unreadable}; "
        f"copies on topic {copies}"
    )
    return Outcome(
        "bad records dead-lettered once, expected reason", held, numbers, examples[:_SHOW]
    ), skew_dl


# pairs ------------------------------------------------------------------------------
def pair_fingerprint(doc: Mapping[str, Any], *, prompt_is_canonical: bool = False) -> Fingerprint:
    """What a pair says, with the prompt as canonical JSON (DuckDB stores it so)."""
    prompt = doc["prompt"]
    prompt_text = str(prompt) if prompt_is_canonical else canonical_prompt(prompt).decode()
    return (
        doc["content_hash"],
        doc["run_id"],
        doc["example_id"],
        doc["turn_id"],
        prompt_text,
        doc["chosen"],
        doc["rejected"],
        float(doc["chosen_score"]),
        float(doc["rejected_score"]),
        float(doc["reward"]),
        int(doc["chosen_index"]),
        int(doc["rejected_index"]),
    )


def compare_pairs(
    name: str,
    want: Mapping[str, Fingerprint],
    have: Mapping[str, Fingerprint],
    want_label: str,
    have_label: str,
) -> Outcome:
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    differ = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    examples = [f"missing from {have_label}: {k}" for k in missing[:2]]
    examples += [f"extra in {have_label}: {k}" for k in extra[:2]]
    examples += [f"content differs: {k}" for k in differ[:1]]
    held = not (missing or extra or differ)
    numbers = (
        f"{want_label} {len(want)}, {have_label} {len(have)}: missing {len(missing)}, "
        f"extra {len(extra)}, content differs {len(differ)}"
    )
    return Outcome(name, held, numbers, examples)


def topic_pairs(values: Iterable[bytes]) -> tuple[dict[str, Fingerprint], int, int]:
    """Pairs on the topic by id; returns (pairs, copies, ids whose copies disagree)."""
    out: dict[str, Fingerprint] = {}
    copies = disagree = 0
    for v in values:
        doc = msgspec.json.decode(v)
        fp = pair_fingerprint(doc)
        pid = str(doc["pair_id"])
        if pid in out:
            copies += 1
            if out[pid] != fp:
                disagree += 1
            continue
        out[pid] = fp
    return out, copies, disagree


# datasets and jobs ------------------------------------------------------------------
def pairs_in_datasets(
    pair_ids: set[str], manifests: Mapping[str, set[str]], unreadable: list[str]
) -> Outcome:
    count: Counter[str] = Counter()
    for ids in manifests.values():
        count.update(ids)
    missing = pair_ids - set(count)
    twice = {k for k, n in count.items() if n > 1}
    unknown = set(count) - pair_ids
    held = not (missing or twice or unknown or unreadable)
    numbers = (
        f"{len(pair_ids)} pairs, {len(manifests)} datasets: in none {len(missing)}, in several "
        f"{len(twice)}, not on the pairs topic {len(unknown)}, "
        f"unreadable manifests {len(unreadable)}"
    )
    examples = [f"in no dataset: {k}" for k in sorted(missing)[:2]]
    examples += [f"in several datasets: {k}" for k in sorted(twice)[:2]] + unreadable[:2]
    return Outcome("every pair in exactly one dataset", held, numbers, examples)


def one_job_per_dataset(
    datasets: Mapping[str, str], jobs: Sequence[Mapping[str, Any]], namespace: str
) -> Outcome:
    """``datasets``: dataset name -> dataset id (announced). Jobs are matched by the
    explicit output model the submitter gives each dataset's job."""
    per_model: Counter[str] = Counter(str(j.get("output_model")) for j in jobs)
    none = [n for n in datasets if per_model[f"{namespace}/{n}-dpo"] == 0]
    several = [n for n in datasets if per_model[f"{namespace}/{n}-dpo"] > 1]
    wanted = {f"{namespace}/{n}-dpo" for n in datasets}
    orphans = [m for m in per_model if m not in wanted]
    held = not (none or several or orphans)
    numbers = (
        f"{len(datasets)} datasets, {len(jobs)} jobs: without a job {len(none)}, with several "
        f"{len(several)}, jobs of no dataset {len(orphans)}"
    )
    ex = [f"no job: {n}" for n in none[:2]] + [f"several jobs: {n}" for n in several[:2]]
    return Outcome("one job per dataset", held, numbers, ex + [f"orphan: {m}" for m in orphans[:1]])


def seq_monotonic(events: Sequence[Mapping[str, Any]], datasets: Iterable[str]) -> Outcome:
    last: dict[str, int] = {}
    final: dict[str, str] = {}
    back: list[str] = []
    for e in events:
        key, seq = str(e["job_key"]), int(e["seq"])
        if key in last and seq < last[key]:
            back.append(f"{key}: seq {seq} after {last[key]}")
        last[key] = max(seq, last.get(key, -1))
        final[str(e["dataset_id"])] = str(e["status"])
    terminal = {"completed", "failed", "cancelled", "superseded"}
    unfinished = [d for d in datasets if final.get(d) not in terminal]
    numbers = (
        f"{len(events)} events, {len(last)} jobs: seq went back {len(back)}; datasets "
        f"without a terminal status {len(unfinished)}"
    )
    ex = back[:3] + [f"not terminal: {d} ({final.get(d)})" for d in unfinished[:2]]
    return Outcome("job-status seq monotonic per job", not back, numbers, ex)


def drained(lags: Mapping[str, Mapping[int, tuple[int, int]]]) -> Outcome:
    """At the end every group's committed offset equals its topic's end offset."""
    behind: list[str] = []
    total = 0
    for group, parts in lags.items():
        for p, (committed, end) in sorted(parts.items()):
            if committed != end:
                total += end - committed
                behind.append(f"{group} p{p}: committed {committed}, end {end}")
    numbers = (
        f"{sum(len(v) for v in lags.values())} partitions: behind {len(behind)} ({total} records)"
    )
    return Outcome(
        "committed offsets == end offsets (drained)", not behind, numbers, behind[:_SHOW]
    )


def no_stall(longest: Mapping[str, tuple[float, float, str]]) -> Outcome:
    """``longest``: group -> (longest stall s, bound s, where)."""
    over = {g: v for g, v in longest.items() if v[0] > v[1]}
    numbers = ", ".join(f"{g} {v[0]:.1f}s/{v[1]:.0f}s" for g, v in longest.items())
    ex = [f"{g}: {v[2]} stalled {v[0]:.1f}s > {v[1]:.0f}s" for g, v in over.items()]
    return Outcome("no partition stalled beyond its bound", not over, numbers or "no samples", ex)


def _last_line(text: str, limit: int = 300) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:limit] if lines else ""


def stayed_up(exits: list[tuple[str, float, int | None, str]]) -> Outcome:
    per: Counter[str] = Counter(e[0] for e in exits)
    numbers = "unexpected exits: " + (", ".join(f"{k} {v}" for k, v in per.items()) or "0")
    ex = [f"{e[0]} rc {e[2]} at t+{e[1]:.1f}s: {_last_line(e[3])}" for e in exits[:3]]
    return Outcome("services never exit on their own", not exits, numbers, ex)
