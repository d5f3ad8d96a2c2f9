"""The seeded plan of a chaos run: what to produce, which faults, when, and the bounds.

Same seed and profile, same plan (``Plan.describe()`` is stable): the fault times are
offsets from the start of production, drawn from ``random.Random(f"schedule-{seed}")``.
Timing only decides *when* a fault is injected; every wait for an effect is on an observed
output (see ``stack.py`` and ``runner.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.chaos.fuzz import FuzzSpec

PROCESS_KILLS = ("kill_pairing", "kill_batcher", "kill_submitter", "kill_nmp_local", "kill_broker")
NMP_FAULTS = ("nmp_5xx", "nmp_latency", "nmp_drop_response", "nmp_fail_jobs")
DISK_FAULTS = ("disk_full",)
FAULT_KINDS: tuple[str, ...] = PROCESS_KILLS + NMP_FAULTS + DISK_FAULTS

Profile = Literal["small", "full"]


@dataclass(frozen=True, slots=True)
class Fault:
    at_s: float
    kind: str
    duration_s: float
    """Downtime of a killed process before its restart, or how long a condition lasts."""
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.params)
        return f"t+{self.at_s:7.2f}s {self.kind:<18} for {self.duration_s:5.2f}s {extra}".rstrip()


@dataclass(frozen=True, slots=True)
class Bounds:
    """Service settings of the run and the bounds the invariants hold them to."""

    partitions: int = 4
    inactivity_gap_s: float = 2.0
    max_window_age_s: float = 10.0
    max_clock_skew_s: float = 60.0
    max_record_bytes: int = 1_048_576
    min_new_pairs: int = 1000
    max_wait_s: float = 4.0
    max_concurrent_jobs: int = 2
    recovery_grace_s: float = 30.0
    """Time a component may need after a fault ends (restart, group rejoin, replay)."""

    def stall_bound_s(self, group: str) -> float:
        """The longest a partition of ``group`` may hold unprocessed records while
        healthy: the pairing commit waits for the oldest open window (at most its age
        plus one gap); every consumer gets the recovery grace."""
        if group == "pairing":
            return self.max_window_age_s + self.inactivity_gap_s + self.recovery_grace_s
        if group == "batcher":
            return self.max_wait_s + self.recovery_grace_s
        return self.recovery_grace_s


@dataclass(frozen=True, slots=True)
class Plan:
    seed: int
    profile: Profile
    fuzz: FuzzSpec
    production_s: float
    faults: tuple[Fault, ...]
    bounds: Bounds = field(default_factory=Bounds)
    drain_timeout_s: float = 90.0
    tmpfs_mb: int = 256

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(FAULT_KINDS, 0)
        for f in self.faults:
            out[f.kind] += 1
        return out

    def describe(self) -> str:
        head = (
            f"chaos plan seed={self.seed} profile={self.profile} turns={self.fuzz.turns} "
            f"events~{self.fuzz.turns * self.fuzz.candidates} production={self.production_s}s "
            f"faults={len(self.faults)}"
        )
        return "\n".join([head, *(f.describe() for f in self.faults)])


def _times(rng: random.Random, n: int, start: float, end: float, gap: float) -> list[float]:
    """``n`` sorted times in [start, end], at least ``gap`` apart when they fit."""
    if n <= 0:
        return []
    gap = min(gap, (end - start) / max(n, 1) * 0.9)
    slack = (end - start) - gap * (n - 1)
    cuts = sorted(rng.uniform(0, slack) for _ in range(n))
    return [round(start + c + i * gap, 3) for i, c in enumerate(cuts)]


def _faults(
    rng: random.Random,
    per_kind: dict[str, int],
    start: float,
    end: float,
    extra: random.Random | None = None,
) -> tuple[Fault, ...]:
    """``extra`` draws the service restarted while the broker is down (its own source, so
    adding it left the other draws of a seed unchanged)."""
    extra = extra or random.Random(0)
    out: list[Fault] = []
    for kind in FAULT_KINDS:
        n = per_kind.get(kind, 0)
        gap = {"kill_broker": 25.0, "disk_full": 12.0}.get(kind, 4.0)
        for at in _times(rng, n, start, end, gap):
            params: list[tuple[str, Any]] = []
            if kind in PROCESS_KILLS:
                duration = round(rng.uniform(0.2, 3.0), 2)
                if kind == "kill_broker":
                    service = extra.choice(("pairing", "batcher", "submitter"))
                    params.append(("restart_during", service))
            elif kind == "disk_full":
                duration = round(rng.uniform(3.0, 8.0), 2)
            else:
                duration = round(rng.uniform(2.0, 6.0), 2)
            if kind == "nmp_5xx":
                params.append(("error_rate", round(rng.uniform(0.2, 0.6), 2)))
                params.append(("error_status", rng.choice((500, 502, 503, 504))))
            elif kind == "nmp_latency":
                params.append(("latency_ms", rng.choice((200, 500, 1500))))
            elif kind == "nmp_drop_response":
                params.append(("drop_response_rate", round(rng.uniform(0.3, 0.8), 2)))
            elif kind == "nmp_fail_jobs":
                params.append(("fail_jobs_at_percent", rng.choice((10, 50, 90))))
            out.append(Fault(at_s=at, kind=kind, duration_s=duration, params=tuple(params)))
    out.sort(key=lambda f: (f.at_s, f.kind))
    return tuple(out)


def build_plan(seed: int, profile: Profile = "small", *, events: int | None = None) -> Plan:
    """The plan for ``seed``: ``small`` fits ``make test`` (one fault of each kind, a few
    thousand events); ``full`` is ``make chaos`` (>= 100k events, >= 10 of each kind)."""
    rng = random.Random(f"schedule-{seed}")
    if profile == "small":
        turns = (events or 3000) // 4
        production_s = 30.0
        per_kind = dict.fromkeys(FAULT_KINDS, 1)
        fuzz = FuzzSpec(
            turns=turns, bad_per_kind=4, oversize_bytes=(1_100_000, 6_000_000), skewed=12
        )
        bounds = Bounds(min_new_pairs=800)
        return Plan(
            seed=seed,
            profile=profile,
            fuzz=fuzz,
            production_s=production_s,
            faults=_faults(rng, per_kind, 3.0, production_s, random.Random(f"extra-{seed}")),
            bounds=bounds,
            drain_timeout_s=90.0,
            tmpfs_mb=256,
        )
    turns = (events or 100_000) // 4
    production_s = max(300.0, turns * 4 / 300.0)
    per_kind = dict.fromkeys(FAULT_KINDS, 10)
    per_kind["kill_broker"] = 10
    fuzz = FuzzSpec(
        turns=turns,
        bad_per_kind=100,
        oversize_count=25,
        oversize_bytes=(1_100_000, 1_500_000, 2_500_000, 6_000_000, 7_500_000),
        skewed=200,
    )
    bounds = Bounds(min_new_pairs=5000, max_concurrent_jobs=4)
    return Plan(
        seed=seed,
        profile=profile,
        fuzz=fuzz,
        production_s=production_s,
        faults=_faults(rng, per_kind, 5.0, production_s, random.Random(f"extra-{seed}")),
        bounds=bounds,
        drain_timeout_s=600.0,
        tmpfs_mb=2048,
    )
