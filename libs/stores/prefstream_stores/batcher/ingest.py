"""Ingest: store each pair once, flag content duplicates on arrival, and remember how far
each source partition has been consumed.

Pairs are stored once (``INSERT OR IGNORE`` on the 128-bit MD5 of ``pair_id`` in
``pair_keys``) with their offsets in the pairs topic and their row fragments already
JSON-encoded, so a cut is one scan. The key tables are what grows in memory: DuckDB keeps
ART indexes resident, about 50 MB per million keys each, so budget ~100 MB of
``duckdb_memory_limit`` per million pairs.

Content dedup (``deduplicate_pairs``) is decided on arrival: ``contents`` remembers every
``content_hash`` seen, and later pairs with a known hash are stored with ``is_dup`` set.
First occurrence therefore means first *consumed*.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from prefstream_stores.batcher.connection import Connection, first_row
from prefstream_stores.batcher.schema import (
    FRAGMENT_COLUMNS,
    PAIR_COLUMNS,
    SCORE_COLUMNS,
    PairRow,
)


@dataclass(frozen=True, slots=True)
class Stored:
    """Per input row of :meth:`BatcherStore.insert_pairs`, in input order."""

    inserted: list[bool]
    first: list[bool]
    """Inserted and the first pair of its content (never true when ``inserted`` is false)."""


class PairIngest(Connection):
    """The ingest path: pairs, their dedup keys, and the consumer's positions."""

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "1GB",
        threads: int | None = None,
    ) -> None:
        super().__init__(path, memory_limit=memory_limit, threads=threads)
        self._next_seq = self._max_seq() + 1

    def _max_seq(self) -> int:
        row = first_row(self.con.execute("SELECT coalesce(max(seq), 0) FROM pairs"))
        return int(row[0])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """As :meth:`Connection.transaction`; a rolled-back batch also gives back the
        ``seq`` numbers it took."""
        next_seq = self._next_seq
        try:
            with super().transaction():
                yield
        except BaseException:
            self._next_seq = next_seq
            raise

    # -- ingest ----------------------------------------------------------------------------

    def insert_pairs(self, rows: Sequence[PairRow]) -> Stored:
        """Append pairs with new ``pair_id``s, in order; flag content duplicates.

        Call inside :meth:`transaction`. Within ``rows`` the first occurrence of a pair id
        or content hash wins, as across batches.
        """
        seen: set[str] = set()
        fresh: list[int] = []
        for i, r in enumerate(rows):
            if r.pair_id not in seen:
                seen.add(r.pair_id)
                fresh.append(i)
        inserted = [False] * len(rows)
        first = [False] * len(rows)
        if not fresh:
            return Stored(inserted, first)
        base = self._next_seq
        self._next_seq += len(fresh)
        seq_of = {i: base + n for n, i in enumerate(fresh)}
        new_seqs = self._claim("pair_keys", [(rows[i].pair_id, seq_of[i]) for i in fresh], base)
        new = [i for i in fresh if seq_of[i] in new_seqs]
        if not new:
            return Stored(inserted, first)
        by_content: dict[str, int] = {}
        for i in new:
            by_content.setdefault(rows[i].content_hash, i)
        claimed = self._claim("contents", [(h, seq_of[i]) for h, i in by_content.items()], base)
        firsts = {i for i in by_content.values() if seq_of[i] in claimed}
        batch = _pair_table(  # noqa: F841 (scanned by SQL)
            [rows[i] for i in new], [seq_of[i] for i in new], [i not in firsts for i in new]
        )
        cols = ", ".join(PAIR_COLUMNS)
        self.con.execute(f"INSERT INTO pairs ({cols}) SELECT {cols} FROM batch")
        for i in new:
            inserted[i] = True
            first[i] = i in firsts
        return Stored(inserted, first)

    def _claim(self, table: str, items: list[tuple[str, int]], base: int) -> set[int]:
        """Insert ``(md5_number(text), seq)`` unless the key exists; returns the seqs that
        went in. Reading them back by ``seq >= base`` (zone maps skip all older row groups)
        is far cheaper than ``RETURNING`` or a lookup, which scan the whole table."""
        keys = pa.table(  # noqa: F841 (scanned by SQL)
            {"v": [t for t, _ in items], "seq": pa.array([q for _, q in items], pa.int64())}
        )
        self.con.execute(f"INSERT OR IGNORE INTO {table} SELECT md5_number(v), seq FROM keys")
        result = self.con.execute(f"SELECT seq FROM {table} WHERE seq >= ?", [base]).fetchall()
        return {int(r[0]) for r in result}

    def save_positions(self, positions: Mapping[int, int]) -> None:
        for partition, offset in positions.items():
            self.con.execute(
                "INSERT INTO positions VALUES (?, ?) ON CONFLICT (src_partition) "
                "DO UPDATE SET next_offset = greatest(positions.next_offset, excluded.next_offset)",
                [partition, offset],
            )

    def positions(self) -> dict[int, int]:
        rows = self.con.execute("SELECT src_partition, next_offset FROM positions").fetchall()
        return {int(p): int(o) for p, o in rows}

    def counts(self) -> dict[str, int]:
        row = first_row(self.con.execute("SELECT count(*), count(*) FILTER (is_dup) FROM pairs"))
        assert row is not None
        return {"pairs": int(row[0]), "duplicates": int(row[1])}


def md5_key(text: str) -> int:
    """DuckDB's ``md5_number(text)``: the MD5 digest as a little-endian 128-bit integer."""
    return int.from_bytes(hashlib.md5(text.encode()).digest(), "little")


def _pair_table(rows: Sequence[PairRow], seqs: Sequence[int], is_dup: Sequence[bool]) -> pa.Table:
    cols: dict[str, list[Any]] = {
        c: [getattr(r, c) for r in rows] for c in PAIR_COLUMNS if c not in {"seq", "is_dup"}
    }
    cols["seq"] = list(seqs)
    cols["is_dup"] = list(is_dup)
    schema = pa.schema(
        [
            ("seq", pa.int64()),
            ("pair_id", pa.string()),
            ("content_hash", pa.string()),
            ("is_dup", pa.bool_()),
            ("example_id", pa.string()),
            ("policy_model", pa.string()),
            ("src_partition", pa.int32()),
            ("src_offset", pa.int64()),
            ("received_at", pa.float64()),
            *((c, pa.float64()) for c in SCORE_COLUMNS),
            *((c, pa.string()) for c in FRAGMENT_COLUMNS),
            ("traceparent", pa.string()),
        ]
    )
    return pa.table(cols, schema=schema)
