"""Offsets never committed past an unfinished effect, checked on the commits seen live.

The stall monitor records each committed offset with the wall-clock time it was first
seen. A record's *effect* must be durable before any commit above it:

- pairing: a bad record's dead letter; a pair, once the commits passes both of its
  candidates (the first copy of each on the candidates topic);
- submitter: the first job-status event (``queued``) of a DatasetReady.

The effect's time is its Kafka timestamp (the producer's clock: the same host, taken
before the broker acknowledged it), so an effect stamped after the moment a commit above
its record was observed was not durable when that commit was made.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from tests.chaos.invariants import Coord, DeadLetterSeen, Fingerprint, Outcome, Truth

TOLERANCE_S = 0.002


@dataclass(frozen=True, slots=True)
class Need:
    partition: int
    offset: int
    """A commit at or above ``offset + 1`` needs the effect."""
    effect_s: float | None
    label: str


def pairing_needs(
    truth: Truth,
    expected: Mapping[str, Fingerprint],
    pair_times: Mapping[str, float],
    dead: Sequence[tuple[DeadLetterSeen | None, float]],
) -> list[Need]:
    first: dict[tuple[str, str, str, int], Coord] = {}
    for coord, value in truth.good:
        doc = msgspec.json.decode(value)
        key = (
            str(doc.get("run_id", "")),
            doc["example_id"],
            doc["turn_id"],
            doc["candidate_index"],
        )
        if key not in first or coord < first[key]:
            first[key] = coord
    out: list[Need] = []
    for pid, fp in expected.items():
        run, example, turn = fp[1], fp[2], fp[3]
        a = first.get((run, example, turn, fp[10]))
        b = first.get((run, example, turn, fp[11]))
        if a is None or b is None or a[0] != b[0]:
            continue
        out.append(Need(a[0], max(a[1], b[1]), pair_times.get(pid), f"pair {pid}"))
    dl_time: dict[Coord, float] = {}
    for d, t in dead:
        if d is not None:
            c = (d.partition, d.offset)
            dl_time[c] = min(t, dl_time.get(c, t))
    for coord, rec in truth.bad.items():
        label = f"dead letter of {rec.kind} p{coord[0]}@{coord[1]}"
        out.append(Need(coord[0], coord[1], dl_time.get(coord), label))
    return out


def submitter_needs(
    coords: Sequence[tuple[int, int]],
    datasets: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    times: Sequence[float],
) -> list[Need]:
    first: dict[str, float] = {}
    for e, t in zip(events, times, strict=True):
        dsid = str(e.get("dataset_id"))
        first[dsid] = min(t, first.get(dsid, t))
    return [
        Need(p, o, first.get(str(d["dataset_id"])), f"queued event of {d['name']}")
        for (p, o), d in zip(coords, datasets, strict=True)
    ]


def commits_after_effects(
    commits: Mapping[tuple[str, int], list[tuple[int, float]]],
    needs: Mapping[str, list[Need]],
) -> Outcome:
    checked = late = never = 0
    examples: list[str] = []
    for group, items in needs.items():
        by_part: dict[int, tuple[list[int], list[float]]] = {}
        for (g, p), seen in commits.items():
            if g != group or not seen:
                continue
            ordered = sorted(seen)
            offsets = [c for c, _ in ordered]
            suffix_min: list[float] = [0.0] * len(ordered)
            low = float("inf")
            for i in range(len(ordered) - 1, -1, -1):
                low = min(low, ordered[i][1])
                suffix_min[i] = low
            by_part[p] = (offsets, suffix_min)
        for need in items:
            part = by_part.get(need.partition)
            if part is None:
                continue
            offsets, suffix_min = part
            i = bisect.bisect_left(offsets, need.offset + 1)
            if i >= len(offsets):
                continue  # no commit above it was seen
            checked += 1
            first_seen = suffix_min[i]
            if need.effect_s is None:
                never += 1
                examples.append(f"{group}: committed past {need.label}, which never happened")
            elif need.effect_s > first_seen + TOLERANCE_S:
                late += 1
                examples.append(
                    f"{group}: commit past {need.label} seen {need.effect_s - first_seen:.3f}s "
                    "before the effect"
                )
    samples = sum(len(v) for v in commits.values())
    numbers = (
        f"{checked} effects under {samples} observed commits: effect after the commit "
        f"{late}, effect never made {never}"
    )
    return Outcome(
        "commits never ahead of effects (live)", not (late or never), numbers, examples[:5]
    )
