"""Supervise child processes: prefixed logs, restart on crash, ordered graceful shutdown.

``prefstream up`` runs every service as its own process (as compose would), so a crash or
a ``kill -9`` of one service exercises exactly the recovery paths production relies on.

No child outlives the supervisor: each runs in its own session (a terminal's Ctrl-C
reaches only the supervisor, which stops them in order), and on Linux gets SIGTERM from
the kernel when the supervisor dies however it dies (``PR_SET_PDEATHSIG``). Output that
can no longer be written (``| head``, a closed terminal, ``| tee`` killed by the same
Ctrl-C) is dropped instead of aborting the shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

COLORS = ("36", "35", "33", "32", "34", "31")
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGTERM the child when this process dies.

    The signal follows the thread that forked, so it is only set from the main thread (a
    worker thread's exit would stop the child). None where Linux's prctl is unavailable.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec


@dataclass
class ChildSpec:
    """One supervised process. ``ready_url`` is polled until 200 before the next child starts."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    ready_timeout_s: float = 60.0


@dataclass
class ChildState:
    spec: ChildSpec
    color: str
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    pump: asyncio.Task[None] | None = None


class Supervisor:
    """Starts children in order, restarts any that exits while running, stops in reverse."""

    def __init__(
        self,
        specs: list[ChildSpec],
        *,
        out: Callable[[str], None] | None = None,
        max_backoff_s: float = 10.0,
        stop_timeout_s: float = 30.0,
        color: bool | None = None,
    ) -> None:
        use_color = sys.stdout.isatty() if color is None else color
        self._children = [
            ChildState(spec, COLORS[i % len(COLORS)] if use_color else "")
            for i, spec in enumerate(specs)
        ]
        self._out = out or (lambda line: print(line, flush=True))
        self._width = max((len(s.name) for s in specs), default=4)
        self._max_backoff_s = max_backoff_s
        self._stop_timeout_s = stop_timeout_s
        self._stopping = False
        self._silenced = False
        self._watchers: list[asyncio.Task[None]] = []

    def say(self, name: str, message: str, color: str = "") -> None:
        """Write one prefixed line; once the output is gone, drop lines (and keep going)."""
        if self._silenced:
            return
        prefix = f"{name:>{self._width}} |"
        if color:
            prefix = f"\x1b[{color}m{prefix}\x1b[0m"
        try:
            self._out(f"{prefix} {message}")
        except OSError:  # BrokenPipeError, EIO from a hung-up terminal
            self._silenced = True
            _discard_stdout()

    def pid(self, name: str) -> int | None:
        for child in self._children:
            if child.spec.name == name and child.process is not None:
                return child.process.pid
        return None

    def restarts(self, name: str) -> int:
        return next(c.restarts for c in self._children if c.spec.name == name)

    async def start(self) -> None:
        for child in self._children:
            await self._spawn(child)
            await self._wait_ready(child)
            self._watchers.append(asyncio.create_task(self._watch(child)))

    async def _spawn(self, child: ChildState) -> None:
        spec = child.spec
        child.process = await asyncio.create_subprocess_exec(
            *spec.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **spec.env},
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        child.started_at = time.monotonic()
        child.pump = asyncio.create_task(self._pump(child, child.process))
        self.say("up", f"started {spec.name} (pid {child.process.pid})")

    async def _pump(self, child: ChildState, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            self.say(child.spec.name, raw.decode(errors="replace").rstrip(), child.color)

    async def _wait_ready(self, child: ChildState) -> None:
        url = child.spec.ready_url
        if url is None:
            return
        deadline = time.monotonic() + child.spec.ready_timeout_s
        while time.monotonic() < deadline:
            if child.process is None or child.process.returncode is not None:
                return  # the watcher restarts it
            if await asyncio.to_thread(_http_ok, url):
                self.say("up", f"{child.spec.name} is ready")
                return
            await asyncio.sleep(0.2)
        self.say("up", f"{child.spec.name} not ready after {child.spec.ready_timeout_s:.0f}s")

    async def _watch(self, child: ChildState) -> None:
        while not self._stopping:
            assert child.process is not None
            code = await child.process.wait()
            if child.pump is not None:
                await child.pump
            if self._stopping:
                return
            ran = time.monotonic() - child.started_at
            if ran > 60:
                child.restarts = 0
            backoff = min(self._max_backoff_s, 0.5 * 2**child.restarts)
            child.restarts += 1
            self.say(
                "up",
                f"{child.spec.name} exited with code {code}; restart #{child.restarts} "
                f"in {backoff:.1f}s",
            )
            await asyncio.sleep(backoff)
            if self._stopping:
                return
            await self._spawn(child)
            await self._wait_ready(child)

    async def stop(self) -> None:
        """SIGTERM in reverse start order (consumers before the broker they read from)."""
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        for child in reversed(self._children):
            process = child.process
            if process is None or process.returncode is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), self._stop_timeout_s)
            except TimeoutError:
                self.say("up", f"{child.spec.name} did not stop in time; killing it")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            if child.pump is not None:
                await child.pump
            code = process.returncode
            graceful = code in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM once drained
            self.say("up", f"stopped {child.spec.name}" + ("" if graceful else f" (code {code})"))


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail on the
    broken pipe either (stderr is left alone: it may still reach a terminal)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
