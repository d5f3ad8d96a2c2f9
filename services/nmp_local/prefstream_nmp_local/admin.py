"""Health and admin routes: ``/health`` for readiness polling, ``/v1/nmp-local/faults`` to
read or replace fault injection while the server runs. Never faulted themselves."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.errors import parse_model, read_json
from prefstream_nmp_local.faults import FaultConfig

SERVICE = "nmp-local"


def routes(ctx: AppContext) -> list[BaseRoute]:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": SERVICE})

    async def get_faults(request: Request) -> Response:
        return JSONResponse(
            {**ctx.faults.config.model_dump(mode="json"), "injected": ctx.faults.injected}
        )

    async def put_faults(request: Request) -> Response:
        ctx.faults.config = parse_model(FaultConfig, await read_json(request, allow_empty=True))
        return JSONResponse(ctx.faults.config.model_dump(mode="json"))

    return [
        Route("/health", health, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", health, methods=["GET"]),
        Route("/v1/nmp-local/faults", get_faults, methods=["GET"]),
        Route("/v1/nmp-local/faults", put_faults, methods=["PUT"]),
    ]
