"""Fault injection for reliability tests: 5xx answers, latency, dropped connections.

Each of ``error_rate``, ``latency_ms``, ``drop_rate``, ``drop_response_rate`` is a number
for every route, or a mapping ``{pattern: number}`` where a pattern is a glob over the
path, optionally led by a method: ``"POST /v1/customization/jobs"``, ``"/v1/hf/*"``,
``"*"``. The first matching pattern wins. Health and ``/v1/nmp-local/*`` admin routes are
never faulted, so tests can always reach and reconfigure the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from prefstream_nmp_local.settings import Latency, NmpLocalSettings, Rate, RouteValues

if TYPE_CHECKING:
    from prefstream_nmp_local.context import AppContext

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EXEMPT_PREFIXES = ("/health", "/healthz", "/readyz", "/metrics", "/v1/nmp-local/")


class FaultConfig(BaseModel):
    """The live fault settings; replaceable at run time via ``PUT /v1/nmp-local/faults``."""

    model_config = ConfigDict(extra="forbid")

    error_rate: Rate = 0.0
    error_status: int = Field(503, ge=500, le=599)
    latency_ms: Latency = 0.0
    drop_rate: Rate = 0.0
    drop_response_rate: Rate = 0.0
    fail_jobs_at_percent: float | None = Field(None, ge=0, le=100)

    @classmethod
    def from_settings(cls, s: NmpLocalSettings) -> FaultConfig:
        return cls(
            error_rate=s.error_rate,
            error_status=s.error_status,
            latency_ms=s.latency_ms,
            drop_rate=s.drop_rate,
            drop_response_rate=s.drop_response_rate,
            fail_jobs_at_percent=s.fail_jobs_at_percent,
        )


class FaultState:
    """Current fault config plus the (optionally seeded) random source that draws faults."""

    def __init__(self, config: FaultConfig, seed: int | None = None) -> None:
        self.config = config
        self.rng = random.Random(seed)
        self.injected: dict[str, int] = {"error": 0, "drop": 0, "drop_response": 0}

    def draw(self, values: RouteValues, method: str, path: str) -> bool:
        rate = value_for(values, method, path)
        return rate > 0 and self.rng.random() < rate


def value_for(values: RouteValues, method: str, path: str) -> float:
    """The number that applies to ``method path`` (0 if no pattern matches)."""
    if not isinstance(values, dict):
        return float(values)
    for pattern, value in values.items():
        if _route_matches(pattern, method, path):
            return float(value)
    return 0.0


def _route_matches(pattern: str, method: str, path: str) -> bool:
    want_method, _, want_path = pattern.strip().rpartition(" ")
    if want_method and want_method.upper() != method.upper():
        return False
    return fnmatch.fnmatchcase(path, want_path or "*")


class FaultMiddleware:
    """ASGI middleware that applies the live ``FaultConfig`` to every non-exempt request."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = self.ctx.faults
        cfg = state.config
        method = str(scope.get("method", "GET"))
        delay = value_for(cfg.latency_ms, method, path)
        if delay > 0:
            await asyncio.sleep(delay / 1000.0)
        if state.draw(cfg.drop_rate, method, path):
            state.injected["drop"] += 1
            await self._drop(scope, receive, send)
            return
        if state.draw(cfg.error_rate, method, path):
            state.injected["error"] += 1
            await _send_error(send, cfg.error_status)
            return
        if state.draw(cfg.drop_response_rate, method, path):
            state.injected["drop_response"] += 1

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await self._drop(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Abort the TCP connection; without uvicorn's hook, break the response mid-way."""
        dropper = self.ctx.dropper
        if dropper is not None and dropper(dict(scope)):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    while (await receive())["type"] != "http.disconnect":
                        pass
            return
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
        )
        raise ConnectionAbortedError("nmp-local fault injection: connection dropped")


async def _send_error(send: Send, status: int) -> None:
    body = json.dumps({"detail": f"nmp-local fault injection: {status}"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
