"""Error shapes the clients understand.

Platform APIs answer FastAPI-style ``{"detail": …}``; 4xx answers carry
``x-should-retry: false`` so the Stainless SDK does not retry a 409 twice. HF endpoints
answer ``{"error": …}`` with ``X-Error-Code``, which is how ``huggingface_hub`` tells a
missing repo from a missing file.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

JsonObj = dict[str, Any]
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """A platform (Entity Store / Customizer / Deployment) error response."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class HfError(Exception):
    """A HuggingFace-Hub-API error response."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.code = code


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def conflict(what: str) -> ApiError:
    return ApiError(409, f"{what} already exists")


def api_error_response(status: int, detail: Any) -> JSONResponse:
    headers = {"x-should-retry": "false"} if 400 <= status < 500 and status != 429 else {}
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def hf_error_response(
    status: int, message: str, code: str | None = None, extra: JsonObj | None = None
) -> JSONResponse:
    headers = {"X-Error-Message": message.encode("ascii", "replace").decode()}
    if code:
        headers["X-Error-Code"] = code
    return JSONResponse({"error": message, **(extra or {})}, status_code=status, headers=headers)


def validation_detail(exc: ValidationError, where: str = "body") -> list[JsonObj]:
    """FastAPI's 422 shape: ``[{"type", "loc": ["body", …], "msg", "input"}]``."""
    return [
        {"type": e["type"], "loc": [where, *e["loc"]], "msg": e["msg"], "input": e.get("input")}
        for e in json.loads(exc.json())
    ]


async def read_json(request: Request, *, allow_empty: bool = False) -> Any:
    """Parse a JSON body; an empty body is ``{}`` when allowed (cancel/DELETE send none)."""
    body = await request.body()
    if not body.strip():
        if allow_empty:
            return {}
        raise ApiError(422, [{"type": "missing", "loc": ["body"], "msg": "Field required"}])
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ApiError(
            422, [{"type": "json_invalid", "loc": ["body"], "msg": f"JSON decode error: {exc}"}]
        ) from exc


def parse_model(model: type[M], data: Any) -> M:
    """Validate a request body into ``model`` or raise the platform's 422."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, validation_detail(exc)) from exc
