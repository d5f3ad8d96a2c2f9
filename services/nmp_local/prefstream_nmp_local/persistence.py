"""Durable state: one SQLite file of JSON records, keyed by (kind, key).

SQLite gives atomic, crash-safe writes (a ``kill -9`` never leaves half a record), and
insertion order via rowid, which keeps list endpoints stable across restarts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

JsonObj = dict[str, Any]


class Store:
    """A tiny JSON document store; every call is its own committed transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records ("
            " kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,"
            " PRIMARY KEY (kind, key))"
        )

    def get(self, kind: str, key: str) -> JsonObj | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM records WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else _loads(row[0])

    def insert(self, kind: str, key: str, body: JsonObj) -> bool:
        """Add a record; False (and no change) if the key is taken."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO records (kind, key, body) VALUES (?, ?, ?)",
                (kind, key, json.dumps(body)),
            )
            return cur.rowcount == 1

    def put(self, kind: str, key: str, body: JsonObj) -> None:
        """Insert or replace, keeping the record's original position in listings."""
        with self._lock:
            self._db.execute(
                "INSERT INTO records (kind, key, body) VALUES (?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                (kind, key, json.dumps(body)),
            )

    def delete(self, kind: str, key: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
            return cur.rowcount == 1

    def list(self, kind: str, key_prefix: str = "") -> list[JsonObj]:
        """All records of a kind (optionally under a key prefix), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM records WHERE kind = ? AND substr(key, 1, ?) = ? ORDER BY rowid",
                (kind, len(key_prefix), key_prefix),
            ).fetchall()
        return [_loads(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _loads(text: str) -> JsonObj:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value
