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
from typing import Any, Generic, TypeVar

import duckdb
import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
from msgspec.structs import astuple

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


class WindowRow(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One ``windows`` row, fields in column order; built by keyword, patched with
    ``msgspec.structs.replace``.
    ``candidate_indices`` and ``pair_ids`` are encoded with :func:`encode_indices` /
    :func:`encode_pair_ids`; ``prompt`` is the canonical JSON of the first candidate's prompt."""

    window_key: int
    window_id: str
    run_id: str
    example_id: str
    turn_id: str
    source_partition: int | None
    first_offset: int | None
    last_offset: int | None
    close_reason: str
    closed_at: datetime
    num_candidates: int
    candidate_indices: str
    pair_ids: str
    prompt: str


class CandidateRow(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One ``candidates`` row, fields in column order; ``prompt`` is the canonical JSON,
    ``None`` when it is the window's prompt."""

    window_key: int
    candidate_index: int
    score: float
    prompt: str | None
    output: str
    policy_model: str | None
    source_partition: int | None
    source_offset: int | None
    late: bool


class PairRow(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """One ``pair_scores`` row, fields in column order."""

    pair_id: str
    content_hash: str
    window_key: int
    chosen_index: int
    rejected_index: int
    chosen_score: float
    rejected_score: float
    score_diff: float
    reward: float
    close_reason: str | None
    created_at: datetime


PAIR_ID_CHARS = 32
# The row Structs describe the tables (fields in column order) and carry the rare single
# rows (late candidates, tests); the service's batches are :class:`Columns`.

ARROW_TYPES: dict[str, pa.Schema] = {
    "windows": pa.schema(
        [
            ("window_key", pa.int64()),
            ("window_id", pa.string()),
            ("run_id", pa.string()),
            ("example_id", pa.string()),
            ("turn_id", pa.string()),
            ("source_partition", pa.int32()),
            ("first_offset", pa.int64()),
            ("last_offset", pa.int64()),
            ("close_reason", pa.string()),
            ("closed_at", pa.timestamp("us")),
            ("num_candidates", pa.int32()),
            ("candidate_indices", pa.string()),
            ("pair_ids", pa.string()),
            ("prompt", pa.string()),
        ]
    ),
    "candidates": pa.schema(
        [
            ("window_key", pa.int64()),
            ("candidate_index", pa.int64()),
            ("score", pa.float64()),
            ("prompt", pa.string()),
            ("output", pa.string()),
            ("policy_model", pa.string()),
            ("source_partition", pa.int32()),
            ("source_offset", pa.int64()),
            ("late", pa.bool_()),
        ]
    ),
    "pair_scores": pa.schema(
        [
            ("pair_id", pa.string()),
            ("content_hash", pa.string()),
            ("window_key", pa.int64()),
            ("chosen_index", pa.int64()),
            ("rejected_index", pa.int64()),
            ("chosen_score", pa.float64()),
            ("rejected_score", pa.float64()),
            ("score_diff", pa.float64()),
            ("reward", pa.float64()),
            ("close_reason", pa.string()),
            ("created_at", pa.timestamp("us")),
        ]
    ),
}
"""Each table's columns as Arrow types, in table order (a batch is inserted as one
Arrow table; explicit types so that an all-NULL column still has its SQL type)."""

Row = TypeVar("Row", WindowRow, CandidateRow, PairRow)


class Columns(Generic[Row]):
    """One table's rows of a batch, held as one list per column.

    The writer appends values straight into the lists (no object per row) and
    :meth:`PairingStore.stage` hands the batch to DuckDB as one Arrow table: a C loop
    per column instead of a Python tuple per row through the appender (measured:
    docs/performance.md). Rows can still be appended, read and replaced one at a time
    (late candidates, tests)."""

    __slots__ = ("cols", "names", "row_type")

    def __init__(self, row_type: type[Row]) -> None:
        self.row_type: type[Row] = row_type
        self.names: tuple[str, ...] = row_type.__struct_fields__
        self.cols: tuple[list[Any], ...] = tuple([] for _ in self.names)

    @classmethod
    def of(cls, row_type: type[Row], rows: Iterable[Row]) -> Columns[Row]:
        out = cls(row_type)
        for r in rows:
            out.append(r)
        return out

    def append(self, row: Row) -> None:
        for col, value in zip(self.cols, astuple(row), strict=True):
            col.append(value)

    def __len__(self) -> int:
        return len(self.cols[0])

    def __bool__(self) -> bool:
        return bool(self.cols[0])

    def __getitem__(self, i: int) -> Row:
        values = {n: c[i] for n, c in zip(self.names, self.cols, strict=True)}
        row: Row = self.row_type(**values)
        return row

    def __setitem__(self, i: int, row: Row) -> None:
        for col, value in zip(self.cols, astuple(row), strict=True):
            col[i] = value

    def __iter__(self) -> Iterator[Row]:
        return (self[i] for i in range(len(self)))

    def arrow(self, table: str) -> pa.Table:
        schema = ARROW_TYPES[table]
        arrays = [pa.array(col, type=f.type) for col, f in zip(self.cols, schema, strict=True)]
        return pa.Table.from_arrays(arrays, schema=schema)


TABLE_ROWS: dict[str, type[Any]] = {
    "windows": WindowRow,
    "candidates": CandidateRow,
    "pair_scores": PairRow,
}


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
        self._config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": memory_limit,
            "threads": threads,
            "checkpoint_threshold": checkpoint_threshold,
            "preserve_insertion_order": False,
        }
        self._open()
        self.dirty = False

    def _open(self) -> None:
        self.con = duckdb.connect(self.path, config=self._config)
        self.con.execute(SCHEMA)
        # Reads run on the event loop while a transaction is written on a worker thread:
        # a cursor is a connection of its own, and sees committed data only.
        self.reader = self.con.cursor()
        self._checkpointer = self.con.cursor()
        self._in_tx = False

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
                out[key] = StoredWindow(
                    candidate_indices=decode_indices(indices),
                    pair_ids=decode_pair_ids(pair_ids),
                )
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
            out[key].append(
                StoredCandidate(
                    candidate_index=idx,
                    score=score,
                    prompt_json=prompt,
                    output=output,
                    policy_model=policy,
                )
            )
        return out

    # -- writes --------------------------------------------------------------------------

    def stage(
        self,
        windows: Columns[WindowRow] | Sequence[WindowRow],
        candidates: Columns[CandidateRow] | Sequence[CandidateRow],
        pairs: Columns[PairRow] | Sequence[PairRow],
        updates: Sequence[WindowUpdate] = (),
    ) -> None:
        """Open a transaction and append everything; :meth:`commit` makes it durable.

        Split from commit so the caller can overlap this work with waiting for broker acks
        and still commit only once the pairs are published. Each table's rows go in as
        one Arrow table (one columnar append per table and batch).
        """
        if self._in_tx:
            raise RuntimeError("a staged transaction is still open")
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        try:
            for table, rows in (
                ("windows", windows),
                ("candidates", candidates),
                ("pair_scores", pairs),
            ):
                if not rows:
                    continue
                cols = rows if isinstance(rows, Columns) else Columns.of(TABLE_ROWS[table], rows)
                _insert(self.con, table, cols.arrow(table))
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
        windows: Columns[WindowRow] | Sequence[WindowRow],
        candidates: Columns[CandidateRow] | Sequence[CandidateRow],
        pairs: Columns[PairRow] | Sequence[PairRow],
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

    def reopen(self) -> None:
        """Close every handle and open the file again, after DuckDB invalidated the
        database (a fatal error such as a checkpoint on a full disk): the new instance
        replays the WAL, so it holds exactly what was committed."""
        self._in_tx = False
        for handle in (self.reader, self._checkpointer, self.con):
            with contextlib.suppress(duckdb.Error):
                handle.close()
        self._open()

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


def _insert(con: duckdb.DuckDBPyConnection, table: str, arrow_batch: pa.Table) -> None:
    """Append an Arrow table, found by DuckDB's replacement scan of this frame's
    ``arrow_batch`` (half the fixed cost of register/unregister, ~0.6 ms a statement)."""
    con.execute(f"INSERT INTO {table} SELECT * FROM arrow_batch")


def read_pair_ids(path: str | Path) -> list[str]:
    """Pair ids of a store file, opened read-only (the writer must have exited)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT pair_id FROM pair_scores").fetchall()]
    finally:
        con.close()
