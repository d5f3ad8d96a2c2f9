"""Health, readiness and Prometheus endpoints mounted next to a FastStream app.

``/healthz`` answers while the process runs; ``/readyz`` reports 200 only once the
service's own readiness check passes (broker connected, partitions assigned, DB open),
so orchestrators route and restart on the right signal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.types import ASGIApp, Receive, Scope, Send

ReadyCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def _json_app(produce: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        status, body = await produce()
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def probe_routes(
    service: str, ready: ReadyCheck, registry: CollectorRegistry
) -> list[tuple[str, ASGIApp]]:
    async def healthz() -> tuple[int, dict[str, Any]]:
        return 200, {"status": "ok", "service": service}

    async def readyz() -> tuple[int, dict[str, Any]]:
        ok, detail = await ready()
        return (200 if ok else 503), {"ready": ok, "service": service, **detail}

    return [
        ("/healthz", _json_app(healthz)),
        ("/readyz", _json_app(readyz)),
        ("/metrics", make_asgi_app(registry)),
    ]


def asgi_app(
    broker: KafkaBroker,
    *,
    service: str,
    ready: ReadyCheck,
    registry: CollectorRegistry,
    on_startup: Sequence[Callable[..., Any]] = (),
    after_startup: Sequence[Callable[..., Any]] = (),
    on_shutdown: Sequence[Callable[..., Any]] = (),
    after_shutdown: Sequence[Callable[..., Any]] = (),
) -> AsgiFastStream:
    """The FastStream app with probes; shutdown stops the broker (draining handlers) before
    ``after_shutdown`` hooks close stores."""
    return AsgiFastStream(
        broker,
        asgi_routes=probe_routes(service, ready, registry),
        on_startup=on_startup,
        after_startup=after_startup,
        on_shutdown=on_shutdown,
        after_shutdown=after_shutdown,
        asyncapi_path="/asyncapi",
        logger=logging.getLogger(f"prefstream.{service}.app"),  # our handlers, not FastStream's
    )
