"""Deployment Management: deployment configs and model deployments.

A model deployment is ``pending`` for ``deployment_ready_seconds`` (frozen at creation, so
restarts resume the clock) and then ``ready`` with ``deployed: true`` — or ``failed`` if
its model is neither a registered model nor a base model of a known config.

A deployment whose model has weights in the Data Store (``artifact.files_url`` naming a model
repo with a ``config.json``) is served for real at ``url`` (see ``serving/``): its status
follows the model's load (``pending`` while loading, then ``ready`` or ``failed``) instead of
the clock. Other deployments serve nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.customizer_jobs import CONFIG_KIND
from prefstream_nmp_local.entity_store import MODELS, NAME_PATTERN, deleted
from prefstream_nmp_local.errors import conflict, not_found, parse_model, read_json
from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.ids import new_id
from prefstream_nmp_local.pagination import envelope, parse_list_query, select
from prefstream_nmp_local.serving.served_models import ServedModels, Weights, find_weights
from prefstream_nmp_local.timefmt import iso

JsonObj = dict[str, Any]
CFG_KIND = "deployment_config"
DEP_KIND = "model_deployment"
SORTS = ("created_at", "-created_at")


class NimDeploymentIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    image_name: str
    image_tag: str
    gpu: int = Field(ge=0)


class InlineDeploymentConfigIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | dict[str, Any] | None = None
    nim_deployment: NimDeploymentIn | None = None
    external_endpoint: dict[str, Any] | None = None
    description: str | None = None
    project: str | None = None
    custom_fields: dict[str, Any] | None = None
    ownership: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _target(self) -> InlineDeploymentConfigIn:
        if self.nim_deployment is None and self.external_endpoint is None:
            raise ValueError("one of nim_deployment or external_endpoint is required")
        return self


class DeploymentConfigIn(InlineDeploymentConfigIn):
    name: str | None = Field(None, pattern=NAME_PATTERN)
    namespace: str = Field("default", pattern=NAME_PATTERN)


class ModelDeploymentIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    config: str | InlineDeploymentConfigIn
    name: str | None = Field(None, pattern=NAME_PATTERN)
    namespace: str = Field("default", pattern=NAME_PATTERN)
    models: list[str] | None = None
    async_enabled: bool = False
    hf_token: str | None = None
    description: str | None = None
    project: str | None = None
    custom_fields: dict[str, Any] | None = None
    ownership: dict[str, Any] | None = None


def _model_ref(model: Any) -> str | None:
    if isinstance(model, str):
        return model
    if isinstance(model, dict) and model.get("name"):
        return f"{model.get('namespace') or 'default'}/{model['name']}"
    return None


def _model_known(ctx: AppContext, ref: str) -> bool:
    if ctx.store.get(MODELS.kind, ref) is not None:
        return True
    for cfg in ctx.store.list(CONFIG_KIND):
        target = cfg.get("target")
        if isinstance(target, dict) and ref in (target.get("base_model"), cfg.get("name")):
            return True
    return False


def deployment_weights(dep: JsonObj) -> Weights | None:
    """What a deployment record serves for real (None: simulated)."""
    return Weights.from_json(dep["clock"].get("weights"))


def routes(ctx: AppContext, served: ServedModels, repos: HfRepos) -> list[BaseRoute]:
    def key(request: Request) -> str:
        return f"{request.path_params['ns']}/{request.path_params['name']}"

    def get_or_404(kind: str, label: str, k: str) -> JsonObj:
        body = ctx.store.get(kind, k)
        if body is None:
            raise not_found(f"{label} {k}")
        return body

    def render(dep: JsonObj) -> JsonObj:
        clock = dep["clock"]
        ready = ctx.now() >= clock["created_at"] + clock["ready_seconds"]
        status = "pending"
        description = "Deployment is starting"
        weights = deployment_weights(dep)
        changed = clock["created_at"] + (clock["ready_seconds"] if ready else 0.0)
        if ready and clock["failure"]:
            status, description = "failed", clock["failure"]
        elif weights is not None:
            state = served.ensure(f"{dep['namespace']}/{dep['name']}", weights)
            status, description = state.status, state.description
            changed = max(clock["created_at"], state.since)
        elif ready:
            status, description = "ready", "Deployment is ready"
        out = {k: v for k, v in dep.items() if k != "clock"}
        out.update(
            {
                "deployed": status == "ready",
                "status_details": {"status": status, "description": description},
                "updated_at": iso(changed),
            }
        )
        return out

    async def create_config(request: Request) -> Response:
        cfg = parse_model(DeploymentConfigIn, await read_json(request)).model_dump(
            mode="json", exclude_none=True
        )
        cfg["name"] = cfg.get("name") or new_id("deployment-config")
        k = f"{cfg['namespace']}/{cfg['name']}"
        now = iso(ctx.now())
        body = {**cfg, "created_at": now, "updated_at": now, "schema_version": "1.0"}
        if not ctx.store.insert(CFG_KIND, k, body):
            raise conflict(f"Deployment config {k}")
        return JSONResponse(body)

    async def get_config(request: Request) -> Response:
        return JSONResponse(get_or_404(CFG_KIND, "Deployment config", key(request)))

    async def list_configs(request: Request) -> Response:
        query = parse_list_query(request.query_params, SORTS)
        return JSONResponse(envelope(select(ctx.store.list(CFG_KIND), query), query))

    async def delete_config(request: Request) -> Response:
        k = key(request)
        get_or_404(CFG_KIND, "Deployment config", k)
        ctx.store.delete(CFG_KIND, k)
        return JSONResponse(deleted(k, ctx.now()))

    async def create_deployment(request: Request) -> Response:
        req = parse_model(ModelDeploymentIn, await read_json(request))
        if isinstance(req.config, str):
            cfg_key = req.config if "/" in req.config else f"{req.namespace}/{req.config}"
            cfg = get_or_404(CFG_KIND, "Deployment config", cfg_key)
            config_echo: str | JsonObj = req.config
        else:
            cfg = req.config.model_dump(mode="json", exclude_none=True)
            config_echo = cfg
        model = _model_ref(cfg.get("model"))
        models = req.models or ([model] if model else [])
        failure = None
        if cfg.get("nim_deployment") is not None:
            missing = [m for m in models if not _model_known(ctx, m)] if models else ["(none)"]
            if missing:
                failure = f"Model {', '.join(missing)} not found in the Entity Store"
        weights = None if failure else find_weights(ctx.store, repos, models)
        name = req.name or new_id("deployment")
        k = f"{req.namespace}/{name}"
        now = ctx.now()
        dep = {
            "name": name,
            "namespace": req.namespace,
            "config": config_echo,
            "models": models,
            "async_enabled": req.async_enabled,
            "description": req.description,
            "project": req.project,
            "custom_fields": req.custom_fields or {},
            "ownership": req.ownership,
            "url": f"{ctx.base_url(request)}/nim/{req.namespace}/{name}/v1",
            "created_at": iso(now),
            "schema_version": "1.0",
            "clock": {
                "created_at": now,
                "ready_seconds": ctx.settings.deployment_ready_seconds,
                "failure": failure,
                "weights": None if weights is None else weights.to_json(),
            },
        }
        if not ctx.store.insert(DEP_KIND, k, dep):
            raise conflict(f"Model deployment {k}")
        served.drop(k)  # a deployment re-created under a deleted one's name loads afresh
        return JSONResponse(render(dep))

    async def get_deployment(request: Request) -> Response:
        return JSONResponse(render(get_or_404(DEP_KIND, "Model deployment", key(request))))

    async def list_deployments(request: Request) -> Response:
        query = parse_list_query(request.query_params, SORTS)
        items = [render(d) for d in ctx.store.list(DEP_KIND)]
        return JSONResponse(envelope(select(items, query), query))

    async def delete_deployment(request: Request) -> Response:
        k = key(request)
        get_or_404(DEP_KIND, "Model deployment", k)
        ctx.store.delete(DEP_KIND, k)
        served.drop(k)
        return JSONResponse(deleted(k, ctx.now()))

    cfg_item = "/v1/deployment/configs/{ns}/{name}"
    dep_item = "/v1/deployment/model-deployments/{ns}/{name}"
    return [
        Route("/v1/deployment/configs", create_config, methods=["POST"]),
        Route("/v1/deployment/configs", list_configs, methods=["GET"]),
        Route(cfg_item, get_config, methods=["GET"]),
        Route(cfg_item, delete_config, methods=["DELETE"]),
        Route("/v1/deployment/model-deployments", create_deployment, methods=["POST"]),
        Route("/v1/deployment/model-deployments", list_deployments, methods=["GET"]),
        Route(dep_item, get_deployment, methods=["GET"]),
        Route(dep_item, delete_deployment, methods=["DELETE"]),
    ]
