"""The processes a test starts: stopped as a user would, and never left behind."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def started(argv: Sequence[str], **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """``subprocess.Popen(argv, **popen)`` for the block: leaving it kills the process if
    it still runs (a failed assertion), reaps it and closes its pipes."""
    with subprocess.Popen(argv, **popen) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def ctrl_c(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGINT (Ctrl-C), then the exit status; ``TimeoutExpired`` if it has not exited within
    ``timeout`` (:func:`started` then kills it)."""
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=timeout)
