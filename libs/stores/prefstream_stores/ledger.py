"""The submitter's ledger: one row per dataset, one history row per step, in DuckDB.

The ledger is what makes submission exactly-once across crashes. Every remote side effect
is bracketed by it: a step is written *before* the call that might create something
(``job_requested``) and *after* the call succeeded (``job_created``), so a restarted
submitter knows which creates may have happened and must be looked up first.

Event ``seq`` lives here too: an event is written (``seq``) before it is published and
marked published (``published_seq``) after the broker acknowledged it, so a restart
re-publishes the last event instead of skipping or renumbering it.

One process owns the file (DuckDB takes a write lock); all calls run on the owner's
event-loop thread, so there is exactly one writer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefstream_events import DatasetReady, JobStatus, JobStatusEvent
from prefstream_submission.model import Step, Submission, lineage_of

_COLUMNS = (
    "dataset_id",
    "ordinal",
    "lineage",
    "sequence",
    "name",
    "step",
    "status",
    "closed",
    "seq",
    "published_seq",
    "job_id",
    "output_model",
    "commit_oid",
    "dataset_entity_id",
    "deployment_name",
    "error",
    "dataset_json",
    "last_event_json",
    "received_at",
    "started_at",
    "job_created_at",
    "updated_at",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    dataset_id VARCHAR PRIMARY KEY,
    ordinal BIGINT NOT NULL,
    lineage VARCHAR NOT NULL,
    sequence BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    closed BOOLEAN NOT NULL,
    seq BIGINT NOT NULL,
    published_seq BIGINT NOT NULL,
    job_id VARCHAR,
    output_model VARCHAR,
    commit_oid VARCHAR,
    dataset_entity_id VARCHAR,
    deployment_name VARCHAR,
    error VARCHAR,
    dataset_json VARCHAR NOT NULL,
    last_event_json VARCHAR,
    received_at DOUBLE NOT NULL,
    started_at DOUBLE,
    job_created_at DOUBLE,
    updated_at DOUBLE NOT NULL,
    traceparent VARCHAR
);
ALTER TABLE submissions ADD COLUMN IF NOT EXISTS traceparent VARCHAR;
CREATE TABLE IF NOT EXISTS submission_steps (
    dataset_id VARCHAR NOT NULL,
    recorded_at DOUBLE NOT NULL,
    step VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    detail VARCHAR
);
"""


class LedgerLocked(RuntimeError):
    """Another process holds the ledger file."""


class Ledger:
    """DuckDB-backed ledger. ``path`` may be ``":memory:"`` (the one-shot CLI uses that)."""

    def __init__(self, path: str | Path) -> None:
        import duckdb

        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = duckdb.connect(self.path)
        except duckdb.IOException as exc:
            raise LedgerLocked(
                f"cannot open the submitter ledger {self.path}: {exc}. Another submitter "
                "probably runs with the same submitter.db_path; stop it or give this one "
                "its own db_path."
            ) from exc
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- writes ---------------------------------------------------------------------------

    def add(self, dataset: DatasetReady) -> Submission | None:
        """Record a dataset as queued; ``None`` if it is already known (a re-delivery)."""
        if self.get(dataset.dataset_id) is not None:
            return None
        self._db.execute("BEGIN TRANSACTION")
        try:
            row = self._db.execute("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM submissions")
            ordinal = int(_one(row.fetchone()))
            sub = Submission(dataset=dataset, ordinal=ordinal, lineage=lineage_of(dataset))
            self._insert(sub)
            self._history(sub, "received")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return sub

    def save(self, sub: Submission, detail: str | None = None) -> None:
        """Write the whole row and a history line, atomically."""
        sub.updated_at = time.time()
        values = _values(sub)
        assignments = ", ".join(f"{c} = ?" for c in _COLUMNS[1:])
        self._db.execute("BEGIN TRANSACTION")
        try:
            self._db.execute(
                f"UPDATE submissions SET {assignments} WHERE dataset_id = ?",
                [*values[1:], values[0]],
            )
            self._history(sub, detail)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def mark_published(self, sub: Submission, seq: int) -> None:
        sub.published_seq = max(sub.published_seq, seq)
        self._db.execute(
            "UPDATE submissions SET published_seq = ? WHERE dataset_id = ?",
            [sub.published_seq, sub.dataset_id],
        )

    def set_traceparent(self, dataset_id: str, traceparent: str) -> None:
        """Keep the DatasetReady's trace context: a restarted submitter's job events stay
        in the dataset's trace."""
        self._db.execute(
            "UPDATE submissions SET traceparent = ? WHERE dataset_id = ?",
            [traceparent, dataset_id],
        )

    # -- reads ----------------------------------------------------------------------------

    def traceparent(self, dataset_id: str) -> str | None:
        row = self._db.execute(
            "SELECT traceparent FROM submissions WHERE dataset_id = ?", [dataset_id]
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def get(self, dataset_id: str) -> Submission | None:
        rows = self._select("WHERE dataset_id = ?", [dataset_id])
        return next(iter(rows), None)

    def open_submissions(self) -> list[Submission]:
        """Not closed, in arrival order: what a (re)started submitter must carry on with."""
        return list(self._select("WHERE NOT closed ORDER BY ordinal", []))

    def unpublished(self) -> list[Submission]:
        """Rows whose last event may not have reached the broker (crash before the ack)."""
        return list(self._select("WHERE published_seq < seq ORDER BY ordinal", []))

    def all(self) -> list[Submission]:
        return list(self._select("ORDER BY ordinal", []))

    def status_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) FROM submissions GROUP BY status")
        return {str(status): int(count) for status, count in rows.fetchall()}

    def history(self, dataset_id: str) -> list[tuple[str, str, str | None]]:
        """``(step, status, detail)`` in order: what happened to one dataset."""
        rows = self._db.execute(
            "SELECT step, status, detail FROM submission_steps WHERE dataset_id = ? "
            "ORDER BY recorded_at, rowid",
            [dataset_id],
        )
        return [(str(s), str(st), d) for s, st, d in rows.fetchall()]

    # -- internals ------------------------------------------------------------------------

    def _insert(self, sub: Submission) -> None:
        marks = ", ".join("?" for _ in _COLUMNS)
        self._db.execute(
            f"INSERT INTO submissions ({', '.join(_COLUMNS)}) VALUES ({marks})", _values(sub)
        )

    def _history(self, sub: Submission, detail: str | None) -> None:
        self._db.execute(
            "INSERT INTO submission_steps VALUES (?, ?, ?, ?, ?, ?)",
            [sub.dataset_id, time.time(), sub.step.value, sub.status.value, sub.seq, detail],
        )

    def _select(self, where: str, params: list[Any]) -> Iterator[Submission]:
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM submissions {where}", params)
        for row in rows.fetchall():
            yield _from_row(dict(zip(_COLUMNS, row, strict=True)))


def _one(row: tuple[Any, ...] | None) -> Any:
    if row is None:
        raise RuntimeError("query returned no row")
    return row[0]


def _values(sub: Submission) -> list[Any]:
    return [
        sub.dataset_id,
        sub.ordinal,
        sub.lineage,
        sub.dataset.sequence,
        sub.dataset.name,
        sub.step.value,
        sub.status.value,
        sub.closed,
        sub.seq,
        sub.published_seq,
        sub.job_id,
        sub.output_model,
        sub.commit_oid,
        sub.dataset_entity_id,
        sub.deployment_name,
        sub.error,
        sub.dataset.model_dump_json(),
        sub.last_event.model_dump_json() if sub.last_event is not None else None,
        sub.received_at,
        sub.started_at,
        sub.job_created_at,
        sub.updated_at,
    ]


def _from_row(row: dict[str, Any]) -> Submission:
    last = row["last_event_json"]
    return Submission(
        dataset=DatasetReady.model_validate(json.loads(row["dataset_json"])),
        ordinal=int(row["ordinal"]),
        lineage=str(row["lineage"]),
        step=Step(row["step"]),
        status=JobStatus(row["status"]),
        closed=bool(row["closed"]),
        seq=int(row["seq"]),
        published_seq=int(row["published_seq"]),
        last_event=JobStatusEvent.model_validate_json(last) if last else None,
        job_id=row["job_id"],
        output_model=row["output_model"],
        commit_oid=row["commit_oid"],
        dataset_entity_id=row["dataset_entity_id"],
        deployment_name=row["deployment_name"],
        error=row["error"],
        received_at=float(row["received_at"]),
        started_at=row["started_at"],
        job_created_at=row["job_created_at"],
        updated_at=float(row["updated_at"]),
    )
