"""A file that takes its name only once it is complete: the OUTPUT of ``pairs build``.

Where Linux allows it, the file is created without a name (``O_TMPFILE``) in OUTPUT's
directory, written through ``/proc/self/fd`` (forked writers inherit the descriptor), and
linked into place at the end. A build that is killed at any point, ``kill -9`` included,
leaves nothing: the kernel frees a file without a name with its last descriptor. A 400k
event build writes ~800 MB, so a leftover is not harmless on a full disk. (Replacing an
older OUTPUT takes a staged name for the moment between link and rename; a kill in that
moment leaves ``.OUTPUT.PID.linked``, which the next build to OUTPUT removes.)

Elsewhere (no ``O_TMPFILE``, no ``/proc``, or a file system that refuses it) the file is a
hidden ``.NAME.partial`` beside OUTPUT, renamed at the end: a killed build leaves that
file behind until the next build to the same OUTPUT replaces it.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
from pathlib import Path
from types import TracebackType

_REFUSED = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL)
"""What ``open(dir, O_TMPFILE)`` fails with where the kernel or the file system has no
support (``EISDIR``: a kernel that predates the flag reads it as ``O_DIRECTORY``)."""


_STAGED = ".linked"
"""Suffix of ``.OUTPUT.PID.linked``: the name a complete file takes before replacing OUTPUT."""


class OutputFile:
    """``with OutputFile(path) as out:`` write to :attr:`writable` (a path that every
    process forked inside the block can open), then :meth:`complete`; leaving the block
    without completing removes what was written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.directory = path.parent
        """Where scratch files of the writers belong (the same file system as OUTPUT)."""
        self.writable = path.with_name(f".{path.name}.partial")
        self._fd: int | None = None
        """The file without a name, or ``None``: the ``.partial`` file is written."""

    def __enter__(self) -> OutputFile:
        self._fd = _unnamed_file(self.directory)
        if self._fd is not None:
            self.writable = Path(f"/proc/self/fd/{self._fd}")
            _remove_stale_links(self.path)
        return self

    @property
    def unnamed(self) -> bool:
        """True when the file has no name until :meth:`complete`."""
        return self._fd is not None

    def complete(self) -> None:
        """Give the file OUTPUT's name, replacing an older OUTPUT in one step."""
        if self._fd is None:
            os.replace(self.writable, self.path)
            return
        # linkat(2) follows the /proc link only with AT_SYMLINK_FOLLOW, which os.link
        # passes only when a directory descriptor is given. Where there is no OUTPUT yet
        # the link is the last step; an older OUTPUT is replaced through a staged name,
        # since a link never replaces a name (a kill between the two leaves the staged
        # file, which the next build to OUTPUT removes).
        staged = f".{self.path.name}.{os.getpid()}{_STAGED}"
        dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                os.link(self.writable, self.path.name, dst_dir_fd=dir_fd, follow_symlinks=True)
            except FileExistsError:
                pass
            else:
                return
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged, dir_fd=dir_fd)
            os.link(self.writable, staged, dst_dir_fd=dir_fd, follow_symlinks=True)
            try:
                os.replace(staged, self.path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(staged, dir_fd=dir_fd)
                raise
        finally:
            os.close(dir_fd)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        else:
            self.writable.unlink(missing_ok=True)


def _remove_stale_links(path: Path) -> None:
    """Remove the staged names of builds to ``path`` that were killed between linking and
    renaming (their process is gone); a running build's is left alone."""
    prefix, suffix = f".{path.name}.", _STAGED
    for leftover in path.parent.glob(f"{glob.escape(prefix)}*{suffix}"):
        pid = leftover.name[len(prefix) : -len(suffix)]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _running(pid: int) -> bool:
    """Signal 0 asks only whether the pid exists (a PermissionError: someone else's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _unnamed_file(directory: Path) -> int | None:
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError as exc:
        if exc.errno in _REFUSED:
            return None
        raise
