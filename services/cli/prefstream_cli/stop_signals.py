"""Ctrl-C, SIGTERM and SIGHUP all mean "stop what you started, then exit 128 + signal".

A terminal sends SIGINT, a service manager (systemd, ``docker stop``, ``timeout``)
SIGTERM, a closed terminal SIGHUP: the long-running commands (``prefstream up``,
``prefstream demo``) treat them alike, so children are stopped in order whoever asks,
and the exit status is what a shell reports for a process the signal ended.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

T = TypeVar("T")


@dataclass
class StopRequest:
    """Set by the first of :data:`STOP_SIGNALS` (later ones change nothing)."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    signal: signal.Signals | None = None

    @property
    def exit_code(self) -> int | None:
        """128 + the signal, as a shell reports a process the signal ended."""
        return None if self.signal is None else 128 + self.signal


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Within the running loop: :data:`STOP_SIGNALS` set the request instead of ending
    the process (Python's default would skip every ``finally`` that stops a child)."""
    loop = asyncio.get_running_loop()
    request = StopRequest()

    def on_signal(sig: signal.Signals) -> None:
        if request.signal is None:
            request.signal = sig
        request.event.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield request
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def until_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or ``None`` when ``stop`` was set first: ``work`` is then
    cancelled and awaited, so that its ``finally`` blocks (stopping the stack) run to the
    end before this returns (also when the caller itself is cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        return None
    return task.result()
