"""Test hook: ``PREFSTREAM_CRASH_AT=<point>`` makes the process SIGKILL itself at that point.

The crash-safety tests run the real submitter as a subprocess and kill it at each step
boundary of the flow; a signal from outside could not hit those boundaries reliably. Each
point fires right after the remote call succeeded and *before* the ledger records it, the
worst moment: the platform has the thing, the ledger does not know. Unset, it costs one
dictionary lookup. Never set it in production.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

CRASH_ENV = "PREFSTREAM_CRASH_AT"
CRASH_POINTS = frozenset(
    {
        "after_repo_create",
        "after_upload",
        "after_dataset_register",
        "after_job_create",
        "while_polling",
    }
)

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
