"""The whole cut in memory: dedup, policy filter, seeded sample, split, rows.

This is the reference the batcher's SQL path must agree with: the tests compare the two
byte for byte. Runtime code never uses it. Steps run in NAT's order: dedup over everything
first, then prefstream's policy filter, then sampling to ``max_pairs``, then the split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prefstream_datasets.dedup import deduplicate
from prefstream_datasets.manifest import file_key
from prefstream_datasets.policy import policy_allowed, policy_key
from prefstream_datasets.rows import (
    FILES,
    ExportFormat,
    formats_to_write,
    pair_fragments,
    render,
    template,
)
from prefstream_datasets.sampling import sample
from prefstream_datasets.split import Side, SplitRule, split
from prefstream_datasets.writer import FileDigest, HashingWriter
from prefstream_events import PairEvent


@dataclass(frozen=True, slots=True)
class DatasetOptions:
    dedup: bool = True
    max_pairs: int | None = None
    seed: int = 0
    validation_fraction: float = 0.2
    policy_models: Sequence[str] | None = None
    use_full_message_history: bool = False
    export_formats: Sequence[ExportFormat] = ("nemo",)
    keep_system: bool = False


@dataclass(frozen=True, slots=True)
class DatasetPlan:
    rule: SplitRule
    training: list[PairEvent]
    validation: list[PairEvent]
    considered: int
    duplicates: int
    excluded_policy_models: dict[str, int] = field(default_factory=dict)
    not_sampled: int = 0

    @property
    def pairs(self) -> list[PairEvent]:
        """Distinct pairs, training first (a duplicated single pair appears once)."""
        seen: set[str] = set()
        out = []
        for p in (*self.training, *self.validation):
            if p.pair_id not in seen:
                seen.add(p.pair_id)
                out.append(p)
        return out


def plan_dataset(pairs: Sequence[PairEvent], options: DatasetOptions) -> DatasetPlan:
    """Plan a cut of ``pairs``; the input order is the order of rows in the files."""
    unique = list(deduplicate(pairs)) if options.dedup else list(pairs)
    allowed = [p for p in unique if policy_allowed(p.policy_model, options.policy_models)]
    excluded = Counter(
        policy_key(p.policy_model)
        for p in unique
        if not policy_allowed(p.policy_model, options.policy_models)
    )
    sampled = sample(allowed, options.max_pairs, options.seed)
    rule, training, validation = split(
        sampled, options.validation_fraction, lambda p: p.example_id, lambda p: p.pair_id
    )
    return DatasetPlan(
        rule=rule,
        training=training,
        validation=validation,
        considered=len(pairs),
        duplicates=len(pairs) - len(unique),
        excluded_policy_models=dict(excluded),
        not_sampled=len(allowed) - len(sampled),
    )


def write_files(root: Path, plan: DatasetPlan, options: DatasetOptions) -> dict[str, FileDigest]:
    """Write every configured format's two files under ``root`` (row by row, in Python)."""
    digests: dict[str, FileDigest] = {}
    for fmt in formats_to_write(options.export_formats):
        tpl = template(fmt, options.use_full_message_history, keep_system=options.keep_system)
        for side, items in ((Side.TRAINING, plan.training), (Side.VALIDATION, plan.validation)):
            relpath = FILES[fmt][0 if side is Side.TRAINING else 1]
            with HashingWriter(root, relpath) as out:
                for p in items:
                    out.write(render(tpl, pair_fragments(p)).encode(), 1)
            digests[file_key(fmt, side.value)] = out.close()
    return digests
