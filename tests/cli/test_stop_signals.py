"""``until_stopped`` and ``stop_on_signals``: a stop request ends the work only after the
work's own ``finally`` (which stops the stack) has run to the end."""

from __future__ import annotations

import asyncio
import os
import signal

from prefstream_cli.stop_signals import stop_on_signals, until_stopped


async def test_a_stop_cancels_the_work_and_waits_for_its_cleanup() -> None:
    stop = asyncio.Event()
    started = asyncio.Event()
    cleaned: list[str] = []

    async def work() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits, as stopping children does
            cleaned.append("stack stopped")
        return "never"

    async def request_stop() -> None:
        await started.wait()
        stop.set()

    requester = asyncio.create_task(request_stop())
    assert await until_stopped(work(), stop) is None
    await requester
    assert cleaned == ["stack stopped"]


async def test_work_that_finishes_first_returns_its_result() -> None:
    async def work() -> int:
        return 7

    assert await until_stopped(work(), asyncio.Event()) == 7


async def test_sigterm_sets_the_request_with_exit_status_143() -> None:
    with stop_on_signals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.event.wait(), 5)
    assert stop.signal is signal.SIGTERM
    assert stop.exit_code == 143
