"""Run a local broker in the foreground until Ctrl-C / SIGTERM (for CLIs)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol


class _ForegroundBroker(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...

    def wait(self) -> int: ...


class _StopRequested(Exception):
    pass


def run_in_foreground(
    broker: _ForegroundBroker,
    *,
    on_ready: Callable[[], None],
    on_exit: Callable[[int], None],
) -> int:
    """Start ``broker``, block until SIGINT/SIGTERM or until it dies, then stop it.

    The first signal interrupts the wait (or the startup) and triggers an orderly stop;
    further signals are ignored so that a second Ctrl-C cannot leave the broker orphaned
    halfway through shutdown. Returns 0 after a requested stop, otherwise the broker's own
    non-zero exit code (``on_exit`` is told about it first).
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
            on_ready()
            code = broker.wait()
            stopping = True
        except _StopRequested:
            return 0
        on_exit(code)
        return code or 1
    finally:
        try:
            broker.stop()
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
