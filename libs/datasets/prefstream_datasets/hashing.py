"""Stable 64-bit buckets shared by Python and SQL.

``bucket64(text)`` is the first 8 bytes of MD5 read little-endian, which is exactly what
DuckDB's ``md5_number_upper(text)`` returns. The store can therefore split and sample a
million rows inside DuckDB and still agree bit for bit with the pure functions here.
MD5 is used for its spread and its availability in SQL, not for security.
"""

from __future__ import annotations

import hashlib

BUCKETS = 1 << 64
"""Number of distinct bucket values: buckets are in ``[0, 2**64)``."""


def bucket64(text: str) -> int:
    """The 64-bit bucket of ``text`` (DuckDB: ``md5_number_upper(text)``)."""
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "little")


def fraction_threshold(fraction: float) -> int:
    """Bucket bound for a fraction: ``bucket < threshold`` holds for about ``fraction`` of keys."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    return min(BUCKETS, int(fraction * BUCKETS))
