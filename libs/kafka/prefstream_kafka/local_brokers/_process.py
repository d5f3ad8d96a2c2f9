"""A broker child process that cannot outlive its owner.

Three layers make sure a local broker never lingers after tests or a CLI session:

1. Owners stop it explicitly (context managers, pytest finalizers).
2. An ``atexit`` hook stops every process still running when Python exits normally,
   including after Ctrl-C (KeyboardInterrupt).
3. On Linux, when started from the main thread, the child gets ``PR_SET_PDEATHSIG`` =
   SIGKILL, so the kernel kills it even when the owner is SIGKILLed. (The signal is tied
   to the thread that forked, which is why worker threads do not get it: the broker would
   die when a thread pool retires that thread.)

The child runs in its own session, so a terminal Ctrl-C reaches only the owner, which then
shuts the broker down in order instead of racing it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from prefstream_kafka.local_brokers.errors import BrokerStartError

_PR_SET_PDEATHSIG = 1
#: Strong references: a broker whose owner object was garbage-collected must still be
#: stopped at exit.
_live: set[ManagedProcess] = set()


def _pdeathsig_preexec() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return preexec


def tail_file(path: Path, lines: int = 40) -> str:
    """Last ``lines`` lines of ``path`` (reads at most the last 64 KiB)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(size - 65536, 0))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


class ManagedProcess:
    """One child process whose output goes to ``log_path`` (appended across restarts)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._start_offset = 0

    def start(self) -> None:
        """Spawn the child; output is appended to the log after a header line."""
        if self.is_running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = self.log_path.open("ab")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"\n===== {stamp} starting {self.name}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self._start_offset = self._log.tell()
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
            preexec_fn=_pdeathsig_preexec(),  # PDEATHSIG: see module docstring
        )
        _live.add(self)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait for the child to exit; raises ``subprocess.TimeoutExpired``."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL and reap: the crash that durability tests simulate."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            self._proc.wait()
        self._finish()

    def terminate(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, wait up to ``timeout_s`` for a clean shutdown, then SIGKILL."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._note(f"did not stop within {timeout_s:.0f}s of SIGTERM; sending SIGKILL")
                self.kill()
        self._finish()

    def tail(self, lines: int = 40) -> str:
        if self._log is not None:
            with contextlib.suppress(OSError, ValueError):
                self._log.flush()
        return tail_file(self.log_path, lines)

    def output_since_start(self, limit: int = 4 * 1024 * 1024) -> str:
        """What this run (not earlier ones in the same log) has written, capped at ``limit``."""
        if self._log is not None:
            with contextlib.suppress(OSError, ValueError):
                self._log.flush()
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(self._start_offset)
                return fh.read(limit).decode("utf-8", errors="replace")
        except OSError:
            return ""

    def raise_if_exited(self) -> None:
        """Raise ``BrokerStartError`` with the log tail if the child has exited."""
        code = self.returncode
        if self._proc is not None and code is not None:
            raise BrokerStartError(
                f"{self.name} exited with code {code} during startup. "
                f"Full log: {self.log_path}\n--- last lines ---\n{self.tail()}"
            )

    def _note(self, message: str) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError, ValueError):
                self._log.write(f"===== {message}\n".encode())
                self._log.flush()

    def _finish(self) -> None:
        if self._proc is not None:
            self._note(f"{self.name} exited with code {self._proc.returncode}")
        _live.discard(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None


@atexit.register
def _stop_all_at_exit() -> None:
    for proc in list(_live):
        with contextlib.suppress(Exception):
            proc.terminate(timeout_s=5.0)
