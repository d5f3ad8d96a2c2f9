"""Run a local broker in the foreground until Ctrl-C / SIGTERM (for CLIs)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Protocol


class _ForegroundBroker(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...

    def wait(self) -> int: ...


class _StopRequested(Exception):
    pass


def run_in_foreground(
    broker: _ForegroundBroker, *, name: str, banner: Callable[[], str], log_path: Path
) -> int:
    """Start ``broker``, block until SIGINT/SIGTERM or until it dies, then stop it.

    ``banner()`` (where it listens) is called and printed once it answers (a broker that
    picks its port at start only knows it then); if it dies on its own, the
    exit code and ``log_path`` go to stderr.

    The first signal interrupts the wait (or the startup) and triggers an orderly stop;
    further signals are ignored so that a second Ctrl-C cannot leave the broker orphaned
    halfway through shutdown. Returns 0 after a requested stop, otherwise the broker's own
    non-zero exit code (reported first).
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("run_forever() must be called from the main thread (signal handling)")

    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise _StopRequested(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            broker.start()
            print(f"{banner()}\nlog: {log_path}\nPress Ctrl-C to stop.", flush=True)
            code = broker.wait()
            stopping = True
        except _StopRequested:
            return 0
        print(f"{name} exited unexpectedly with code {code}; see {log_path}", file=sys.stderr)
        return code or 1
    finally:
        try:
            broker.stop()
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
