"""What a cut is: the spec that determines a dataset's contents, the states of its record,
and the selection of its pairs.

A :class:`CutSpec` is everything that decides which pairs a dataset holds and how they are
split and ordered, so the same spec always yields the same dataset. The batcher records
one per cut (``prefstream_stores.batcher``, the cut log) and derives every query from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from prefstream_datasets.split import SplitRule


class DatasetState(StrEnum):
    """Where a cut's dataset stands, as its cut record says."""

    DECIDED = "decided"
    """Cut decided and recorded; files not yet in place."""
    RESTORED = "restored"
    """Known from an earlier announcement (datasets topic); files may need rebuilding."""
    WRITTEN = "written"
    """Files and manifest in place; ``event`` holds the DatasetReady to publish."""
    ANNOUNCED = "announced"


@dataclass(frozen=True, slots=True)
class CutSpec:
    """Everything that determines a dataset's contents (persisted as JSON)."""

    sequence: int
    name: str
    mode: str
    trigger: str
    created_at: datetime
    starts: dict[int, int]
    ends: dict[int, int]
    dedup: bool
    max_pairs: int | None
    """Sampling cap (cumulative mode); ``None`` keeps every selected pair."""
    seed: int
    validation_fraction: float
    policy_filter: list[str] | None = None
    request_id: str | None = None
    topic: str = ""

    def to_json(self) -> str:
        data = {
            "sequence": self.sequence,
            "name": self.name,
            "mode": self.mode,
            "trigger": self.trigger,
            "created_at": self.created_at.isoformat(),
            "starts": {str(k): v for k, v in sorted(self.starts.items())},
            "ends": {str(k): v for k, v in sorted(self.ends.items())},
            "dedup": self.dedup,
            "max_pairs": self.max_pairs,
            "seed": self.seed,
            "validation_fraction": self.validation_fraction,
            "policy_filter": self.policy_filter,
            "request_id": self.request_id,
            "topic": self.topic,
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CutSpec:
        d = json.loads(text)
        return cls(
            sequence=d["sequence"],
            name=d["name"],
            mode=d["mode"],
            trigger=d["trigger"],
            created_at=datetime.fromisoformat(d["created_at"]),
            starts={int(k): v for k, v in d["starts"].items()},
            ends={int(k): v for k, v in d["ends"].items()},
            dedup=d["dedup"],
            max_pairs=d["max_pairs"],
            seed=d["seed"],
            validation_fraction=d["validation_fraction"],
            policy_filter=d["policy_filter"],
            request_id=d["request_id"],
            topic=d.get("topic", ""),
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """A cut's pairs: the spec plus, when sampled, the largest ``(sample_key, pair_id)`` kept."""

    spec: CutSpec
    sample_bound: tuple[int, str] | None = None
    rule: SplitRule | None = None
