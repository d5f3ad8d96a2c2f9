"""Writing one byte range of a file in order, on a thread, with direct I/O where it can.

``pairs build``'s writers each fill their own range of one output file. A large range is
written with ``O_DIRECT`` (the way databases write bulk data they will not read back):
the bytes go from an aligned staging buffer to the disk without taking new page-cache
pages. On the project's VM, taking 792 MB of fresh page cache cost 2.1-2.5 s of kernel
time for a 400k-event build; the same bytes written directly took 0.3 s of it
(docs/performance.md, "Direct I/O, tables built once"). The unaligned head and tail of
a range, and every byte where the file system refuses direct I/O (``EINVAL``: tmpfs
before Linux 6.6, some network and FUSE file systems), go through the page cache as
before; the bytes in the file are the same either way.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import queue
from pathlib import Path
from types import TracebackType

from prefstream_pairing.write_thread import WriteThread

ALIGN = 4096
"""Offsets, lengths and buffer addresses of direct writes are multiples of this (the
logical block size of common disks is 512 or 4096 bytes)."""
STAGE_BYTES = 4 * 2**20
"""One staging buffer. Direct writes of 4 MiB reached the disk's rate here (800 MB in
0.42 s, against 0.6 s in 1 MiB writes); two buffers let one fill while one is written."""
STAGES = 2

_Item = tuple[int, memoryview, int, "mmap.mmap | None"]
"""(descriptor, bytes, file offset, staging buffer to hand back once written)."""


class RangeOverflow(ValueError):
    """A write would run past the end of the range (into a neighbour's bytes)."""


class RangeWriter:
    """Writes bytes ``start:start + size`` of the existing file ``path``, in order.

    The range's blocks are allocated first (``posix_fallocate``, a hint: writing 830 MB
    into new pages of a fresh file cost 0.5-1.3 s of kernel time per writer here, into
    allocated ones 0.1-0.35 s). ``write`` queues; a thread does the system calls (they
    release the GIL, so encoding goes on meanwhile). Writing past the range raises
    :class:`RangeOverflow` before anything lands outside it; ``close`` (or leaving the
    ``with`` block) waits for the thread and raises the first error it met, such as a full
    disk.
    """

    def __init__(self, path: Path, start: int, size: int, *, direct: bool) -> None:
        self.position = start
        self.end = start + size
        self._fd = os.open(path, os.O_WRONLY)
        try:
            if size and hasattr(os, "posix_fallocate"):
                with contextlib.suppress(OSError):  # only a hint; a full disk fails the writes
                    os.posix_fallocate(self._fd, start, size)
            self._direct_fd = _open_direct(path) if direct else None
        except BaseException:
            os.close(self._fd)
            raise
        # The aligned middle of the range goes direct; its head and tail are shared with
        # the neighbouring ranges' blocks and go through the page cache.
        self._middle = min(self.end, -(-start // ALIGN) * ALIGN)
        self._middle_end = max(self._middle, self.end // ALIGN * ALIGN)
        self._free: queue.Queue[mmap.mmap] = queue.Queue()
        self._stage: mmap.mmap | None = None
        self._stage_at = 0
        """The file offset of the stage's first byte (it holds ``position - _stage_at``)."""
        if self._direct_fd is not None:
            for _ in range(STAGES):
                self._free.put(mmap.mmap(-1, STAGE_BYTES))  # page-aligned
        self._direct_refused = False
        self._writes: WriteThread[_Item] = WriteThread(
            self._write_item, depth=STAGES, name="range-writer", done=self._release
        )

    def __enter__(self) -> RangeWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the caller's side ---------------------------------------------------------------

    def write(self, chunk: bytes | memoryview) -> None:
        if self._writes.error is not None:
            raise self._writes.error
        view = memoryview(chunk).cast("B")
        if self.position + len(view) > self.end:
            raise RangeOverflow(
                f"{len(view)} bytes at {self.position} run past the end of the range ({self.end})"
            )
        direct = self._direct_fd is not None
        while view:
            pos = self.position
            if direct and self._middle <= pos < self._middle_end:
                n = self._stage_bytes(view)
            else:
                limit = self._middle if direct and pos < self._middle else self.end
                n = min(len(view), limit - pos)
                self._writes.put((self._fd, view[:n], pos, None))
            view = view[n:]
            self.position = pos + n

    def _stage_bytes(self, view: memoryview) -> int:
        if self._stage is None:
            self._stage = self._free.get()
            self._stage_at = self.position
        filled = self.position - self._stage_at
        n = min(len(view), STAGE_BYTES - filled, self._middle_end - self.position)
        self._stage[filled : filled + n] = view[:n]
        if filled + n == STAGE_BYTES or self.position + n == self._middle_end:
            assert self._direct_fd is not None  # only a direct writer stages
            self._flush_stage(self._direct_fd, filled + n)
        return n

    def _flush_stage(self, fd: int, filled: int) -> None:
        stage = self._stage
        if stage is None:
            return
        self._stage = None
        self._writes.put((fd, memoryview(stage)[:filled], self._stage_at, stage))

    def close(self) -> None:
        """Wait for every queued byte; raise what the thread met. Idempotent."""
        try:
            # A stage left part-full (the caller stopped short of the range's end) holds
            # no whole block: it goes through the page cache (none after the first close).
            self._flush_stage(self._fd, self.position - self._stage_at)
        finally:
            try:
                self._writes.close()
            finally:
                for fd in (self._fd, self._direct_fd):
                    if fd is not None and fd >= 0:
                        os.close(fd)
                self._fd, self._direct_fd = -1, None
                while not self._free.empty():
                    self._free.get().close()

    # -- the thread ----------------------------------------------------------------------

    def _write_item(self, item: _Item) -> None:
        fd, data, offset, _ = item
        self._pwrite_all(fd, data, offset)

    def _release(self, item: _Item) -> None:
        _, data, _, stage = item
        data.release()
        if stage is not None:
            self._free.put(stage)

    def _pwrite_all(self, fd: int, data: memoryview, offset: int) -> None:
        if fd != self._fd and self._direct_refused:
            fd = self._fd
        while data:
            try:
                n = os.pwrite(fd, data, offset)
            except OSError as exc:
                if fd != self._fd and exc.errno == errno.EINVAL:
                    # Direct I/O opened but refused (an alignment this file system does not
                    # take): this and every later write go through the page cache.
                    self._direct_refused = True
                    fd = self._fd
                    continue
                raise
            if n == 0:
                raise OSError(errno.EIO, f"write stopped at offset {offset}")
            data, offset = data[n:], offset + n


def _open_direct(path: Path) -> int | None:
    """A direct-I/O descriptor for ``path``, or ``None`` where the OS or the file system
    has none (macOS, tmpfs before Linux 6.6)."""
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return None
    try:
        return os.open(path, os.O_WRONLY | flag)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            return None
        raise
