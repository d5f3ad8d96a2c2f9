"""``RangeWriter``: neighbouring ranges of one file, each written in any chunks, direct or
through the page cache, add up to exactly the bytes meant for them."""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prefstream_pairing import range_writer
from prefstream_pairing.range_writer import ALIGN, RangeOverflow, RangeWriter

SMALL_STAGE = 2 * ALIGN
"""Staging buffers this small make a few KB of test data cross several of them."""


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(0, 6 * ALIGN + 77),
    range_cuts=st.lists(st.integers(0, 10**6), max_size=3),
    chunk_cuts=st.lists(st.integers(0, 10**6), max_size=12),
    direct=st.lists(st.booleans(), min_size=4, max_size=4),
    threads=st.booleans(),
)
def test_ranges_add_up_to_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    range_cuts: list[int],
    chunk_cuts: list[int],
    direct: list[bool],
    threads: bool,
) -> None:
    monkeypatch.setattr(range_writer, "STAGE_BYTES", SMALL_STAGE)
    data = os.urandom(size)
    path = tmp_path / "out.bin"
    path.write_bytes(b"")
    points = sorted({c % (size + 1) for c in range_cuts} | {0, size})
    ranges = list(itertools.pairwise(points))

    def write(i: int, lo: int, hi: int) -> None:
        with RangeWriter(path, lo, hi - lo, direct=direct[i]) as w:
            for chunk in _chunks(data[lo:hi], chunk_cuts):
                w.write(chunk)
        assert w.position == hi

    if threads:  # as the forked writers do: neighbours at the same time
        workers = [
            threading.Thread(target=write, args=(i, lo, hi)) for i, (lo, hi) in enumerate(ranges)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    else:
        for i, (lo, hi) in reversed(list(enumerate(ranges))):
            write(i, lo, hi)
    assert path.read_bytes() == data


def test_the_aligned_middle_is_written_direct(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the file system takes O_DIRECT (the test folder's does), the whole blocks of a
    range go through the direct descriptor and only its head and tail do not."""
    if not getattr(os, "O_DIRECT", 0):
        pytest.skip("no O_DIRECT on this OS")
    seen: list[tuple[bool, int, int]] = []
    pwrite = os.pwrite

    def recording(fd: int, data: memoryview, offset: int) -> int:
        seen.append((bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT), offset, len(data)))
        return pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", recording)
    monkeypatch.setattr(range_writer, "STAGE_BYTES", SMALL_STAGE)
    path = tmp_path / "out.bin"
    path.write_bytes(b"")
    start, size = 100, 5 * ALIGN
    data = os.urandom(size)
    with RangeWriter(path, start, size, direct=True) as w:
        w.write(data[:1000])
        w.write(data[1000:])
    assert path.read_bytes()[start:] == data
    direct = [(off, n) for is_direct, off, n in seen if is_direct]
    if not direct:
        pytest.skip("this file system refused direct writes")
    assert all(off % ALIGN == 0 and n % ALIGN == 0 for off, n in direct)
    assert sum(n for _, n in direct) == 4 * ALIGN  # blocks 1-4; block 0 and 5 are shared
    buffered = sorted((off, n) for is_direct, off, n in seen if not is_direct)
    assert buffered[0][0] == start
    assert buffered[-1][0] + buffered[-1][1] == start + size


def test_a_refused_direct_write_goes_through_the_page_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that opens O_DIRECT but refuses the write (EINVAL) loses nothing."""
    pwrite = os.pwrite

    def refusing(fd: int, data: memoryview, offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")
        return pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", refusing)
    monkeypatch.setattr(range_writer, "STAGE_BYTES", SMALL_STAGE)
    path = tmp_path / "out.bin"
    path.write_bytes(b"")
    data = os.urandom(7 * ALIGN + 3)
    with RangeWriter(path, 0, len(data), direct=True) as w:
        for i in range(0, len(data), 999):
            w.write(data[i : i + 999])
    assert path.read_bytes() == data


def test_bytes_past_the_range_are_refused_before_they_land(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"x" * 20)
    with RangeWriter(path, 5, 10, direct=False) as w:
        w.write(b"a" * 6)
        with pytest.raises(RangeOverflow, match="past the end"):
            w.write(b"b" * 5)
        w.write(b"c" * 4)
    assert path.read_bytes() == b"x" * 5 + b"a" * 6 + b"c" * 4 + b"x" * 5


@pytest.mark.parametrize("direct", [False, True])
def test_a_full_disk_is_raised_by_close(tmp_path: Path, direct: bool) -> None:
    """A write the disk refuses (EFBIG under RLIMIT_FSIZE, as ENOSPC would be) is raised,
    not swallowed by the writer thread and not mistaken for a refused direct write."""
    path = tmp_path / "out.bin"
    script = textwrap.dedent(
        f"""
        import errno, os, resource, signal
        from pathlib import Path
        from prefstream_pairing import range_writer
        range_writer.STAGE_BYTES = {SMALL_STAGE}
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({3 * ALIGN}, {3 * ALIGN}))
        path = Path({str(path)!r})
        path.write_bytes(b"")
        try:
            with range_writer.RangeWriter(path, 0, {10 * ALIGN}, direct={direct}) as w:
                for _ in range(10):
                    w.write(b"z" * {ALIGN})
        except OSError as exc:
            assert exc.errno == errno.EFBIG, exc
            print("raised")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "raised"
