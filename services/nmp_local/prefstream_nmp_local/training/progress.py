"""The worker's progress file (JSON lines) folded into what a job's status shows (pure).

The worker appends one event a line: ``started``, ``step``, ``log`` (train loss and DPO
metrics every logging step), ``eval`` (validation loss per epoch), ``checkpoint``, then
``completed`` or ``failed``. A resumed run appends to the same file and re-logs steps after
its checkpoint; later lines win, so the fold is the same whether or not a restart happened.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

JsonObj = dict[str, Any]

DPO_METRICS = ("rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected")


@dataclass
class Point:
    step: int
    value: float
    at: float
    epoch: float | None = None


@dataclass
class Progress:
    total_steps: int = 0
    steps_per_epoch: int = 0
    epochs: int = 0
    steps_completed: int = 0
    epoch: float = 0.0
    pid: int | None = None
    device: str | None = None
    started_at: float | None = None
    train: dict[str, list[Point]] = field(default_factory=dict)
    """``train_loss`` and DPO metrics per logging step, by metric name."""
    val: dict[str, list[Point]] = field(default_factory=dict)
    """``val_loss`` and DPO metrics per evaluation (once per epoch)."""
    checkpoints: list[int] = field(default_factory=list)
    resumes: list[int] = field(default_factory=list)
    outcome: str | None = None
    """``completed`` or ``failed``, once the worker says so."""
    outcome_at: float | None = None
    message: str | None = None
    output_dir: str | None = None
    train_pairs: dict[str, float] = field(default_factory=dict)
    """Metrics of the trained model re-scored on (up to 256) training pairs."""

    @property
    def epochs_completed(self) -> int:
        done = self.steps_completed // max(1, self.steps_per_epoch)
        return min(self.epochs, done) if self.epochs else done

    @property
    def percentage_done(self) -> float:
        if self.outcome == "completed":
            return 100.0
        return round(100.0 * self.steps_completed / max(1, self.total_steps), 4)

    def to_json(self) -> JsonObj:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JsonObj) -> Progress:
        fields = dict(data)
        for key in ("train", "val"):
            fields[key] = {k: [Point(**p) for p in v] for k, v in data.get(key, {}).items()}
        return cls(**fields)


def parse_lines(text: str) -> list[JsonObj]:
    """Complete JSON lines only: a line still being written (no newline yet) waits."""
    events: list[JsonObj] = []
    for line in text.split("\n")[:-1]:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            events.append(obj)
    return events


def fold(events: list[JsonObj]) -> Progress:
    p = Progress()
    train: dict[str, dict[int, Point]] = {}
    val: dict[str, dict[int, Point]] = {}
    for ev in events:
        kind, at = ev.get("event"), float(ev.get("at", 0.0))
        step = int(ev.get("step") or 0)
        if kind == "started":
            p.total_steps = int(ev["total_steps"])
            p.steps_per_epoch = int(ev["steps_per_epoch"])
            p.epochs = int(ev["epochs"])
            p.pid = ev.get("pid")
            p.device = ev.get("device")
            if p.started_at is None:
                p.started_at = at
            if ev.get("resumed_from") is not None:
                p.resumes.append(int(ev["resumed_from"]))
                p.steps_completed = int(ev["resumed_from"])
        elif kind == "step":
            p.steps_completed = step
            p.epoch = float(ev.get("epoch") or 0.0)
        elif kind in ("log", "eval"):
            target = train if kind == "log" else val
            epoch = ev.get("epoch")
            for name, value in (ev.get("values") or {}).items():
                if isinstance(value, int | float):
                    target.setdefault(name, {})[step] = Point(step, float(value), at, epoch)
        elif kind == "checkpoint":
            if step not in p.checkpoints:
                p.checkpoints.append(step)
        elif kind in ("completed", "failed"):
            p.outcome, p.outcome_at = kind, at
            p.message = ev.get("message")
            p.output_dir = ev.get("output_dir")
            p.train_pairs = {
                k: float(v)
                for k, v in (ev.get("train_pairs") or {}).items()
                if isinstance(v, int | float)
            }
            if kind == "completed":
                p.steps_completed = p.total_steps = max(p.total_steps, step or p.steps_completed)
    p.train = {k: [v[s] for s in sorted(v)] for k, v in train.items()}
    p.val = {k: [v[s] for s in sorted(v)] for k, v in val.items()}
    return p
