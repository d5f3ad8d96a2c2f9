"""Data Store namespaces: ``POST /v1/datastore/namespaces`` with a form-encoded body.

This is not an HF endpoint; the peer (and our submitter) call it with
``httpx.post(..., data={"namespace": ns})`` before creating repos.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.errors import ApiError, conflict, not_found
from prefstream_nmp_local.timefmt import iso

KIND = "datastore_namespace"


def routes(ctx: AppContext) -> list[BaseRoute]:
    async def create(request: Request) -> Response:
        ns = await _namespace_from_body(request)
        now = ctx.now()
        body = {"namespace": ns, "created_at": iso(now), "updated_at": iso(now)}
        if not ctx.store.insert(KIND, ns, body):
            raise conflict(f"Namespace {ns}")
        return JSONResponse(body, status_code=201)

    async def get(request: Request) -> Response:
        ns = request.path_params["ns"]
        body = ctx.store.get(KIND, ns)
        if body is None:
            raise not_found(f"Namespace {ns}")
        return JSONResponse(body)

    async def delete(request: Request) -> Response:
        ns = request.path_params["ns"]
        if not ctx.store.delete(KIND, ns):
            raise not_found(f"Namespace {ns}")
        return JSONResponse({"message": f"Namespace {ns} deleted"})

    async def list_all(request: Request) -> Response:
        return JSONResponse({"namespaces": ctx.store.list(KIND)})

    return [
        Route("/v1/datastore/namespaces", create, methods=["POST"]),
        Route("/v1/datastore/namespaces", list_all, methods=["GET"]),
        Route("/v1/datastore/namespaces/{ns}", get, methods=["GET"]),
        Route("/v1/datastore/namespaces/{ns}", delete, methods=["DELETE"]),
    ]


async def _namespace_from_body(request: Request) -> str:
    """Form-encoded like the real service; JSON accepted too for convenience."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            value = json.loads(await request.body()).get("namespace")
        except (ValueError, AttributeError):
            value = None
    else:
        form = await request.form()
        value = form.get("namespace")
    if not isinstance(value, str) or not value or "/" in value:
        raise ApiError(
            422, [{"type": "missing", "loc": ["body", "namespace"], "msg": "Field required"}]
        )
    return value
