"""A small tmpfs for the services' data dirs, and a filler that makes it full on demand.

Mounting needs root (``mount -t tmpfs``). Where that fails, the data dirs stay on the
ordinary disk, :attr:`Tmpfs.mounted` is false with the reason in :attr:`Tmpfs.why_not`,
and the ``disk_full`` fault is skipped (reported as such, never faked).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path


class Tmpfs:
    def __init__(self, path: Path, size_mb: int) -> None:
        self.path = path
        self.size_mb = size_mb
        self.mounted = False
        self.why_not = ""
        self._filler = path / ".chaos-filler"

    def mount(self) -> Tmpfs:
        self.path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            self.why_not = "not root: cannot mount a tmpfs (disk_full faults skipped)"
            return self
        done = subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={self.size_mb}m,mode=0755",
                "tmpfs",
                str(self.path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            self.why_not = (
                f"mount -t tmpfs failed: {done.stderr.strip()} (disk_full faults skipped)"
            )
            return self
        self.mounted = True
        return self

    def unmount(self) -> None:
        if self.mounted:
            self.release()
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)
            self.mounted = False

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self) -> int:
        """Take every free byte; returns how many were taken. Writes until ENOSPC."""
        if not self.mounted:
            return 0
        taken = 0
        chunk = b"\0" * (1 << 20)
        with self._filler.open("ab", buffering=0) as fh:
            # fallocate takes nearly all of it at once (fast on tmpfs); writes take the rest.
            big = self.free_bytes() - (1 << 20)
            if big > 0:
                with contextlib.suppress(OSError):
                    os.posix_fallocate(fh.fileno(), 0, big)
                    taken += big
            try:
                while True:
                    taken += fh.write(chunk) or 0
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
            small = b"\0" * 512
            with contextlib.suppress(OSError):
                while True:
                    taken += fh.write(small) or 0
        return taken

    def release(self) -> None:
        self._filler.unlink(missing_ok=True)
