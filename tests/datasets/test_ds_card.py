"""The dataset card: front matter the Hub and ``datasets`` read, lineage, determinism."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_datasets import (
    CARD,
    CARD_KEY,
    FILES,
    CardOptions,
    Counts,
    ExportFormat,
    Manifest,
    ManifestFile,
    ScoreStats,
    Source,
    SourceRange,
    dataset_card,
    file_key,
)
from prefstream_datasets.card import front_matter, size_category

STRING = {"dtype": "string"}
MESSAGES = {"list": [{"name": "role", "dtype": "string"}, {"name": "content", "dtype": "string"}]}


def _manifest(
    formats: tuple[ExportFormat, ...] = ("nemo",),
    *,
    validation: int = 2,
    policy_models: dict[str, int] | None = None,
    name: str = "nat-dpo-7",
    policy_filter: list[str] | None = None,
) -> Manifest:
    files = {}
    for fmt in formats:
        for i, (side, rows) in enumerate((("training", 8), ("validation", validation))):
            files[file_key(fmt, side)] = ManifestFile(
                path=FILES[fmt][i], sha256=f"{i}" * 64, rows=rows, bytes=100 * rows
            )
    return Manifest(
        dataset_id="0123456789abcdef0123456789abcdef",
        name=name,
        sequence=7,
        created_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        mode="incremental",
        trigger="min_new_pairs",
        counts=Counts(
            pairs=8 + validation,
            training=8,
            validation=validation,
            considered=14,
            duplicates=3,
            excluded_by_policy=1,
            not_sampled=0,
        ),
        files=files,
        export={},
        split={"level": "example", "validation_fraction": 0.2, "fallback": None},
        sampling={},
        dedup={},
        policy_models=policy_models if policy_models is not None else {"policy-a": 10},
        policy_filter=policy_filter,
        excluded_policy_models={"policy-b": 1} if policy_filter else {},
        scores={"reward": ScoreStats(min=0.25, max=1.0, mean=0.5)},
        source=Source(
            topic="prefstream.pairs.v1",
            partitions=[SourceRange(partition=0, start=10, end=20)],
        ),
    )


def _front(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    text, body = card[4:].split("\n---\n", 1)
    assert body.startswith("\n# ")
    meta = yaml.safe_load(text)
    assert isinstance(meta, dict)
    return meta


def test_configs_splits_and_features_per_format() -> None:
    formats: tuple[ExportFormat, ...] = ("nemo", "trl_standard", "trl_conversational")
    meta = _front(dataset_card(_manifest(formats), CardOptions()))
    assert [c["config_name"] for c in meta["configs"]] == list(formats)
    nemo, standard, conversational = meta["configs"]
    assert nemo["default"] is True
    assert "default" not in standard
    assert nemo["data_files"] == [
        {"split": "train", "path": "training/training_file.jsonl"},
        {"split": "validation", "path": "validation/validation_file.jsonl"},
    ]
    assert conversational["data_files"] == [
        {"split": "train", "path": "trl_conversational/train.jsonl"},
        {"split": "validation", "path": "trl_conversational/validation.jsonl"},
    ]
    info = {i["config_name"]: i for i in meta["dataset_info"]}
    assert info["nemo"]["features"] == [
        {"name": "prompt", **STRING},
        {"name": "chosen_response", **STRING},
        {"name": "rejected_response", **STRING},
    ]
    assert info["trl_standard"]["features"] == [
        {"name": n, **STRING} for n in ("prompt", "chosen", "rejected")
    ]
    assert info["trl_conversational"]["features"] == [
        {"name": n, **MESSAGES} for n in ("prompt", "chosen", "rejected")
    ]
    assert info["nemo"]["splits"] == [
        {"name": "train", "num_bytes": 800, "num_examples": 8},
        {"name": "validation", "num_bytes": 200, "num_examples": 2},
    ]
    assert meta["tags"] == ["dpo", "preference", "prefstream"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["pretty_name"] == "nat-dpo-7"
    assert "license" not in meta  # not stated unless configured


def test_only_the_formats_written_get_configs() -> None:
    meta = _front(dataset_card(_manifest(("nemo", "trl_conversational")), CardOptions()))
    assert [c["config_name"] for c in meta["configs"]] == ["nemo", "trl_conversational"]
    assert [i["config_name"] for i in meta["dataset_info"]] == ["nemo", "trl_conversational"]


def test_full_history_makes_the_nemo_prompt_a_message_list() -> None:
    meta = _front(dataset_card(_manifest(), CardOptions(use_full_message_history=True)))
    assert meta["dataset_info"][0]["features"][0] == {"name": "prompt", **MESSAGES}


def test_an_empty_split_is_left_out() -> None:
    """``datasets`` cannot load an empty file as a split (``validation_fraction: 0``)."""
    card = dataset_card(_manifest(("nemo", "trl_standard"), validation=0), CardOptions())
    meta = _front(card)
    for config, info in zip(meta["configs"], meta["dataset_info"], strict=True):
        assert [f["split"] for f in config["data_files"]] == ["train"]
        assert [s["name"] for s in info["splits"]] == ["train"]
    assert "An empty file is not declared as a split" in card


def test_license_and_lineage() -> None:
    manifest = _manifest(policy_filter=["policy-a"])
    card = dataset_card(manifest, CardOptions(license="apache-2.0"))
    meta = _front(card)
    assert meta["license"] == "apache-2.0"
    lineage = meta["prefstream"]
    assert lineage["dataset_id"] == manifest.dataset_id
    assert (lineage["name"], lineage["sequence"]) == ("nat-dpo-7", 7)
    assert lineage["created_at"] == "2026-03-01T12:00:00+00:00"
    assert lineage["counts"] == manifest.counts.model_dump()
    assert lineage["policy_models"] == {"policy-a": 10}
    assert lineage["policy_filter"] == ["policy-a"]
    assert lineage["excluded_policy_models"] == {"policy-b": 1}
    assert lineage["source"] == {
        "topic": "prefstream.pairs.v1",
        "partitions": [{"partition": 0, "start": 10, "end": 20}],
    }
    for text in (
        f"| dataset id | `{manifest.dataset_id}` |",
        "| pairs | 10 of 14 considered (3 duplicates, 1 excluded by policy, 0 not sampled) |",
        "| policy filter | `policy-a`; excluded: `policy-b` 1 |",
        "| `reward` | min 0.25, mean 0.5, max 1 |",
        "| source | `prefstream.pairs.v1` offsets partition 0: [10, 20) |",
        "| license | `apache-2.0` |",
    ):
        assert text in card


def test_prompt_rule_is_stated() -> None:
    formats: tuple[ExportFormat, ...] = ("nemo", "trl_standard")
    dropped = dataset_card(_manifest(formats), CardOptions())
    kept = dataset_card(_manifest(formats), CardOptions(keep_system=True))
    assert '("system" messages are dropped, as NAT does)' in dropped
    assert "`nemo` and `trl_standard` prompts are text" in dropped
    assert "joined by a blank line" in kept


def test_same_manifest_same_bytes_whatever_the_card_entry() -> None:
    """The batcher renders the card before listing it; listed, it renders the same."""
    manifest = _manifest(("nemo", "trl_standard"))
    card = dataset_card(manifest, CardOptions(license="mit"))
    assert dataset_card(_manifest(("nemo", "trl_standard")), CardOptions(license="mit")) == card
    listed = manifest.model_copy(
        update={
            "files": {
                **manifest.files,
                CARD_KEY: ManifestFile(path=CARD, sha256="a" * 64, rows=0, bytes=len(card)),
            }
        }
    )
    assert dataset_card(listed, CardOptions(license="mit")) == card
    assert dataset_card(manifest, CardOptions(license="apache-2.0")) != card


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


@settings(deadline=None, max_examples=60)
@given(models=st.dictionaries(NAMES, st.integers(0, 10**6), max_size=4), name=NAMES)
def test_any_names_keep_the_front_matter_and_tables_intact(
    models: dict[str, int], name: str
) -> None:
    """Policy model names come from agents: quotes, newlines, ``---``, pipes, YAML syntax."""
    manifest = _manifest(policy_models=models, name=name or "x")
    card = dataset_card(manifest, CardOptions())
    meta = _front(card)
    assert meta["prefstream"]["policy_models"] == models
    assert meta["pretty_name"] == (name or "x")
    lineage = card.split("## Lineage\n", 1)[1]
    for line in lineage.splitlines():
        if line.startswith("|"):
            assert line.replace("\\|", "").count("|") == 3, line


@pytest.mark.parametrize(
    ("pairs", "category"),
    [(1, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (50_000, "10K<n<100K"), (10**6, "1M<n<10M")],
)
def test_size_category(pairs: int, category: str) -> None:
    assert size_category(pairs) == category


def test_front_matter_is_the_parsed_yaml() -> None:
    manifest = _manifest(("nemo", "trl_conversational"))
    options = CardOptions(license="cc-by-4.0")
    assert _front(dataset_card(manifest, options)) == front_matter(manifest, options)
