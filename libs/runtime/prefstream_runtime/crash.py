"""Test hook: ``PREFSTREAM_CRASH_AT=<point>`` makes the process SIGKILL itself at that point.

Crash-safety tests run real services as subprocesses and need to die exactly at protocol
boundaries (between writing a dataset and announcing it, right after a remote create and
before the ledger records it) that a signal from outside hits only by luck. The process
dies every time it reaches the named point while the variable is set, exactly as
``kill -9`` would; tests clear it before restarting. Unset, it costs one dictionary
lookup. Never set it in production. Each service lists its points in its docs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

CRASH_ENV = "PREFSTREAM_CRASH_AT"

log = logging.getLogger(__name__)


def crash_point(name: str) -> None:
    """SIGKILL this process if ``PREFSTREAM_CRASH_AT`` names ``name``."""
    if os.environ.get(CRASH_ENV) != name:
        return
    log.warning("test hook: SIGKILL at %s", name, extra={"crash_point": name})
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
