"""Entity Store: namespaces, datasets and models (create, get, list, update, delete).

Datasets and models are keyed by ``namespace/name``; ids are ``dataset-<base58>`` /
``model-<base58>``. Duplicates answer 409 (``x-should-retry: false``), missing 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.errors import ApiError, conflict, not_found, parse_model, read_json
from prefstream_nmp_local.ids import new_id
from prefstream_nmp_local.pagination import envelope, parse_list_query, select
from prefstream_nmp_local.timefmt import iso

JsonObj = dict[str, Any]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+\-]*$"
"""No ``/`` (names go into URL paths); ``@`` and ``+`` appear in model/config names."""


class EntityIn(BaseModel):
    """Fields every entity may carry; unknown fields are kept, as the platform does."""

    model_config = ConfigDict(extra="allow")

    description: str | None = None
    project: str | None = None
    custom_fields: dict[str, Any] | None = None
    ownership: dict[str, Any] | None = None


class NamespaceIn(EntityIn):
    id: str = Field(pattern=NAME_PATTERN)


class NamespacedIn(EntityIn):
    name: str | None = Field(None, pattern=NAME_PATTERN)
    namespace: str = Field("default", pattern=NAME_PATTERN)


class DatasetIn(NamespacedIn):
    files_url: str
    format: str | None = None
    hf_endpoint: str | None = None
    split: str | None = None
    limit: int | None = None


class ModelIn(NamespacedIn):
    base_model: str | dict[str, Any] | None = None


@dataclass(frozen=True)
class EntityKind:
    kind: str
    label: str
    path: str
    model: type[EntityIn]
    id_prefix: str | None
    sorts: tuple[str, ...] = ("created_at", "-created_at", "name", "-name")

    @property
    def namespaced(self) -> bool:
        return self.id_prefix is not None


NAMESPACES = EntityKind("namespace", "Namespace", "/v1/namespaces", NamespaceIn, None)
DATASETS = EntityKind("dataset", "Dataset", "/v1/datasets", DatasetIn, "dataset")
MODELS = EntityKind("model", "Model", "/v1/models", ModelIn, "model")
_IMMUTABLE = {"id", "name", "namespace", "created_at", "updated_at", "schema_version"}


def entity_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def create_entity(ctx: AppContext, spec: EntityKind, data: Any) -> JsonObj:
    """Validate and store a new entity; raises 422/409 like the platform."""
    parsed = parse_model(spec.model, data)
    body = parsed.model_dump(mode="json")
    now = iso(ctx.now())
    if spec.namespaced:
        eid = new_id(str(spec.id_prefix))
        body["name"] = body.get("name") or eid
        key = entity_key(body["namespace"], body["name"])
        label = f"{spec.label} {key}"
    else:
        eid = key = body["id"]
        label = f"{spec.label} {eid}"
    body.update({"id": eid, "created_at": now, "updated_at": now, "schema_version": "1.0"})
    if not ctx.store.insert(spec.kind, key, body):
        raise conflict(label)
    return body


def get_entity(ctx: AppContext, spec: EntityKind, key: str) -> JsonObj:
    body = ctx.store.get(spec.kind, key)
    if body is None:
        raise not_found(f"{spec.label} {key}")
    return body


def deleted(entity_id: str, now: float) -> JsonObj:
    """The platform's ``DeleteResponse``."""
    return {"id": entity_id, "deleted_at": iso(now), "message": "Resource deleted successfully."}


def routes(ctx: AppContext) -> list[BaseRoute]:
    out: list[BaseRoute] = []
    for spec in (NAMESPACES, DATASETS, MODELS):
        out.extend(_routes_for(ctx, spec))
    return out


def _routes_for(ctx: AppContext, spec: EntityKind) -> list[BaseRoute]:
    def key_of(request: Request) -> str:
        p = request.path_params
        return entity_key(p["ns"], p["name"]) if spec.namespaced else str(p["ns"])

    async def create(request: Request) -> Response:
        return JSONResponse(create_entity(ctx, spec, await read_json(request)))

    async def get(request: Request) -> Response:
        return JSONResponse(get_entity(ctx, spec, key_of(request)))

    async def update(request: Request) -> Response:
        key = key_of(request)
        body = get_entity(ctx, spec, key)
        patch = await read_json(request)
        if not isinstance(patch, dict):
            raise ApiError(
                422, [{"type": "dict_type", "loc": ["body"], "msg": "Input should be an object"}]
            )
        merged = {**body, **{k: v for k, v in patch.items() if k not in _IMMUTABLE}}
        parse_model(spec.model, merged)
        merged["updated_at"] = iso(ctx.now())
        ctx.store.put(spec.kind, key, merged)
        return JSONResponse(merged)

    async def delete(request: Request) -> Response:
        key = key_of(request)
        body = get_entity(ctx, spec, key)
        ctx.store.delete(spec.kind, key)
        return JSONResponse(deleted(body["id"], ctx.now()))

    async def list_all(request: Request) -> Response:
        query = parse_list_query(request.query_params, spec.sorts)
        items = select(ctx.store.list(spec.kind), query)
        return JSONResponse(envelope(items, query))

    item = spec.path + ("/{ns}/{name}" if spec.namespaced else "/{ns}")
    return [
        Route(spec.path, create, methods=["POST"]),
        Route(spec.path, list_all, methods=["GET"]),
        Route(item, get, methods=["GET"]),
        Route(item, update, methods=["PATCH"]),
        Route(item, delete, methods=["DELETE"]),
    ]
