"""Run a service's FastStream app under uvicorn with signal-driven graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import os

import uvicorn
from aiokafka.errors import KafkaError
from faststream.asgi import AsgiFastStream

from prefstream_runtime.startup import BackgroundStart, Connect
from prefstream_runtime.stopping import STOP_TIMED_OUT

log = logging.getLogger(__name__)

STARTUP_FAILURE = 3
"""Exit code when the app cannot start (as uvicorn's own startup failure)."""

WAIT_AGAIN_ON: tuple[type[BaseException], ...] = (KafkaError, OSError, TimeoutError)
"""A start that fails with these after ``connect`` succeeded lost its broker (or disk) in
between: wait again rather than exit."""


async def serve(
    app: AsgiFastStream,
    *,
    host: str,
    port: int,
    service: str,
    connect: Connect | None = None,
    wait_again_on: tuple[type[BaseException], ...] = (),
    shutdown_timeout_s: float = 30.0,
) -> None:
    """Probes answer at once; ``connect`` (e.g. ``wait_for_kafka``) runs before the app
    starts, in the background. SIGINT/SIGTERM stop the wait, or drain and close the app
    within ``shutdown_timeout_s``; past it the process exits with :data:`STOP_TIMED_OUT`."""
    wrapper = BackgroundStart(
        app,
        service=service,
        connect=connect,
        retriable=WAIT_AGAIN_ON + wait_again_on,
        stop_timeout_s=shutdown_timeout_s,
    )
    config = uvicorn.Config(
        wrapper,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, round(shutdown_timeout_s)),  # HTTP connections
    )
    server = uvicorn.Server(config)

    def exit_server() -> None:
        server.should_exit = True

    def exit_now() -> None:
        # Not SystemExit: uvicorn would re-raise the signal on its way out, and asyncio.run
        # would wait for the stuck Kafka clients' tasks.
        logging.shutdown()
        os._exit(STOP_TIMED_OUT)

    wrapper.on_failure = exit_server
    wrapper.on_stop_timeout = exit_now
    log.info("starting", extra={"host": host, "port": port})
    await server.serve()
    if wrapper.failure is not None:
        raise SystemExit(STARTUP_FAILURE)
    if server.started is False and not server.should_exit:
        raise RuntimeError(f"{service} failed to start on {host}:{port}; is the port in use?")
    log.info("stopped")


def run(
    app: AsgiFastStream,
    *,
    host: str,
    port: int,
    service: str,
    connect: Connect | None = None,
    wait_again_on: tuple[type[BaseException], ...] = (),
    shutdown_timeout_s: float = 30.0,
) -> None:
    """``wait_again_on``: errors of the app's start, beside Kafka's and the OS's, that mean
    "what was waited for went away again" (a store on a disk that filled up meanwhile)."""
    asyncio.run(
        serve(
            app,
            host=host,
            port=port,
            service=service,
            connect=connect,
            wait_again_on=wait_again_on,
            shutdown_timeout_s=shutdown_timeout_s,
        )
    )
