"""Start a FastStream app in the background, after the HTTP probes are up.

uvicorn serves no request until the ASGI lifespan startup completes, and FastStream's
startup connects to Kafka; with the broker down the probes never answered and the
process exited. :class:`BackgroundStart` completes the lifespan at once, then waits
for Kafka (``connect``) and starts the app in a task: ``/healthz`` answers throughout,
``/readyz`` is 503 with the reason until the app runs and its own check passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.asgi import AsgiFastStream
from starlette.types import Receive, Scope, Send

from prefstream_runtime.stopping import progress_of
from prefstream_runtime.waiting import describe

log = logging.getLogger(__name__)

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 10.0
"""Pause after the n-th failed start in a row: ``FIRST_RETRY_S * 2**(n-1)``, at most this."""

Connect = Callable[[Callable[[str], None]], Awaitable[object]]
"""Waits until the app can start; reports each reason it cannot yet."""


class BackgroundStart:
    """ASGI wrapper: lifespan handled here, everything else passed to ``app``."""

    def __init__(
        self,
        app: AsgiFastStream,
        *,
        service: str,
        connect: Connect | None,
        retriable: tuple[type[BaseException], ...] = (),
        stop_timeout_s: float | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.connect = connect
        self.retriable = retriable
        """Errors of a start that mean "wait again" rather than "exit" (with ``connect``)."""
        self.phase = "created"
        self.waiting_for = ""
        self.failure: BaseException | None = None
        self.on_failure: Callable[[], None] = lambda: None
        """Set by the server runner: ask the server to exit (the lifespan cannot)."""
        self.stop_timeout_s = stop_timeout_s
        """Bound of :meth:`stop`; none: unbounded."""
        self.stop_timed_out: str | None = None
        """What the stop was still waiting for when it outlived ``stop_timeout_s``."""
        self.on_stop_timeout: Callable[[], None] = lambda: None
        """Set by the server runner: end the process (the stuck clients cannot be awaited)."""
        app.after_startup(self._started)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"] == "/readyz" and self.phase != "running":
            await self._not_ready(send)
        else:
            await self.app(scope, receive, send)

    async def _not_ready(self, send: Send) -> None:
        body: dict[str, Any] = {"ready": False, "service": self.service, "phase": self.phase}
        if self.waiting_for:
            body["waiting_for"] = self.waiting_for
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    async def _started(self) -> None:
        """Runs after the broker connected and every other after-startup hook."""
        self.phase = "running"

    def _report(self, cause: str) -> None:
        self.waiting_for = cause

    async def _run(self) -> None:
        delay = FIRST_RETRY_S
        try:
            while not await self._start_once():
                # Not a hot loop when the wait passes at once but the start keeps failing.
                self.phase = "waiting"
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_S)
        except asyncio.CancelledError:
            self.phase = "stopped"
            raise
        except BaseException as exc:  # reported, then the server exits
            self.phase = "failed"
            self.failure = exc
            log.error("%s failed to start: %s", self.service, exc, exc_info=exc)
            self.on_failure()

    async def _start_once(self) -> bool:
        """Wait, start, run until stopped: ``True``. ``False`` when what was waited for
        went away again before the app had started (a broker killed right after it
        answered): the half-started app is stopped (its shutdown hooks close what its
        startup opened) and the wait begins again, instead of the process exiting."""
        if self.connect is not None:
            self.phase = "waiting"
            await self.connect(self._report)
        if self._stop.is_set():
            return True
        self.phase = "starting"
        self.waiting_for = ""
        try:
            async with self.app.start_lifespan_context():
                # FastStream enters this body once the startup hooks ran, *before* the
                # broker connects; ``_started`` (an after-startup hook) marks "running".
                await self._stop.wait()
        except self.retriable as exc:
            if self.phase == "running" or self.connect is None:
                raise
            cause = describe(exc)
            log.warning("%s could not start (%s); waiting again", self.service, cause)
            self._report(cause)
            try:
                await self.app.stop()
            except Exception as cleanup:  # the next start opens afresh
                log.warning("cleanup after a failed start: %s", describe(cleanup))
            return False
        self.phase = "stopped"
        return True

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-start")
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await self.stop()
        await send({"type": "lifespan.shutdown.complete"})

    async def stop(self) -> None:
        """Give up waiting at once; an app that is starting finishes starting, then stops
        (drain, commit, close), so no store is left half-open."""
        self._stop.set()
        task = self._task
        if task is None:
            return
        if self.phase in ("created", "waiting"):
            task.cancel()
            log.info("%s stopped before it started (was %s)", self.service, self.phase)
        done, _ = await asyncio.wait({task}, timeout=self.stop_timeout_s)
        if done:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        await self._give_up(task)

    async def _give_up(self, task: asyncio.Task[None]) -> None:
        """The stop waits on something that does not answer (a dead broker): say what, close
        the local stores (they need no broker) and leave the rest to the process exit."""
        progress = progress_of(self.app)
        self.stop_timed_out = progress.waiting_for
        log.error(
            "%s did not stop within %gs; was waiting for %s. Closing its local stores and "
            "exiting; uncommitted work is redelivered after the restart (is the broker up?)",
            self.service,
            self.stop_timeout_s,
            progress.waiting_for,
            extra={"waiting_for": progress.waiting_for},
        )
        task.cancel()
        if progress.close_local is not None:
            try:
                await asyncio.wait_for(progress.close_local(), self.stop_timeout_s)
                log.info("%s stores closed", self.service)
            except Exception as exc:  # the exit goes ahead; the stores recover on open
                log.error("%s could not close its stores: %s", self.service, describe(exc))
        self.on_stop_timeout()
