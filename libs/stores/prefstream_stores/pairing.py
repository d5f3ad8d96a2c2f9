"""The pairing service's DuckDB file: closed windows, their candidates, and the pairs.

One writer process owns the file. A window row is written in the same transaction as its
candidates and pairs, and its primary key is what makes replays idempotent: the service
asks which windows are already closed before it opens one, so a replayed candidate of a
closed window is recognised instead of paired twice. Candidates and pairs carry no primary
key of their own: uniqueness follows from the window row (one writer, one transaction),
and leaving out two large ART indexes keeps memory flat as the file grows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec

SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    window_key BIGINT PRIMARY KEY,
    window_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    example_id VARCHAR NOT NULL,
    turn_id VARCHAR NOT NULL,
    source_partition INTEGER,
    first_offset BIGINT,
    last_offset BIGINT,
    close_reason VARCHAR NOT NULL,
    closed_at TIMESTAMP NOT NULL,
    num_candidates INTEGER NOT NULL,
    candidate_indices BIGINT[] NOT NULL,
    pair_ids VARCHAR[] NOT NULL
);
CREATE TABLE IF NOT EXISTS candidates (
    window_key BIGINT NOT NULL,
    run_id VARCHAR NOT NULL,
    example_id VARCHAR NOT NULL,
    turn_id VARCHAR NOT NULL,
    candidate_index BIGINT NOT NULL,
    score DOUBLE NOT NULL,
    prompt VARCHAR NOT NULL,
    output VARCHAR NOT NULL,
    policy_model VARCHAR,
    source_partition INTEGER,
    source_offset BIGINT,
    late BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS pairs (
    pair_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    window_key BIGINT NOT NULL,
    run_id VARCHAR NOT NULL,
    example_id VARCHAR NOT NULL,
    turn_id VARCHAR NOT NULL,
    prompt VARCHAR NOT NULL,
    chosen VARCHAR NOT NULL,
    rejected VARCHAR NOT NULL,
    chosen_score DOUBLE NOT NULL,
    rejected_score DOUBLE NOT NULL,
    score_diff DOUBLE NOT NULL,
    reward DOUBLE NOT NULL,
    chosen_index BIGINT NOT NULL,
    rejected_index BIGINT NOT NULL,
    ttc_step_name VARCHAR NOT NULL,
    policy_model VARCHAR,
    rejected_policy_model VARCHAR,
    close_reason VARCHAR,
    created_at TIMESTAMP NOT NULL
);
"""

WindowRow = tuple[Any, ...]
"""(window_key, window_id, run_id, example_id, turn_id, source_partition, first_offset,
last_offset, close_reason, closed_at, num_candidates, candidate_indices, pair_ids)"""
CandidateRow = tuple[Any, ...]
"""(window_key, run_id, example_id, turn_id, candidate_index, score, prompt_json, output,
policy_model, source_partition, source_offset, late)"""
PairRow = tuple[Any, ...]
"""The ``pairs`` columns in order."""


@dataclass(slots=True)
class StoredWindow:
    candidate_indices: set[int]
    pair_ids: set[str]


@dataclass(slots=True)
class StoredCandidate:
    candidate_index: int
    score: float
    prompt_json: str
    output: str
    policy_model: str | None


@dataclass(slots=True)
class WindowUpdate:
    """A late candidate joined a closed window: its new indices, pairs and count."""

    window_key: int
    candidate_indices: list[int]
    pair_ids: list[str]


class PairingStore:
    """Batched, transactional writes; reads are only what the single writer needs."""

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "512MB",
        threads: int = 1,
        checkpoint_threshold: str = "1GB",
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # A large checkpoint threshold keeps automatic checkpoints out of COMMIT (they
        # stall it for 100s of ms); the service checkpoints explicitly when idle.
        self.con = duckdb.connect(
            self.path,
            config={
                "memory_limit": memory_limit,
                "threads": threads,
                "checkpoint_threshold": checkpoint_threshold,
                "preserve_insertion_order": False,
            },
        )
        self.con.execute(SCHEMA)
        self._in_tx = False
        self.dirty = False

    # -- reads ---------------------------------------------------------------------------

    def closed_windows(self, keys: Iterable[int]) -> dict[int, StoredWindow]:
        """Which of ``keys`` are closed windows. A constant IN-list uses the primary-key
        index, so the cost stays flat as the table grows (unlike a join)."""
        wanted = sorted(set(keys))
        out: dict[int, StoredWindow] = {}
        for i in range(0, len(wanted), 2000):
            chunk = wanted[i : i + 2000]
            sql = (
                "SELECT window_key, candidate_indices, pair_ids FROM windows "
                f"WHERE window_key IN ({','.join(str(int(k)) for k in chunk)})"
            )
            for key, indices, pair_ids in self.con.execute(sql).fetchall():
                out[key] = StoredWindow(set(indices), set(pair_ids))
        return out

    def window_candidates(self, keys: Iterable[int]) -> dict[int, list[StoredCandidate]]:
        """Stored candidates of closed windows, for re-pairing with late arrivals (rare)."""
        wanted = sorted(set(keys))
        out: dict[int, list[StoredCandidate]] = {k: [] for k in wanted}
        if not wanted:
            return out
        sql = (
            "SELECT window_key, candidate_index, score, prompt, output, policy_model "
            f"FROM candidates WHERE window_key IN ({','.join(str(int(k)) for k in wanted)}) "
            "ORDER BY window_key, candidate_index"
        )
        for key, idx, score, prompt, output, policy in self.con.execute(sql).fetchall():
            out[key].append(StoredCandidate(idx, score, prompt, output, policy))
        return out

    # -- writes --------------------------------------------------------------------------

    def stage(
        self,
        windows: Sequence[WindowRow],
        candidates: Sequence[CandidateRow],
        pairs: Sequence[PairRow],
        updates: Sequence[WindowUpdate] = (),
    ) -> None:
        """Open a transaction and append everything; :meth:`commit` makes it durable.

        Split from commit so the caller can overlap this work with waiting for broker acks
        and still commit only once the pairs are published.
        """
        if self._in_tx:
            raise RuntimeError("a staged transaction is still open")
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            for table, rows in (("windows", windows), ("candidates", candidates), ("pairs", pairs)):
                if rows:
                    appender = self.con.appender(table)
                    appender.append_rows(rows)
                    appender.flush()
            for u in updates:
                self.con.execute(
                    "UPDATE windows SET candidate_indices = ?, pair_ids = ?, num_candidates = ? "
                    "WHERE window_key = ?",
                    [u.candidate_indices, u.pair_ids, len(u.candidate_indices), u.window_key],
                )
        except BaseException:
            self.rollback()
            raise

    def commit(self) -> None:
        if self._in_tx:
            self.con.execute("COMMIT")
            self._in_tx = False
            self.dirty = True

    def rollback(self) -> None:
        if self._in_tx:
            self._in_tx = False
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")

    def write(
        self,
        windows: Sequence[WindowRow],
        candidates: Sequence[CandidateRow],
        pairs: Sequence[PairRow],
        updates: Sequence[WindowUpdate] = (),
    ) -> None:
        self.stage(windows, candidates, pairs, updates)
        self.commit()

    def checkpoint(self) -> None:
        """Fold the WAL into the file; run when idle, never inside the hot path."""
        if self.dirty and not self._in_tx:
            self.con.execute("CHECKPOINT")
            self.dirty = False

    def close(self) -> None:
        self.rollback()
        with contextlib.suppress(duckdb.Error):
            self.checkpoint()
        self.con.close()

    # -- inspection (tests, ops) ---------------------------------------------------------

    def pair_ids(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT pair_id FROM pairs").fetchall()]

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("windows", "candidates", "pairs"):
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            out[table] = int(row[0]) if row else 0
        return out


def read_pair_ids(path: str | Path) -> list[str]:
    """Pair ids of a store file, opened read-only (the writer must have exited)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT pair_id FROM pairs").fetchall()]
    finally:
        con.close()


def prompt_json(prompt_key: bytes) -> str:
    return prompt_key.decode()


def prompt_from_json(text: str) -> Any:
    return msgspec.json.decode(text)


def utc_naive(ts: datetime) -> datetime:
    """DuckDB TIMESTAMP is naive; store UTC."""
    return ts.replace(tzinfo=None)
