"""Writing the offline builder's pairs to a file: with ``offline_reader`` and ``output_file``,
the only file I/O of this package (no broker, database or HTTP client, like the rest of it).

``write_pairs`` encodes pairs in chunks and writes them on a thread while the next chunk is
computed. ``write_pairs_forked`` splits the examples between processes: forked children
write later runs of examples to scratch files without a name while this process writes the
first; the parts are then appended in order with ``sendfile``, so the output is
byte-identical to a single process's. ``write_columnar`` and ``write_columnar_forked`` do
the same for the columnar builder (``offline_columnar``), whose plan is complete before any
process forks and whose runs have a length known before they are encoded, so its writers
share one file, each filling its own range (``range_writer``, with direct I/O for large
ranges).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec

from prefstream_pairing.offline import OfflineBuilder
from prefstream_pairing.pair import PairingStats
from prefstream_pairing.range_writer import RangeOverflow, RangeWriter
from prefstream_pairing.write_thread import WriteThread

if TYPE_CHECKING:
    from prefstream_pairing.offline_columnar import ColumnarBuilder, PairPlan

DIRECT_FROM_BYTES = 64 * 2**20
"""A writer's range of at least this size is written with direct I/O (``range_writer``):
a build this large is not read back from the page cache, and taking fresh pages for it
was most of the write's cost on the project's VM."""
CHUNK_PAIRS = 4096
"""Pairs encoded per write."""


class WriterProcessFailed(RuntimeError):
    """A forked writer exited with an error or reported nothing; its part is incomplete."""


@contextlib.contextmanager
def _writing(out: IO[bytes]) -> Iterator[WriteThread[bytes | memoryview]]:
    """``out.write`` on a thread while the next chunk is encoded; flushed at the end."""
    # Two chunks (~6 MB each at 4,096 pairs) keep the disk busy; eight raised the peak RSS
    # of a 400k-event pairs build past 600 MB whenever writes were slow.
    writes: WriteThread[bytes | memoryview] = WriteThread(out.write, depth=2, name="pairs-writer")
    try:
        yield writes
    finally:
        writes.close()
        out.flush()


def write_pairs(pairing: OfflineBuilder, out: IO[bytes], examples: list[str] | None) -> None:
    """Encode the pairs of ``examples`` (all when ``None``) as JSON lines into ``out``."""
    encode_lines = msgspec.json.Encoder().encode_lines
    chunk: list[Any] = []
    with _writing(out) as writes:
        for pair in pairing.pairs(examples):
            chunk.append(pair)
            if len(chunk) >= CHUNK_PAIRS:
                writes.put(encode_lines(chunk))
                chunk = []
        if chunk:
            writes.put(encode_lines(chunk))


def write_pairs_forked(pairing: OfflineBuilder, path: Path, jobs: int, *, scratch: Path) -> None:
    """Write every pair to ``path`` with ``jobs`` processes (needs ``os.fork`` when
    ``jobs`` > 1).

    Children share the parsed candidates copy-on-write, write their share into a file
    without a name in ``scratch`` (freed with its descriptor, whatever happens) and
    report their counters through a pipe, which are added to ``pairing.summary``; this
    process appends the shares in order. Raises :class:`WriterProcessFailed` when a child
    fails.
    """
    shares = pairing.shares(jobs)
    children: list[tuple[int, int, IO[bytes]]] = []
    with contextlib.ExitStack() as parts:
        try:
            for share in shares[1:]:
                # O_TMPFILE where the OS has it, else a file unlinked as soon as it is open.
                part = parts.enter_context(tempfile.TemporaryFile(dir=scratch))
                read_end, write_end = os.pipe()
                pid = os.fork()
                if pid == 0:  # child: never returns
                    code = 1
                    try:
                        os.close(read_end)
                        write_pairs(pairing, part, share)
                        part.flush()
                        counts = {
                            "windows": pairing.summary.windows,
                            "pairs": pairing.summary.pairs,
                        }
                        counts.update(pairing.summary.stats.as_dict())
                        os.write(write_end, json.dumps(counts).encode())
                        code = 0
                    finally:
                        os._exit(code)
                os.close(write_end)
                children.append((pid, read_end, part))
            _write_and_append(pairing, path, shares[0], children)
        finally:  # a failed write (a full disk) leaves no child behind
            for pid, read_end, _ in children:
                os.close(read_end)
                os.waitpid(pid, 0)


def _write_and_append(
    pairing: OfflineBuilder,
    path: Path,
    share: list[str],
    children: list[tuple[int, int, IO[bytes]]],
) -> None:
    """Write this process's share, then each child's in order, adding its counters;
    ``children`` keeps only those not yet waited for."""
    before = {"windows": pairing.summary.windows, "pairs": pairing.summary.pairs}
    stats_before = pairing.summary.stats.as_dict()
    with path.open("wb") as out:
        write_pairs(pairing, out, share)
        while children:
            pid, read_end, part = children[0]
            with os.fdopen(read_end, "rb") as fh:
                report = fh.read()
            children.pop(0)
            _, status = os.waitpid(pid, 0)
            if status != 0 or not report:
                raise WriterProcessFailed(
                    f"a writer process failed (status {status}); the output is incomplete"
                )
            counts = json.loads(report)
            pairing.summary.windows += counts.pop("windows") - before["windows"]
            pairing.summary.pairs += counts.pop("pairs") - before["pairs"]
            extra = {k: v - stats_before[k] for k, v in counts.items()}
            pairing.summary.stats.add(PairingStats(**extra))
            _append(out, part)


def _append(out: IO[bytes], part: IO[bytes]) -> None:
    """Append all of ``part`` to ``out`` in the kernel (sendfile), without a trip through
    Python; ``part`` is read from its start, whatever its position."""
    out.flush()
    size = os.fstat(part.fileno()).st_size
    sent = 0
    while sent < size:
        n = os.sendfile(out.fileno(), part.fileno(), sent, size - sent)
        if n == 0:
            raise OSError(f"sendfile stopped at {sent} of {size} bytes of a writer's share")
        sent += n


def write_columnar(
    builder: ColumnarBuilder, plan: PairPlan, out: IO[bytes], lo: int = 0, hi: int | None = None
) -> None:
    """Write the planned pairs ``lo:hi`` (all by default) as JSON lines into ``out``."""
    with _writing(out) as writes:
        for chunk in builder.chunks(plan, lo, plan.window.size if hi is None else hi):
            writes.put(chunk)


def write_columnar_forked(
    builder: ColumnarBuilder, plan: PairPlan, path: Path, jobs: int, *, direct: bool = True
) -> None:
    """Write every planned pair to ``path``, a regular file, with ``jobs`` processes
    (needs ``os.fork`` when ``jobs`` > 1; ``pairs build`` writes a device or a pipe in one
    process). A run of :data:`DIRECT_FROM_BYTES` or more is written with direct I/O when
    ``direct``.

    The plan, the summary and the encoder's tables (``prepare``) are complete before the
    fork. Writer ``i`` measures how many bytes its run of positions takes
    (``encoded_bytes``), learns where the run starts from writer ``i - 1`` through a pipe
    and tells writer ``i + 1`` where it ends, then encodes straight into its place in
    ``path``: no part files, no second copy, and no writer measures another's run. The
    output is byte-identical to one process's; a writer that ends anywhere else than where
    the next one starts fails. Raises :class:`WriterProcessFailed` when a child fails.
    """
    total = plan.window.size
    cuts = [total * i // jobs for i in range(jobs + 1)]
    with path.open("wb"):
        pass  # created empty: every writer opens it without truncating
    builder.prepare()
    # links[i]: (read, write) from writer i to writer i + 1 (8 bytes: where i + 1 starts);
    # mine: the pipe ends this process still holds open (closed in finally, each once).
    links = [os.pipe() for _ in range(jobs - 1)]
    mine = [fd for link in links for fd in link]
    children: list[int] = []
    try:
        for i in range(1, jobs):
            pid = os.fork()
            if pid == 0:  # child: never returns
                code = 1
                try:
                    prev, nxt = _keep_links(links, i)
                    _write_linked(builder, plan, path, cuts[i], cuts[i + 1], prev, nxt, direct)
                    code = 0
                finally:
                    os._exit(code)
            children.append(pid)
        nxt = links[0][1] if links else None
        for fd in mine:  # a pipe end held open here would hide a writer's death
            if fd != nxt:
                os.close(fd)
        mine = [] if nxt is None else [nxt]
        _write_linked(builder, plan, path, cuts[0], cuts[1], None, nxt, direct)
    finally:
        for fd in mine:  # a failure here: the next writer reads the end of the pipe
            os.close(fd)
        failed = []
        for pid in children:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                failed.append(status)
    if failed:
        raise WriterProcessFailed(
            f"a writer process failed (status {failed[0]}); the output is incomplete"
        )


def _keep_links(links: list[tuple[int, int]], i: int) -> tuple[int, int | None]:
    """In writer ``i``: close every pipe end but its read end from ``i - 1`` and its write
    end to ``i + 1`` (both closed when the process exits)."""
    prev = links[i - 1][0]
    nxt = links[i][1] if i < len(links) else None
    for r, w in links:
        for fd in (r, w):
            if fd not in (prev, nxt):
                os.close(fd)
    return prev, nxt


def _write_linked(
    builder: ColumnarBuilder,
    plan: PairPlan,
    path: Path,
    lo: int,
    hi: int,
    prev: int | None,
    nxt: int | None,
    direct: bool,
) -> None:
    size = builder.encoded_bytes(plan, lo, hi)
    start = 0 if prev is None else _read_start(prev)
    if nxt is not None:
        try:
            os.write(nxt, (start + size).to_bytes(8, "little"))
        except BrokenPipeError as exc:
            raise WriterProcessFailed(
                "the next writer process exited before it learned where its run starts"
            ) from exc
    _write_run(builder, plan, path, start, size, lo, hi, direct and size >= DIRECT_FROM_BYTES)


def _read_start(fd: int) -> int:
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(8)
    if len(data) != 8:
        raise WriterProcessFailed("the previous writer stopped before it measured its run")
    return int.from_bytes(data, "little")


def _write_run(
    builder: ColumnarBuilder,
    plan: PairPlan,
    path: Path,
    start: int,
    size: int,
    lo: int,
    hi: int,
    direct: bool,
) -> None:
    try:
        with RangeWriter(path, start, size, direct=direct) as writer:
            for chunk in builder.chunks(plan, lo, hi):
                writer.write(chunk)
    except RangeOverflow as exc:
        raise WriterProcessFailed(f"positions {lo}:{hi}: {exc}, more than measured") from exc
    if writer.position != writer.end:
        raise WriterProcessFailed(
            f"positions {lo}:{hi} took {writer.position - start} bytes, not the {size} measured"
        )
