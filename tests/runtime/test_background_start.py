"""``BackgroundStart``: a dependency that goes away between the wait and the start makes
the service wait again, never exit (the chaos suite saw a broker killed right after it
answered take the service down with it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import duckdb
from aiokafka.errors import KafkaConnectionError
from prefstream_runtime.serve import WAIT_AGAIN_ON
from prefstream_runtime.startup import BackgroundStart
from prefstream_stores.errors import STORE_UNAVAILABLE


class FlakyApp:
    """Fails to start ``failures`` times (the broker went away), then runs."""

    def __init__(self, failures: int, error: BaseException | None = None) -> None:
        self.failures = failures
        self.error = error or KafkaConnectionError("Unable to bootstrap from [('h', 9)]")
        self.starts = 0
        self.stops = 0
        self.running = asyncio.Event()
        self.hooks: list[Callable[[], Awaitable[None]]] = []

    def after_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        self.hooks.append(hook)

    @asynccontextmanager
    async def start_lifespan_context(self) -> AsyncIterator[None]:
        """As FastStream's: the body is entered before the broker connects (in a task
        group), so a failed connect cancels the body, and after-startup hooks run only
        once the broker is connected."""
        self.starts += 1
        failed = self.starts <= self.failures

        async def connect() -> None:
            await asyncio.sleep(0)
            if failed:
                raise self.error
            for hook in self.hooks:
                await hook()
            self.running.set()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(connect)
                yield
        except ExceptionGroup as group:
            raise group.exceptions[0] from None

    async def stop(self) -> None:
        self.stops += 1


def waiter(calls: list[str]) -> Callable[[Callable[[str], None]], asyncio.Future[None]]:
    def connect(report: Callable[[str], None]) -> asyncio.Future[None]:
        calls.append("wait")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    return connect


async def test_a_start_that_loses_its_broker_waits_again() -> None:
    app, calls = FlakyApp(failures=2), list[str]()
    start = BackgroundStart(app, service="svc", connect=waiter(calls), retriable=WAIT_AGAIN_ON)  # type: ignore[arg-type]
    task = asyncio.create_task(start._run())
    await asyncio.wait_for(app.running.wait(), 5)
    assert (app.starts, app.stops, calls) == (3, 2, ["wait", "wait", "wait"])
    assert start.phase == "running"
    assert start.failure is None
    await start.stop()
    await task
    assert start.phase == "stopped"


async def test_other_start_errors_still_end_the_process() -> None:
    app = FlakyApp(failures=1, error=ValueError("bad db_path"))
    start = BackgroundStart(app, service="svc", connect=waiter([]), retriable=WAIT_AGAIN_ON)  # type: ignore[arg-type]
    exited = asyncio.Event()
    start.on_failure = exited.set
    await start._run()
    assert exited.is_set()
    assert start.phase == "failed"
    assert isinstance(start.failure, ValueError)
    assert app.starts == 1


async def test_a_store_that_fills_up_before_the_start_waits_again() -> None:
    """The store opened when waited for, then the disk filled before the app opened it."""
    app = FlakyApp(failures=1, error=duckdb.IOException("No space left on device"))
    retriable = WAIT_AGAIN_ON + STORE_UNAVAILABLE
    start = BackgroundStart(app, service="svc", connect=waiter([]), retriable=retriable)  # type: ignore[arg-type]
    task = asyncio.create_task(start._run())
    await asyncio.wait_for(app.running.wait(), 5)
    assert (app.starts, app.stops, start.failure) == (2, 1, None)
    await start.stop()
    await task
