"""What a stopping service is waiting for, and how to close its local stores regardless.

A service whose broker died could not stop: draining waited for an announcement the dead
broker never acknowledged, and closing the consumers and the producer waited on it too.
The server bounds the stop (``service.shutdown_timeout_seconds``); past the bound it needs
to say what the stop was stuck on and to close the local stores (DuckDB) all the same.
The lifecycle records both here; the server reads them through the app.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

STOP_TIMED_OUT = 4
"""Exit code of a stop that outlived ``service.shutdown_timeout_seconds``."""


@dataclass
class StopProgress:
    """``waiting_for``: the step the stop is in; ``close_local``: closes the stores."""

    waiting_for: str = "the app to stop"
    close_local: Callable[[], Awaitable[None]] | None = None
    closed: bool = field(default=False)


_BY_APP: weakref.WeakKeyDictionary[object, StopProgress] = weakref.WeakKeyDictionary()


def track(app: object, progress: StopProgress) -> None:
    _BY_APP[app] = progress


def progress_of(app: object) -> StopProgress:
    """The app's record; a fresh one (nothing to close) for an app the lifecycle did not
    build."""
    return _BY_APP.get(app) or StopProgress()
