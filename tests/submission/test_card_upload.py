"""A batcher-cut dataset goes to the Data Store with its card and the files the card names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefstream_events import DatasetReady, JobStatus
from prefstream_submission.dataset_files import InvalidDataset, file_hashes, local_files

from tests.submission.test_flow import NS, Harness
from tests.support.batcher_cut import cut_dataset, question_pairs

NEMO = ["training/training_file.jsonl", "validation/validation_file.jsonl"]
TRL = ["trl_standard/train.jsonl", "trl_standard/validation.jsonl"]


@pytest.fixture
def cut(tmp_path: Path) -> DatasetReady:
    return cut_dataset(
        tmp_path / "cut", question_pairs(20, examples=5), formats=("trl_standard",), name="dpo-1"
    )


async def test_the_card_and_the_formats_it_declares_are_uploaded(
    tmp_path: Path, cut: DatasetReady
) -> None:
    h = Harness(tmp_path, cut)
    sub = await h.run()

    assert sub.status is JobStatus.COMPLETED
    assert h.platform.commits == [(f"{NS}/dpo-1", [*NEMO, "README.md", *TRL])]
    assert "manifest.json" not in h.platform.repos[f"{NS}/dpo-1"]


def test_a_hand_made_directory_uploads_its_two_files(tmp_path: Path, cut: DatasetReady) -> None:
    """No manifest, no card: what was uploaded before cards existed."""
    Path(cut.manifest_path).unlink()
    assert [f.path_in_repo for f in local_files(cut)] == NEMO


def test_a_card_changed_after_the_cut_is_refused(cut: DatasetReady) -> None:
    card = Path(cut.directory) / "README.md"
    card.write_text(card.read_text() + "edited\n")
    with pytest.raises(InvalidDataset, match=r"README\.md: .* does not match manifest\.json"):
        local_files(cut)


def test_a_changed_manifest_is_refused(cut: DatasetReady) -> None:
    manifest = Path(cut.manifest_path)
    manifest.write_bytes(manifest.read_bytes() + b" ")
    with pytest.raises(InvalidDataset, match=r"manifest\.json: .* changed after the dataset"):
        local_files(cut)


def test_a_manifest_naming_a_file_outside_the_directory_is_refused(
    tmp_path: Path, cut: DatasetReady
) -> None:
    (tmp_path / "secret").write_text("x")
    manifest = Path(cut.manifest_path)
    data = json.loads(manifest.read_text())
    data["files"]["card"]["path"] = "../../../secret"
    manifest.write_text(json.dumps(data))
    forged = cut.model_copy(update={"manifest_sha256": file_hashes(manifest)[1]})
    with pytest.raises(InvalidDataset, match="not inside"):
        local_files(forged)
