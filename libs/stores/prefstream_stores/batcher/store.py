"""The batcher's store: ingest, the cut log and the cut queries on one DuckDB connection."""

from __future__ import annotations

from prefstream_stores.batcher.cut_log import CutLog
from prefstream_stores.batcher.cut_queries import CutQueries
from prefstream_stores.batcher.ingest import PairIngest


class BatcherStore(PairIngest, CutLog, CutQueries):
    """Transactional writes for the ingest path and the cut log, read queries for cuts.

    One connection, one writer: DuckDB locks the file against every other process, and the
    store is not thread-safe (the service serializes every use with a lock). Each part
    lives in its own module; :meth:`transaction` spans them all.
    """
