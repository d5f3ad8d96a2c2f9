"""The result of a chaos run and its table: faults injected, invariants held or violated."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.chaos.invariants import Outcome
from tests.chaos.schedule import FAULT_KINDS, Plan


@dataclass
class FaultRow:
    kind: str
    planned: int
    injected: int
    skipped: int = 0
    note: str = ""


@dataclass
class Report:
    plan: Plan
    faults: list[FaultRow] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)
    """Records on the candidates topic per generator kind (``good``, bad kinds, ``skewed``)."""
    outcomes: list[Outcome] = field(default_factory=list)
    drained: bool = False
    drain_s: float = 0.0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.held for o in self.outcomes)

    def violated(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.held]

    def table(self) -> str:
        p = self.plan
        lines = [
            f"chaos run: seed {p.seed}, profile {p.profile}, "
            f"{sum(self.records.values()) - self.records.get('skewed', 0)} records on the "
            f"candidates topic, wall {self.wall_s:.0f}s, "
            f"{'drained' if self.drained else 'NOT drained'} in {self.drain_s:.0f}s",
            "",
            "| fault | planned | injected | skipped | note |",
            "|---|---:|---:|---:|---|",
        ]
        for row in sorted(self.faults, key=lambda r: FAULT_KINDS.index(r.kind)):
            lines.append(
                f"| {row.kind} | {row.planned} | {row.injected} | {row.skipped} | {row.note} |"
            )
        for kind, n in sorted(self.records.items()):
            if kind != "good":
                label = "skewed_timestamp" if kind == "skewed" else f"fuzz:{kind}"
                lines.append(f"| {label} | | {n} | | records |")
        lines += ["", "| invariant | result | numbers |", "|---|---|---|"]
        for o in self.outcomes:
            lines.append(f"| {o.name} | {'held' if o.held else 'VIOLATED'} | {o.numbers} |")
        broken = self.violated()
        if broken:
            lines += ["", "violations:"]
            for o in broken:
                lines.append(f"- {o.name}: {o.numbers}")
                lines += [f"    {e}" for e in o.examples]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)
