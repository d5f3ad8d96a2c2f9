"""The batcher's view of the config: NAT's trainer/adapter keys merged with ``batcher:``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefstream_config import PrefstreamConfig
from prefstream_datasets import ExportFormat, Thresholds, formats_to_write

DEFAULT_DATASET_NAME = "nat-dpo"
"""NAT's ``dataset_name`` default, used when no trainer adapter is configured."""


@dataclass(frozen=True, slots=True)
class BatcherSettings:
    dataset_name: str
    use_full_message_history: bool
    mode: str
    dedup: bool
    max_pairs: int | None
    seed: int
    validation_fraction: float
    policy_filter: list[str] | None
    thresholds: Thresholds
    datasets_dir: Path
    formats: tuple[ExportFormat, ...]
    keep_system: bool
    license: str | None
    db_path: str
    memory_limit: str
    pairs_topic: str
    datasets_topic: str
    control_topic: str
    deadletter_topic: str
    group_id: str
    batch_max_records: int

    @property
    def sample_cap(self) -> int | None:
        """Cumulative datasets are sampled down to ``max_pairs``; incremental ones never are
        (their cut size is capped instead, so no pair is left out)."""
        return self.max_pairs if self.mode == "cumulative" else None

    def name_of(self, sequence: int) -> str:
        return f"{self.dataset_name}-{sequence}"


def settings_from(config: PrefstreamConfig) -> BatcherSettings:
    """``batcher.max_pairs`` wins over the NAT trainer's ``max_pairs``; the adapter gives the
    dataset name and prompt format, with NAT's defaults when no adapter is configured."""
    b = config.batcher
    trainer = config.trainer()
    if config.has_adapter():
        adapter = config.adapter()
        name, full = adapter.dataset_name, adapter.use_full_message_history
    else:
        name, full = DEFAULT_DATASET_NAME, False
    max_pairs = b.max_pairs if b.max_pairs is not None else trainer.max_pairs
    size_cap = max_pairs if b.mode == "incremental" else None
    return BatcherSettings(
        dataset_name=name,
        use_full_message_history=full,
        mode=b.mode,
        dedup=trainer.deduplicate_pairs,
        max_pairs=max_pairs,
        seed=b.seed,
        validation_fraction=b.validation_fraction,
        policy_filter=list(b.policy_models) if b.policy_models is not None else None,
        thresholds=Thresholds(b.min_new_pairs, b.max_wait_seconds, b.min_pairs, size_cap),
        datasets_dir=Path(b.datasets_dir).resolve(),
        formats=formats_to_write(b.export_formats),
        keep_system=b.system_in_text_prompt,
        license=b.dataset_license,
        db_path=b.db_path,
        memory_limit=b.duckdb_memory_limit,
        pairs_topic=config.kafka.topics.pairs,
        datasets_topic=config.kafka.topics.datasets,
        control_topic=config.kafka.topics.control,
        deadletter_topic=config.kafka.topics.deadletter,
        group_id=b.group_id,
        batch_max_records=b.batch_max_records,
    )
