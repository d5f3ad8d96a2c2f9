"""Streaming, hashing, crash-safe file output.

Files are written into a staging directory next to the final one, fsynced, and the whole
directory is renamed into place (atomic on POSIX), so a reader either sees a complete
dataset or none. Nothing is ever overwritten: files are opened with ``O_EXCL`` and the
rename refuses an existing target. Hashes and counts are computed while writing, so memory
does not grow with the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

STAGING = ".staging"
"""Sub-directory of the datasets directory that holds incomplete datasets."""

_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class FileDigest:
    """One written file: path relative to the dataset directory, sha256, rows and bytes."""

    path: str
    sha256: str
    rows: int
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "rows": self.rows, "bytes": self.bytes}


class HashingWriter:
    """Write bytes to a new file, hashing and counting as they go; fsync on close."""

    def __init__(self, root: Path, relpath: str) -> None:
        self.relpath = relpath
        self.path = root / relpath
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "xb", buffering=_BUFFER)  # noqa: SIM115
        self._hash = hashlib.sha256()
        self.rows = 0
        self.bytes = 0
        self._digest: FileDigest | None = None

    def write(self, data: bytes | memoryview, rows: int = 0) -> None:
        self._hash.update(data)
        self._file.write(data)
        self.rows += rows
        self.bytes += len(data)

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append JSONL rows (``json.dumps`` defaults, one per line)."""
        for item in rows:
            self.write((json.dumps(item) + "\n").encode(), 1)

    def close(self) -> FileDigest:
        if self._digest is None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._digest = FileDigest(self.relpath, self._hash.hexdigest(), self.rows, self.bytes)
        return self._digest

    def abort(self) -> None:
        """Close without fsync, ignoring errors: after a failed write (a full disk) the fd
        must go, or the space of the deleted attempt stays allocated."""
        if self._digest is None and not self._file.closed:
            with contextlib.suppress(OSError):
                self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def file_digest(root: Path, relpath: str) -> FileDigest:
    """Hash an existing file in 1 MiB chunks; rows are its newline count."""
    h = hashlib.sha256()
    rows = size = 0
    with open(root / relpath, "rb") as f:
        while chunk := f.read(_BUFFER):
            h.update(chunk)
            rows += chunk.count(b"\n")
            size += len(chunk)
    return FileDigest(relpath, h.hexdigest(), rows, size)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_staging_dir(datasets_dir: Path, name: str) -> Path:
    """A fresh, empty directory under ``<datasets_dir>/.staging`` for one attempt at ``name``."""
    path = datasets_dir / STAGING / f"{name}.{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def publish_dir(staging: Path, final: Path) -> None:
    """Make a fully written staging directory visible as ``final``, durably.

    Raises ``FileExistsError`` if ``final`` exists: a published dataset is never replaced.
    """
    for sub in sorted(p for p in staging.rglob("*") if p.is_dir()):
        fsync_dir(sub)
    fsync_dir(staging)
    if final.exists():
        raise FileExistsError(f"{final} already exists; datasets are never overwritten")
    os.rename(staging, final)
    fsync_dir(final.parent)


def clear_staging(datasets_dir: Path) -> int:
    """Remove incomplete attempts left by a crash; returns how many there were."""
    staging = datasets_dir / STAGING
    if not staging.is_dir():
        return 0
    removed = 0
    for entry in staging.iterdir():
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed
