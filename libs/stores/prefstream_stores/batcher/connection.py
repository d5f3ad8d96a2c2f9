"""The DuckDB connection the batcher's store is built on: opened with its memory limit,
transactions that always leave it usable, and the cache budget of a cut's scan."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from prefstream_stores.batcher.schema import SCHEMA

CUT_SCAN_BUDGET = 64 * 1024 * 1024
"""Bytes of DuckDB cache a cut may use beyond resident memory (see ``scan_budget``)."""

_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Bytes in a DuckDB size such as ``256MB`` (decimal) or ``1GiB`` (binary)."""
    value = text.strip().lower().replace(" ", "")
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = value[len(number) :] or "b"
    if unit not in _UNITS or not number:
        raise ValueError(f"not a size: {text!r} (use e.g. 256MB or 1GiB)")
    return int(float(number) * _UNITS[unit])


class Connection:
    """One DuckDB connection with the schema in place; the parts of the store build on it.

    Not thread-safe: one caller at a time (the service serializes every use with a lock).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "1GB",
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        self.memory_limit = memory_limit
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
            # Keep automatic checkpoints (100s of ms) out of most commits.
            "checkpoint_threshold": "256MB",
        }
        if threads is not None:
            config["threads"] = threads
        self.con = duckdb.connect(self.path, config=config)
        self.con.execute(SCHEMA)

    @contextlib.contextmanager
    def scan_budget(self, budget: int = CUT_SCAN_BUDGET) -> Iterator[None]:
        """Cap DuckDB's cache while a cut scans: resident memory plus ``budget`` bytes.

        A scan fills the buffer pool with table blocks up to ``memory_limit``; for a
        one-pass cut that cache is useless and only inflates RSS. Indexes stay resident (they
        cannot be evicted), so the cap is what is resident now, not counting cached table
        blocks, plus the budget; never above the configured limit. Nothing else may use the
        database meanwhile (the service holds its store lock).
        """
        row = first_row(
            self.con.execute(
                "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                "WHERE tag <> 'BASE_TABLE'"
            )
        )
        cap = min(parse_size(self.memory_limit), int(row[0]) + budget)
        self.con.execute(f"SET memory_limit = '{cap}B'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{parse_size(self.memory_limit)}B'")

    def close(self) -> None:
        self.con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit, or roll back on any failure, the COMMIT's own included (a full disk):
        the connection is always usable afterwards, never stuck inside a transaction."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # nothing to roll back after a failed COMMIT
                self.con.execute("ROLLBACK")
            raise


def first_row(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row (or ``None``), consuming the whole result: DuckDB refuses new work on
    a connection with an unfinished result."""
    rows = result.fetchall()
    return rows[0] if rows else None
