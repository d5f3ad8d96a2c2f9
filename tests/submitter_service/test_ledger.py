"""The submitter's DuckDB ledger: idempotent add, durable rows, history, one writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prefstream_events import DatasetReady, JobStatus
from prefstream_stores.ledger import Ledger, LedgerLocked
from prefstream_submission.dataset_files import dataset_from_directory
from prefstream_submission.job_events import initial_event
from prefstream_submission.model import Step, lineage_of

from tests.support.fake_nemo import write_dataset


@pytest.fixture
def dataset(tmp_path: Path) -> DatasetReady:
    made = dataset_from_directory(write_dataset(tmp_path / "tic-7"))
    return made.model_copy(update={"sequence": 7})


def test_add_is_idempotent_and_rows_survive_reopening(
    tmp_path: Path, dataset: DatasetReady
) -> None:
    path = tmp_path / "ledger.duckdb"
    ledger = Ledger(path)
    sub = ledger.add(dataset)
    assert sub is not None
    assert ledger.add(dataset) is None
    sub.step, sub.job_id, sub.seq = Step.JOB_CREATED, "cust-1", 3
    sub.last_event = initial_event(sub, "ns").model_copy(
        update={"seq": 3, "status": JobStatus.CREATED}
    )
    sub.status = JobStatus.CREATED
    ledger.save(sub, "created job cust-1")
    ledger.close()

    reopened = Ledger(path)
    again = reopened.get(dataset.dataset_id)
    assert again is not None
    assert (again.step, again.job_id, again.seq, again.published_seq) == (
        Step.JOB_CREATED,
        "cust-1",
        3,
        0,
    )
    assert again.dataset == dataset
    assert again.last_event == sub.last_event
    assert [s.dataset_id for s in reopened.unpublished()] == [dataset.dataset_id]
    reopened.mark_published(again, 3)
    assert reopened.unpublished() == []
    assert reopened.status_counts() == {"created": 1}
    assert [d for _, _, d in reopened.history(dataset.dataset_id)] == [
        "received",
        "created job cust-1",
    ]
    assert [s.dataset_id for s in reopened.open_submissions()] == [dataset.dataset_id]


def test_lineage_strips_the_sequence_suffix(dataset: DatasetReady) -> None:
    assert lineage_of(dataset) == "tic"
    assert lineage_of(dataset.model_copy(update={"name": "tic-7b"})) == "tic-7b"


def test_a_second_process_on_the_same_file_is_told_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    held = Ledger(path)
    code = f"from prefstream_stores.ledger import Ledger; Ledger({str(path)!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    held.close()
    assert result.returncode == 1
    assert LedgerLocked.__name__ in result.stderr
    assert "same submitter.db_path" in result.stderr
