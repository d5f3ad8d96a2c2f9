"""Wait for something a service needs at start (its broker, a writable data dir) instead
of exiting: an orchestrator that restarts a crashing service only adds noise, while a
service that waits serves ``/healthz`` and a not-ready ``/readyz`` and recovers by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable


def describe(exc: BaseException) -> str:
    """``Type: message`` once, whether or not the message already names the type."""
    text, name = str(exc), type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}" if text else name


async def wait_until_available(
    check: Callable[[], Awaitable[object]],
    *,
    what: str,
    hint: str,
    retriable: tuple[type[BaseException], ...],
    log: logging.Logger,
    report: Callable[[str], None] = lambda cause: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    initial_delay_s: float = 0.5,
    max_delay_s: float = 10.0,
    log_every_s: float = 30.0,
) -> None:
    """Return once ``check`` succeeds, retrying ``retriable`` errors with doubling delays
    up to ``max_delay_s``. The first failure is logged at once with its cause and
    ``hint`` (what to do), then one line every ``log_every_s``; ``report`` gets each
    ``what: cause`` (for ``/readyz``). Other errors propagate: waiting cannot fix them. Cancel the
    caller to give up (graceful shutdown while waiting)."""
    started = clock()
    next_log = started
    delay = initial_delay_s
    attempt = 0
    while True:
        attempt += 1
        try:
            await check()
        except retriable as exc:
            cause = describe(exc)
            report(f"{what}: {cause}")
            now = clock()
            if now >= next_log:
                log.warning(
                    "%s is not available%s (%s); not ready, retrying every %.0f s at most. %s",
                    what,
                    f" after {now - started:.0f} s" if attempt > 1 else "",
                    cause,
                    max_delay_s,
                    hint,
                    extra={"cause": cause, "attempt": attempt, "waited_s": round(now - started, 1)},
                )
                next_log = now + log_every_s
            await sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        if attempt > 1:
            log.info(
                "%s is available after %d attempts",
                what,
                attempt,
                extra={"waited_s": round(clock() - started, 1)},
            )
        return
