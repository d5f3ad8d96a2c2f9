"""OUTPUT of ``pairs build`` takes its name only when complete: a build that fails or is
killed (kill -9) leaves the directory as it was, on Linux without even a hidden file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefstream_pairing.output_file import OutputFile
from prefstream_testing.synthetic import synthetic_lines

unnamed_files = pytest.mark.skipif(
    not hasattr(os, "O_TMPFILE") or not os.path.isdir("/proc/self/fd"),
    reason="files without a name need Linux's O_TMPFILE and /proc",
)


@pytest.fixture(params=["unnamed", "partial"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of writing: a file without a name, and (an OS without O_TMPFILE) the
    hidden ``.NAME.partial``."""
    if request.param == "unnamed":
        if not hasattr(os, "O_TMPFILE"):
            pytest.skip("no O_TMPFILE here")
    else:
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    return str(request.param)


def test_complete_replaces_an_older_output_in_one_step(tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"earlier build\n")
    with OutputFile(out) as file:
        assert file.unnamed == (mode == "unnamed")
        with file.writable.open("wb") as fh:
            fh.write(b"new\n")
        assert out.read_bytes() == b"earlier build\n"
        file.complete()
    assert out.read_bytes() == b"new\n"
    assert sorted(tmp_path.iterdir()) == [out]


def test_a_file_that_is_not_completed_leaves_nothing(tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out.jsonl"

    def failing_build() -> None:
        with OutputFile(out) as file:
            file.writable.write_bytes(b"half a build")
            raise RuntimeError("the build failed")

    with pytest.raises(RuntimeError):
        failing_build()
    assert list(tmp_path.iterdir()) == []


def test_it_has_the_permissions_of_a_file_opened_for_writing(tmp_path: Path, mode: str) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    with OutputFile(tmp_path / "out") as file:
        file.writable.write_bytes(b"x")
        file.complete()
    assert (tmp_path / "out").stat().st_mode == plain.stat().st_mode


@unnamed_files
def test_a_forked_process_writes_through_the_path_it_inherits(tmp_path: Path) -> None:
    """The columnar writers open :attr:`OutputFile.writable` again after the fork (with
    O_DIRECT among others): /proc/self/fd names the descriptor they inherited."""
    out = tmp_path / "out"
    with OutputFile(out) as file:
        file.writable.write_bytes(b"")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fd = os.open(file.writable, os.O_WRONLY)
                os.pwrite(fd, b"from the child\n", 0)
                os.close(fd)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert status == 0
        assert list(tmp_path.iterdir()) == []
        file.complete()
    assert out.read_bytes() == b"from the child\n"


def _writes_unnamed_file_in(pid: int, directory: Path) -> bool:
    """Whether process ``pid`` holds a file of ``directory`` that has no name (Linux shows
    its descriptor as ``DIR/#INODE (deleted)``)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(f"{directory}/#") and target.endswith(" (deleted)"):
            return True
    return False


@unnamed_files
@pytest.mark.parametrize("engine", ["columnar", "objects"])
def test_a_build_killed_while_it_writes_leaves_the_directory_as_it_was(
    tmp_path: Path, engine: str
) -> None:
    """kill -9 of the whole build (its reader and writers too) in the middle of writing
    OUTPUT: the earlier OUTPUT is intact and nothing else is left, not even a hidden file
    of the size of the output."""
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(synthetic_lines(10_000, 4, seed=9, event_bytes=1000)))
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"earlier build\n")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "prefstream_cli", "pairs", "build", str(src)),
            *("-o", str(out), "--engine", engine, "--jobs", "2", "--no-progress"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _writes_unnamed_file_in(proc.pid, tmp_path):
            assert proc.poll() is None, "the build ended before it was seen writing"
            assert time.monotonic() < deadline, "the build was never seen writing"
            time.sleep(0.001)
        os.killpg(proc.pid, signal.SIGSTOP)  # freeze it mid-write, then kill it
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert out.read_bytes() == b"earlier build\n"
    assert sorted(tmp_path.iterdir()) == [src, out]


@unnamed_files
def test_a_name_that_cannot_be_taken_leaves_nothing(tmp_path: Path) -> None:
    """The last step (rename over OUTPUT) fails, here because OUTPUT became a directory:
    the error surfaces and the link made for the rename is removed."""
    out = tmp_path / "out"
    with OutputFile(out) as file:
        file.writable.write_bytes(b"x")
        out.mkdir()
        (out / "inside").write_bytes(b"")
        with pytest.raises(IsADirectoryError):
            file.complete()
    assert sorted(tmp_path.iterdir()) == [out]


@unnamed_files
def test_without_an_older_output_the_link_is_the_last_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No staged name, no rename: nothing a kill could leave behind."""
    out = tmp_path / "out"

    def no_rename(*args: object, **kwargs: object) -> None:
        raise AssertionError("renamed although OUTPUT did not exist")

    with OutputFile(out) as file:
        file.writable.write_bytes(b"x")
        monkeypatch.setattr(os, "replace", no_rename)
        file.complete()
    assert out.read_bytes() == b"x"
    assert sorted(tmp_path.iterdir()) == [out]


@unnamed_files
def test_a_staged_name_left_by_a_killed_build_is_removed_by_the_next(tmp_path: Path) -> None:
    """A build killed between linking and renaming leaves ``.OUTPUT.PID.linked``; the next
    build to OUTPUT removes it, but not the staged name of a build still running."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = tmp_path / "out"
    out.write_bytes(b"earlier build\n")
    left = tmp_path / f".out.{gone.pid}.linked"
    running = tmp_path / f".out.{os.getppid()}.linked"
    other = tmp_path / f".other.{gone.pid}.linked"
    for f in (left, running, other):
        f.write_bytes(b"complete, never renamed\n")
    with OutputFile(out) as file:
        file.writable.write_bytes(b"new\n")
        file.complete()
    assert out.read_bytes() == b"new\n"
    assert sorted(tmp_path.iterdir()) == sorted([out, running, other])
