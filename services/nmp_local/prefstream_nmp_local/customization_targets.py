"""Customization targets (``/v1/customization/targets``), read-only, derived from the configs.

On the platform a target is its own entity (a base model downloaded into the Customizer's
cache) and a config points at one. nmp-local keeps the target inside each config
(``target: {...}``, as the preloaded configs and ``add-model`` write it), so listing the
targets means collecting them from the configs: one per ``namespace/name``, however many
configs share it. Nothing is stored, so a target can never disagree with its configs; the
price is that targets cannot be created, changed or deleted on their own (405).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.customizer_jobs import CONFIG_KIND
from prefstream_nmp_local.entity_store import MODELS, entity_key
from prefstream_nmp_local.errors import ApiError, not_found
from prefstream_nmp_local.ids import base58
from prefstream_nmp_local.pagination import envelope, parse_list_query, select

JsonObj = dict[str, Any]
Precision = Literal["int8", "bf16", "fp16", "fp32", "fp8-mixed", "bf16-mixed"]
TargetStatus = Literal[
    "created",
    "pending",
    "downloading",
    "failed",
    "ready",
    "cancelled",
    "unknown",
    "deleted",
    "deleting",
    "delete_failed",
]
TARGET_SORTS = ("created_at", "-created_at", "name", "-name")
READ_ONLY = (
    "nmp-local derives customization targets from customization configs and cannot {verb} "
    "one on its own: {how}"
)


class TargetOut(BaseModel):
    """What the SDK's ``CustomizationTarget`` requires; a config whose target fails this is
    left out of the list rather than breaking strict validation of every other target."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    id: str
    name: str
    namespace: str
    base_model: str
    model_path: str
    num_parameters: int
    precision: Precision
    enabled: bool = True
    status: TargetStatus = "ready"
    model_type: Literal["nemo", "hf", "hf-lora"] | None = None
    created_at: str
    updated_at: str


def target_id(namespace: str, name: str) -> str:
    """Stable across restarts and identical for every config sharing the target."""
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()[:16]
    return f"cust-target-{base58(digest)}"


def all_targets(ctx: AppContext) -> list[JsonObj]:
    """One target per ``namespace/name``: an inline target beats a bare reference, then the
    oldest config wins; ``updated_at`` is the newest of the configs sharing it."""
    configs = sorted(
        ctx.store.list(CONFIG_KIND), key=lambda c: not isinstance(c.get("target"), dict)
    )
    found: dict[str, JsonObj] = {}
    for config in configs:
        target = _from_config(ctx, config)
        if target is not None:
            kept = found.setdefault(f"{target['namespace']}/{target['name']}", target)
            kept["updated_at"] = max(kept["updated_at"], target["updated_at"])
    return list(found.values())


def _from_config(ctx: AppContext, config: JsonObj) -> JsonObj | None:
    raw = config.get("target")
    if isinstance(raw, dict):
        body: JsonObj = dict(raw)
        base_model = str(body.get("base_model") or "")
    elif isinstance(raw, str) and "/" in raw:
        base_model = raw.split("@")[0]
        namespace, _, name = raw.partition("/")
        body = {"namespace": namespace, "name": name}
    else:
        return None
    namespace = str(body.get("namespace") or base_model.partition("/")[0] or config["namespace"])
    name = str(body.get("name") or base_model.partition("/")[2])
    if not name:
        return None
    base_model = base_model or f"{namespace}/{name}"
    body.update(
        id=target_id(namespace, name),
        name=name,
        namespace=namespace,
        base_model=base_model,
        model_path=body.get("model_path") or name,
        num_parameters=body.get("num_parameters")
        if "num_parameters" in body
        else _entity_parameters(ctx, base_model),
        precision=body.get("precision") or config.get("training_precision") or "bf16-mixed",
        created_at=config["created_at"],
        updated_at=config.get("updated_at") or config["created_at"],
    )
    try:
        return TargetOut.model_validate(body).model_dump(mode="json", exclude_none=True)
    except ValidationError:
        return None


def _entity_parameters(ctx: AppContext, base_model: str) -> int:
    """A bare ``target: "ns/name"`` says nothing about size; the Entity Store model may."""
    namespace, _, name = base_model.partition("/")
    model = ctx.store.get(MODELS.kind, entity_key(namespace, name)) or {}
    spec = model.get("spec")
    value = spec.get("num_parameters") if isinstance(spec, dict) else None
    return value if isinstance(value, int) else 0


def routes(ctx: AppContext) -> list[BaseRoute]:
    async def list_targets(request: Request) -> Response:
        query = parse_list_query(request.query_params, TARGET_SORTS)
        return JSONResponse(envelope(select(all_targets(ctx), query), query))

    async def get_target(request: Request) -> Response:
        key = f"{request.path_params['ns']}/{request.path_params['name']}"
        for target in all_targets(ctx):
            if f"{target['namespace']}/{target['name']}" == key:
                return JSONResponse(target)
        raise not_found(f"Customization target {key}")

    async def create_target(request: Request) -> Response:
        how = (
            "create a customization config with an inline `target` "
            "(POST /v1/customization/configs) or run `prefstream nmp-local add-model`"
        )
        raise ApiError(405, READ_ONLY.format(verb="create", how=how))

    async def change_target(request: Request) -> Response:
        verb = "update" if request.method == "PATCH" else "delete"
        how = "change or delete the customization configs that carry it"
        raise ApiError(405, READ_ONLY.format(verb=verb, how=how))

    item = "/v1/customization/targets/{ns}/{name}"
    return [
        Route("/v1/customization/targets", list_targets, methods=["GET"]),
        Route("/v1/customization/targets", create_target, methods=["POST"]),
        Route(item, get_target, methods=["GET"]),
        Route(item, change_target, methods=["PATCH", "DELETE"]),
    ]
