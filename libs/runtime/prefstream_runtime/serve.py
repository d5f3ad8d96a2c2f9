"""Run an ASGI service under uvicorn with signal-driven graceful shutdown."""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


async def serve(app: ASGIApp, *, host: str, port: int, service: str) -> None:
    """SIGINT/SIGTERM trigger uvicorn's lifespan shutdown, which drains and closes the app."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    log.info("starting", extra={"host": host, "port": port})
    await server.serve()
    if server.started is False and not server.should_exit:
        raise RuntimeError(f"{service} failed to start on {host}:{port}; is the port in use?")
    log.info("stopped")


def run(app: ASGIApp, *, host: str, port: int, service: str) -> None:
    asyncio.run(serve(app, host=host, port=port, service=service))
