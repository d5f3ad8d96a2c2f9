"""Retry policies (tenacity): only transient failures are retried, and creates never blindly.

Every retry is bounded twice, by ``attempts`` and by ``deadline_seconds`` (no wait that
would end past it), and every failed attempt is logged at once with what was tried, the
cause (with the URL) and what happens next.

A create whose request failed transiently may still have happened on the server (the
response was lost, the proxy timed out after forwarding). :func:`create_once` therefore
looks for the thing before every retry, and treats "already exists" as "find it".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from prefstream_nemo.errors import Exists, Permanent, Transient, describe

T = TypeVar("T")
log = logging.getLogger(__name__)

RetryHook = Callable[[str, BaseException], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, at least any ``Retry-After`` the server sent."""

    attempts: int = 8
    max_seconds: float = 30.0
    initial_seconds: float = 0.5
    deadline_seconds: float | None = None
    """No retry starts after this long since the first attempt (``None``: attempts only)."""
    on_retry: RetryHook | None = None

    def _stop(self) -> stop_base:
        stop: stop_base = stop_after_attempt(self.attempts)
        if self.deadline_seconds is not None:
            stop = stop | stop_before_delay(self.deadline_seconds)
        return stop

    def retrying(self, what: str) -> AsyncRetrying:
        jitter = wait_random_exponential(multiplier=self.initial_seconds, max=self.max_seconds)

        def wait(state: RetryCallState) -> float:
            delay = float(jitter(state))
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, Transient) and exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, max(self.max_seconds, 1.0)))
            return delay

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if exc is None:
                return
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "NeMo platform call failed; retrying",
                extra={
                    "operation": what,
                    "error": describe(exc),
                    "attempt": state.attempt_number,
                    "attempts": self.attempts,
                    "retry_in_s": round(delay, 1),
                },
            )
            if self.on_retry is not None:
                self.on_retry(what, exc)

        return AsyncRetrying(
            retry=retry_if_exception_type(Transient),
            stop=self._stop(),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )


async def call(policy: RetryPolicy, what: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run a read (or a naturally idempotent write), retrying transient failures."""
    async for attempt in policy.retrying(what):
        with attempt:
            return await fn()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


async def create_once(
    policy: RetryPolicy,
    what: str,
    create: Callable[[], Awaitable[T]],
    lookup: Callable[[], Awaitable[T | None]],
    *,
    look_first: bool = False,
) -> tuple[T, bool]:
    """Create something at most once; returns ``(thing, created_now)``.

    ``look_first`` is for resuming after a crash, when an earlier process may have made
    it. After a transient failure of the create itself, the next attempt looks first.
    """
    ambiguous = look_first
    async for attempt in policy.retrying(what):
        with attempt:
            if ambiguous:
                found = await lookup()
                if found is not None:
                    return found, False
            try:
                return await create(), True
            except Transient:
                ambiguous = True
                raise
            except Exists as exc:
                found = await lookup()
                if found is None:
                    raise Permanent(
                        f"{describe(exc)}; but no matching one could be found, so it belongs "
                        "to something else or the request was invalid"
                    ) from exc
                return found, False
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
