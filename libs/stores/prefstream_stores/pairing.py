"""The pairing service's DuckDB file: closed windows, their candidates, and the pairs.

One writer process owns the file. A window row is written in the same transaction as its
candidates and pairs, and it is what makes replays idempotent: the service checks that a
window never closed before it opens it (recent-close cache, then a Bloom filter of every
closed window, then :meth:`PairingStore.closed_windows`), so a replayed candidate of a
closed window is recognised instead of paired twice. No table has a primary key: an ART
index grows in memory with the file and is rewritten by every checkpoint (measured: a
3 s COMMIT at 2 M events with one on ``windows``), while the Bloom filter makes the
remaining lookups rare enough to scan.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa  # type: ignore[import-untyped]

SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    window_key BIGINT NOT NULL,
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
    candidate_indices VARCHAR NOT NULL,  -- comma-separated: appending lists is 3x slower
    pair_ids VARCHAR NOT NULL,           -- concatenated 32-char ids
    prompt VARCHAR NOT NULL              -- canonical JSON of the first candidate's prompt
);
CREATE TABLE IF NOT EXISTS candidates (
    window_key BIGINT NOT NULL,
    candidate_index BIGINT NOT NULL,
    score DOUBLE NOT NULL,
    prompt VARCHAR,  -- canonical JSON; NULL when it is the window's prompt
    output VARCHAR NOT NULL,
    policy_model VARCHAR,
    source_partition INTEGER,
    source_offset BIGINT,
    late BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS pair_scores (
    pair_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    window_key BIGINT NOT NULL,
    chosen_index BIGINT NOT NULL,
    rejected_index BIGINT NOT NULL,
    chosen_score DOUBLE NOT NULL,
    rejected_score DOUBLE NOT NULL,
    score_diff DOUBLE NOT NULL,
    reward DOUBLE NOT NULL,
    close_reason VARCHAR,
    created_at TIMESTAMP NOT NULL
);
CREATE OR REPLACE VIEW pairs AS
SELECT p.pair_id, p.content_hash, p.window_key, w.run_id, w.example_id, w.turn_id,
       coalesce(c.prompt, w.prompt) AS prompt, c.output AS chosen, r.output AS rejected,
       p.chosen_score, p.rejected_score, p.score_diff, p.reward, p.chosen_index, p.rejected_index,
       c.policy_model, r.policy_model AS rejected_policy_model, p.close_reason, p.created_at
FROM pair_scores p
JOIN windows w USING (window_key)
JOIN candidates c ON c.window_key = p.window_key AND c.candidate_index = p.chosen_index
JOIN candidates r ON r.window_key = p.window_key AND r.candidate_index = p.rejected_index;
"""
"""Pairs are stored normalised: a pair row holds ids and scores, its texts live once in
``candidates`` (a pair repeats its prompt and two outputs, so writing them again would
triple the bytes per event). The ``pairs`` view gives the full rows."""

WindowRow = tuple[Any, ...]
"""(window_key, window_id, run_id, example_id, turn_id, source_partition, first_offset,
last_offset, close_reason, closed_at, num_candidates, candidate_indices, pair_ids,
prompt_json); indices and ids encoded with :func:`encode_indices` / :func:`encode_pair_ids`."""
CandidateRow = tuple[Any, ...]
"""(window_key, candidate_index, score, prompt_json, output, policy_model,
source_partition, source_offset, late)"""
PairRow = tuple[Any, ...]
"""The ``pair_scores`` columns in order."""

PAIR_ID_CHARS = 32
PAIR_COLUMNS = (
    "pair_id",
    "content_hash",
    "window_key",
    "chosen_index",
    "rejected_index",
    "chosen_score",
    "rejected_score",
    "score_diff",
    "reward",
    "close_reason",
    "created_at",
)


def encode_indices(indices: Iterable[int]) -> str:
    return ",".join(map(str, indices))


def decode_indices(text: str) -> set[int]:
    return {int(x) for x in text.split(",")} if text else set()


def encode_pair_ids(ids: Iterable[str]) -> str:
    return "".join(ids)


def decode_pair_ids(text: str) -> set[str]:
    return {text[i : i + PAIR_ID_CHARS] for i in range(0, len(text), PAIR_ID_CHARS)}


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
        memory_limit: str = "256MB",
        threads: int = 1,
        checkpoint_threshold: str = "100GB",
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # An automatic checkpoint runs inside COMMIT and stalls it (up to seconds on a busy
        # disk), so it is pushed out of reach: the service checkpoints on a thread of its
        # own (:meth:`checkpoint`), which DuckDB runs concurrently with the writer, as
        # soon as the WAL passes a few tens of MB. Data not yet checkpointed stays in
        # memory, so this also bounds RSS. Measured: docs/performance.md.
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
        # Reads run on the event loop while a transaction is written on a worker thread:
        # a cursor is a connection of its own, and sees committed data only.
        self.reader = self.con.cursor()
        self._checkpointer = self.con.cursor()
        self._in_tx = False
        self.dirty = False

    # -- reads ---------------------------------------------------------------------------

    def closed_windows(self, keys: Iterable[int]) -> dict[int, StoredWindow]:
        """Which of ``keys`` are closed windows: a scan of one BIGINT column, run only for
        keys the service's Bloom filter could not rule out (replays, late candidates)."""
        wanted = sorted(set(keys))
        out: dict[int, StoredWindow] = {}
        for i in range(0, len(wanted), 2000):
            chunk = wanted[i : i + 2000]
            sql = (
                "SELECT window_key, candidate_indices, pair_ids FROM windows "
                f"WHERE window_key IN ({','.join(str(int(k)) for k in chunk)})"
            )
            for key, indices, pair_ids in self.reader.execute(sql).fetchall():
                out[key] = StoredWindow(decode_indices(indices), decode_pair_ids(pair_ids))
        return out

    def window_keys(self) -> Iterator[int]:
        """Every closed window's key, streamed (startup: fills the service's Bloom filter
        without holding millions of ints at once)."""
        cursor = self.reader.execute("SELECT window_key FROM windows")
        while rows := cursor.fetchmany(65_536):
            for (key,) in rows:
                yield key

    def window_candidates(self, keys: Iterable[int]) -> dict[int, list[StoredCandidate]]:
        """Stored candidates of closed windows, for re-pairing with late arrivals (rare)."""
        wanted = sorted(set(keys))
        out: dict[int, list[StoredCandidate]] = {k: [] for k in wanted}
        if not wanted:
            return out
        sql = (
            "SELECT c.window_key, c.candidate_index, c.score, coalesce(c.prompt, w.prompt), "
            "c.output, c.policy_model FROM candidates c JOIN windows w USING (window_key) "
            f"WHERE c.window_key IN ({','.join(str(int(k)) for k in wanted)}) "
            "ORDER BY c.window_key, c.candidate_index"
        )
        for key, idx, score, prompt, output, policy in self.reader.execute(sql).fetchall():
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
            for table, rows in (("windows", windows), ("candidates", candidates)):
                if rows:
                    appender = self.con.appender(table)
                    appender.append_rows(rows)
                    appender.flush()
            if pairs:
                # Narrow numeric rows go faster as Arrow columns than through the appender.
                batch = pa.table(
                    {
                        name: pa.array(col)
                        for name, col in zip(PAIR_COLUMNS, zip(*pairs, strict=True), strict=True)
                    }
                )
                self.con.register("_pair_batch", batch)
                try:
                    self.con.execute("INSERT INTO pair_scores SELECT * FROM _pair_batch")
                finally:
                    self.con.unregister("_pair_batch")
            for u in updates:
                self.con.execute(
                    "UPDATE windows SET candidate_indices = ?, pair_ids = ?, num_candidates = ? "
                    "WHERE window_key = ?",
                    [
                        encode_indices(u.candidate_indices),
                        encode_pair_ids(u.pair_ids),
                        len(u.candidate_indices),
                        u.window_key,
                    ],
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

    def wal_bytes(self) -> int:
        try:
            return Path(self.path + ".wal").stat().st_size
        except OSError:
            return 0

    def checkpoint(self) -> None:
        """Fold the WAL into the file, on a cursor of its own: safe to run on another thread
        while the writer stages and commits (DuckDB lets both proceed)."""
        self._checkpointer.execute("CHECKPOINT")
        self.dirty = False

    def close(self) -> None:
        self.rollback()
        with contextlib.suppress(duckdb.Error):
            self.checkpoint()
        for cursor in (self.reader, self._checkpointer):
            with contextlib.suppress(duckdb.Error):
                cursor.close()
        self.con.close()

    # -- inspection (tests, ops) ---------------------------------------------------------

    def pair_ids(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT pair_id FROM pair_scores").fetchall()]

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("windows", "candidates", "pair_scores"):
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            out[table] = int(row[0]) if row else 0
        return out


def read_pair_ids(path: str | Path) -> list[str]:
    """Pair ids of a store file, opened read-only (the writer must have exited)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT pair_id FROM pair_scores").fetchall()]
    finally:
        con.close()


def prompt_json(prompt_key: bytes) -> str:
    return prompt_key.decode()


def prompt_from_json(text: str) -> Any:
    return msgspec.json.decode(text)


def utc_naive(ts: datetime) -> datetime:
    """DuckDB TIMESTAMP is naive; store UTC."""
    return ts.replace(tzinfo=None)
