"""Content-addressed file storage (by sha256) and the git object ids the HF client checks.

Regular files are identified by their git blob sha1 and LFS files by their sha256, exactly
as on the Hub, so ``huggingface_hub`` recognises unchanged re-uploads and skips them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

LFS_SPEC = "https://git-lfs.github.com/spec/v1"


def git_blob_oid(data: bytes) -> str:
    """sha1 of ``blob <len>\\0<data>``: what git (and the Hub) calls a file's oid."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-LFS pointer file that stands in the git tree for an LFS object."""
    return f"version {LFS_SPEC}\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    size: int


class BlobStore:
    """Files under ``root/ab/cdef…`` named by sha256; writes go through temp + rename."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def has(self, sha256: str, size: int | None = None) -> bool:
        p = self.path(sha256)
        return p.is_file() and (size is None or p.stat().st_size == size)

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest, len(data)):
            fd, tmp = tempfile.mkstemp(dir=self._tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            self._install(Path(tmp), digest)
        return BlobInfo(digest, len(data))

    async def put_stream(self, chunks: AsyncIterator[bytes]) -> BlobInfo:
        """Stream a body to disk while hashing it; the blob appears only when complete."""
        hasher = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in chunks:
                    hasher.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
        except BaseException:
            _discard(tmp)
            raise
        digest = hasher.hexdigest()
        if self.has(digest, size):
            _discard(tmp)
        else:
            self._install(Path(tmp), digest)
        return BlobInfo(digest, size)

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def _install(self, tmp: Path, digest: str) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)


def _discard(tmp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
