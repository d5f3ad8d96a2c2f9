"""Test hook: die with SIGKILL at a named point of the cut protocol.

``PREFSTREAM_CRASH_AT=<point>`` makes the batcher kill itself the first time it reaches
``<point>``, exactly as ``kill -9`` would, so crash tests can hit windows (such as between
writing a dataset and announcing it) that an external kill only hits by luck. Unset in
production; the points are listed in ``POINTS`` and in docs/batcher.md.
"""

from __future__ import annotations

import os
import signal

ENV = "PREFSTREAM_CRASH_AT"

POINTS = (
    "after_decide",
    "mid_files",
    "before_rename",
    "after_rename",
    "after_files",
    "after_publish",
)


def crash_point(name: str) -> None:
    assert name in POINTS, name
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
