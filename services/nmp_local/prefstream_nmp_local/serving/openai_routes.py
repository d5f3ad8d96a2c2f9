"""OpenAI-compatible routes: per deployment, and at the root as NIM's proxy answers them.

- ``{base}/nim/{ns}/{name}/v1/{chat/completions,completions,models}``: one deployment
  (its ``url``); ``model`` must be one of its models or its name.
- ``{base}/v1/{chat/completions,completions}`` and ``{base}/nim/v1/...``: any deployment,
  chosen by ``model`` (a deployed model ``ns/name``, or a deployment's name).
- ``GET {base}/nim/v1/models``: every served model. ``{base}/nim/v1`` is the proxy's base
  URL for the ``openai`` client; the root has no OpenAI ``GET /v1/models``, because that
  path is the Entity Store's model list (on the real platform the two are separate hosts).

Generation runs in a worker thread (``anyio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.deployments import DEP_KIND, deployment_weights
from prefstream_nmp_local.serving.protocol import (
    ChatRequest,
    CompletionRequest,
    OpenAIError,
    chat_response,
    completion_response,
    model_card,
    model_list,
    model_not_found,
    parse_request,
    sampling_params,
)
from prefstream_nmp_local.serving.served_models import ServedModels

if TYPE_CHECKING:
    from prefstream_nmp_local.serving.engine import Engine

JsonObj = dict[str, Any]
Endpoint = Callable[[Request], Awaitable[Response]]
NIM = "/nim/{ns}/{name}/v1"
PROXY_PREFIXES = ("/v1", "/nim/v1")


def routes(ctx: AppContext, served: ServedModels) -> list[BaseRoute]:
    """Per deployment, at the proxy base ``/nim/v1``, and the root's completions routes."""
    api = _OpenAIApi(ctx, served)
    out: list[BaseRoute] = [
        Route(f"{NIM}/chat/completions", api.chat, methods=["POST"]),
        Route(f"{NIM}/completions", api.completions, methods=["POST"]),
        Route(f"{NIM}/models", api.deployment_models, methods=["GET"]),
        Route("/nim/v1/models", api.all_models, methods=["GET"]),
    ]
    for prefix in PROXY_PREFIXES:
        out.append(Route(f"{prefix}/chat/completions", api.chat, methods=["POST"]))
        out.append(Route(f"{prefix}/completions", api.completions, methods=["POST"]))
    return out


def _error(exc: OpenAIError) -> JSONResponse:
    headers = {}
    if 400 <= exc.status < 500 or exc.code == "model_load_failed":
        headers["x-should-retry"] = "false"
    elif exc.status == 503:
        headers["retry-after"] = "1"
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _openai_errors(handler: Endpoint) -> Endpoint:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except OpenAIError as exc:
            return _error(exc)

    return wrapped


class _OpenAIApi:
    def __init__(self, ctx: AppContext, served: ServedModels) -> None:
        self.ctx = ctx
        self.served = served
        self.chat = _openai_errors(self._chat)
        self.completions = _openai_errors(self._completions)
        self.deployment_models = _openai_errors(self._deployment_models)
        self.all_models = _openai_errors(self._all_models)

    # routes ----------------------------------------------------------------------------
    async def _completions(self, request: Request) -> Response:
        req = parse_request(CompletionRequest, await request.body())
        params = sampling_params(req)
        prompts = req.prompts()
        if not prompts:
            raise OpenAIError(400, "prompt must not be an empty list", param="prompt")
        engine = self._engine(request, req.model)

        def run() -> JsonObj:
            ids = engine.encode_prompts(prompts)
            generations = engine.generate(ids, params)
            return completion_response(
                id=f"cmpl-{uuid.uuid4().hex}",
                created=int(time.time()),
                model=req.model,
                prompt_tokens=[len(i) for i in ids],
                generations=generations,
            )

        return JSONResponse(await anyio.to_thread.run_sync(run))

    async def _chat(self, request: Request) -> Response:
        req = parse_request(ChatRequest, await request.body())
        params = sampling_params(req)
        engine = self._engine(request, req.model)

        def run() -> JsonObj:
            ids = engine.encode_chat(req.template_messages())
            return chat_response(
                id=f"chatcmpl-{uuid.uuid4().hex}",
                created=int(time.time()),
                model=req.model,
                prompt_tokens=len(ids),
                generations=engine.generate([ids], params),
            )

        return JSONResponse(await anyio.to_thread.run_sync(run))

    async def _deployment_models(self, request: Request) -> Response:
        dep = self._deployment_at(request)
        return JSONResponse(model_list(self._cards(dep)))

    async def _all_models(self, request: Request) -> Response:
        cards: dict[str, JsonObj] = {}
        for dep in self.ctx.store.list(DEP_KIND):
            weights = deployment_weights(dep)
            key = f"{dep['namespace']}/{dep['name']}"
            if weights is not None and self.served.ensure(key, weights).status == "ready":
                for card in self._cards(dep):
                    cards.setdefault(card["id"], card)
        return JSONResponse(model_list(list(cards.values())))

    # lookup ----------------------------------------------------------------------------
    def _cards(self, dep: JsonObj) -> list[JsonObj]:
        created = int(dep["clock"]["created_at"])
        return [model_card(m, created, m.split("/")[0]) for m in dep.get("models") or []]

    def _deployment_at(self, request: Request) -> JsonObj:
        key = f"{request.path_params['ns']}/{request.path_params['name']}"
        dep = self.ctx.store.get(DEP_KIND, key)
        if dep is None:
            raise OpenAIError(404, f"No model deployment {key}", code="not_found")
        return dep

    def _engine(self, request: Request, model: str) -> Engine:
        if "ns" in request.path_params:
            dep = self._deployment_at(request)
            if not _names(dep, model):
                raise model_not_found(model)
            return self._ready_engine(dep, model)
        candidates = [d for d in self.ctx.store.list(DEP_KIND) if _names(d, model)]
        if not candidates:
            raise model_not_found(model)
        # Prefer a deployment that can answer now.
        served = [d for d in candidates if deployment_weights(d) is not None]
        for dep in served:
            state = self.served.get(f"{dep['namespace']}/{dep['name']}")
            if state is not None and state.engine is not None:
                return state.engine
        return self._ready_engine((served or candidates)[0], model)

    def _ready_engine(self, dep: JsonObj, model: str) -> Engine:
        key = f"{dep['namespace']}/{dep['name']}"
        weights = deployment_weights(dep)
        if weights is None:
            clock = dep["clock"]
            if clock["failure"]:
                raise OpenAIError(
                    503,
                    f"Deployment {key} failed: {clock['failure']}",
                    type="service_unavailable",
                    code="model_load_failed",
                )
            if self.ctx.now() < clock["created_at"] + clock["ready_seconds"]:
                raise _not_ready(key)
            raise OpenAIError(
                404,
                f"Deployment {key} of `{model}` is simulated: its model has no weights in the "
                "Data Store, so nothing is served (register one with add-model).",
                param="model",
                code="model_not_found",
            )
        state = self.served.ensure(key, weights)
        if state.engine is not None:
            return state.engine
        if state.status == "failed":
            raise OpenAIError(
                503, state.description, type="service_unavailable", code="model_load_failed"
            )
        raise _not_ready(key)


def _names(dep: JsonObj, model: str) -> bool:
    key = f"{dep['namespace']}/{dep['name']}"
    return model in (dep.get("models") or []) or model in (dep["name"], key)


def _not_ready(key: str) -> OpenAIError:
    return OpenAIError(
        503,
        f"Deployment {key} is not ready yet; retry shortly.",
        type="service_unavailable",
        code="model_not_ready",
    )
