"""The batcher's DuckDB file: every pair it consumed, the cut log, and dataset membership.

One writer process owns the file (DuckDB locks it against every other process, readers
included). Pairs are stored once, with their offsets in the pairs topic and their row
fragments already JSON-encoded, so a cut is one scan; ``pairs`` is only appended to, so a
scan returns rows in arrival order.

A cut is a row of the cut log holding its :class:`~prefstream_datasets.CutSpec`: per
partition, the offset range ``[start, end)`` it covers plus the parameters that pick its
pairs. Every query about a cut is derived from that row, so the same row always yields the
same pairs, split and order.

One module per job:

- ``schema``: the tables and :class:`PairRow`, the row stored per pair;
- ``connection``: the DuckDB connection, transactions, the scan budget, size parsing;
- ``ingest``: store pairs once, dedup keys, content duplicates, consumer positions;
- ``cut_log``: the record of cuts (:class:`CutRecord`) and dataset membership;
- ``selection_sql``: the SQL mirror of the pure selection, split and sampling rules;
- ``cut_queries``: what a cut reads (pending pairs, counts, sample bound, split summary,
  statistics, the rows to write);
- ``store``: :class:`BatcherStore`, all of them on one connection.
"""

from prefstream_stores.batcher.connection import CUT_SCAN_BUDGET, parse_size
from prefstream_stores.batcher.cut_log import CutRecord
from prefstream_stores.batcher.cut_queries import CutCounts
from prefstream_stores.batcher.ingest import Stored, md5_key
from prefstream_stores.batcher.schema import PairRow
from prefstream_stores.batcher.store import BatcherStore

__all__ = [
    "CUT_SCAN_BUDGET",
    "BatcherStore",
    "CutCounts",
    "CutRecord",
    "PairRow",
    "Stored",
    "md5_key",
    "parse_size",
]
