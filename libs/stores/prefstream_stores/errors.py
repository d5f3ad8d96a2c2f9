"""What opening or writing a store raises when its disk is full or not writable."""

from __future__ import annotations

import duckdb

STORE_UNAVAILABLE: tuple[type[BaseException], ...] = (OSError, duckdb.Error)
"""Worth waiting out at start: a full disk frees up, a mount comes back. DuckDB reports
ENOSPC as its own ``IOException``/``TransactionException``, not as ``OSError``."""
