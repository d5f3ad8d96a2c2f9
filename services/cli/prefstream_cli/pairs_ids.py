"""DuckDB as ``pairs build``'s id encoder: both sha256 of every pair, vectorised, in C++.

The pure pairing library hashes with hashlib, one Python call per id; it may not import
DuckDB (the import contract), so the CLI, which may, hands it this. DuckDB is not
fork-safe once started: a process forked after this one used DuckDB gets ``None`` (the
library then hashes with hashlib); ``pairs build`` forks its writers before any encoding,
so each opens its own connection.
"""

from __future__ import annotations

import os
from typing import Any

_SQL = """
SELECT '{"pair_id":"'
    || left(sha256(concat(prefix, ',', chosen_index, ',', rejected_index, ']')), 32)
    || '","content_hash":"'
    || left(sha256(prompt_digest || chosen_digest || rejected_digest), 32)
FROM pair_ids
"""
"""ids.py's ``pair_id`` and ``content_hash``; a projection keeps the rows' order."""

_connections: dict[int, Any] = {}


def duckdb_ids(table: Any) -> Any:
    """Line heads for a table of ``offline_columnar.ID_COLUMNS``, as large_string, or
    ``None`` in a process forked after DuckDB started."""
    pid = os.getpid()
    con = _connections.get(pid)
    if con is None:
        if _connections:  # started in the process this one was forked from
            return None
        import duckdb

        con = _connections[pid] = duckdb.connect(
            config={"threads": 2, "arrow_large_buffer_size": True}
        )
    con.register("pair_ids", table)
    try:
        return con.sql(_SQL).to_arrow_table().column(0).combine_chunks()
    finally:
        con.unregister("pair_ids")
