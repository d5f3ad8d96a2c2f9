"""Customizer routes: configs (list/get/create/delete) and jobs (create, get, list, cancel,
status, container logs), plus the background tick that finalises finished jobs."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local import customizer_jobs as jobs
from prefstream_nmp_local import job_lifecycle, job_views
from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.customizer_configs import builtin_configs
from prefstream_nmp_local.entity_store import NAME_PATTERN, deleted
from prefstream_nmp_local.errors import conflict, not_found, parse_model, read_json
from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.ids import new_id
from prefstream_nmp_local.pagination import envelope, parse_list_query, select
from prefstream_nmp_local.timefmt import iso
from prefstream_nmp_local.training.job_state import job_progress

JsonObj = dict[str, Any]
CONFIG_SORTS = (
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "name",
    "-name",
    "target_enabled",
    "-target_enabled",
    "num_parameters",
    "-num_parameters",
)
JOB_SORTS = ("created_at", "-created_at")


class ConfigIn(jobs.InlineConfigIn):
    model_config = ConfigDict(extra="allow")
    name: str | None = Field(None, pattern=NAME_PATTERN)
    namespace: str = Field("default", pattern=NAME_PATTERN)


def seed_configs(ctx: AppContext) -> None:
    """Insert the preloaded configs that are not in the store yet (keeps user edits)."""
    now = iso(ctx.now())
    for cfg in builtin_configs():
        key = f"{cfg['namespace']}/{cfg['name']}"
        if ctx.store.get(jobs.CONFIG_KIND, key) is None:
            body = {
                "id": new_id("customization-config"),
                **cfg,
                "created_at": now,
                "updated_at": now,
            }
            ctx.store.insert(jobs.CONFIG_KIND, key, body)


def _options(cfg: JsonObj, field: str) -> list[Any]:
    return [o.get(field) for o in cfg.get("training_options") or []]


def _target(cfg: JsonObj, field: str) -> Any:
    target = cfg.get("target")
    return target.get(field) if isinstance(target, dict) else None


CONFIG_GETTERS = {
    "training_type": lambda c: _options(c, "training_type"),
    "finetuning_type": lambda c: _options(c, "finetuning_type"),
    "target_base_model": lambda c: _target(c, "base_model"),
    "target_name": lambda c: _target(c, "name"),
    "target_enabled": lambda c: _target(c, "enabled"),
    "num_parameters": lambda c: _target(c, "num_parameters"),
}

JOB_GETTERS = {
    "dataset": lambda j: f"{j['dataset']['namespace']}/{j['dataset']['name']}",
    "training_type": lambda j: j["hyperparameters"].get("training_type"),
    "finetuning_type": lambda j: j["hyperparameters"].get("finetuning_type"),
    "epochs": lambda j: j["hyperparameters"].get("epochs"),
    "batch_size": lambda j: j["hyperparameters"].get("batch_size"),
    "log_every_n_steps": lambda j: j["hyperparameters"].get("log_every_n_steps"),
    "base_model": lambda j: j["config_snapshot"]["base_model"],
}


def render_job(ctx: AppContext, repos: HfRepos, record: JsonObj) -> JsonObj:
    record = job_lifecycle.finalize(ctx, repos, record)
    state = job_progress(record, ctx.now())
    status = job_views.render_status(record, state)
    return {
        **record["body"],
        "status": state.status,
        "status_details": status,
        "created_at": status["created_at"],
        "updated_at": status["updated_at"],
    }


def routes(ctx: AppContext, repos: HfRepos) -> list[BaseRoute]:
    async def list_configs(request: Request) -> Response:
        query = parse_list_query(request.query_params, CONFIG_SORTS)
        items = select(ctx.store.list(jobs.CONFIG_KIND), query, CONFIG_GETTERS)
        return JSONResponse(envelope(items, query))

    async def get_config(request: Request) -> Response:
        key = f"{request.path_params['ns']}/{request.path_params['name']}"
        body = ctx.store.get(jobs.CONFIG_KIND, key)
        if body is None:
            raise not_found(f"Customization config {key}")
        return JSONResponse(body)

    async def create_config(request: Request) -> Response:
        cfg = parse_model(ConfigIn, await read_json(request)).model_dump(mode="json")
        cid = new_id("customization-config")
        cfg["name"] = cfg.get("name") or cid
        key = f"{cfg['namespace']}/{cfg['name']}"
        now = iso(ctx.now())
        body = {"id": cid, **cfg, "created_at": now, "updated_at": now}
        if not ctx.store.insert(jobs.CONFIG_KIND, key, body):
            raise conflict(f"Customization config {key}")
        return JSONResponse(body)

    async def delete_config(request: Request) -> Response:
        key = f"{request.path_params['ns']}/{request.path_params['name']}"
        body = ctx.store.get(jobs.CONFIG_KIND, key)
        if body is None:
            raise not_found(f"Customization config {key}")
        ctx.store.delete(jobs.CONFIG_KIND, key)
        return JSONResponse(deleted(body["id"], ctx.now()))

    async def create_job(request: Request) -> Response:
        record = jobs.create_job(ctx, repos, await read_json(request))
        return JSONResponse(render_job(ctx, repos, record))

    async def get_job(request: Request) -> Response:
        record = jobs.get_record(ctx, request.path_params["job_id"])
        return JSONResponse(render_job(ctx, repos, record))

    async def job_status(request: Request) -> Response:
        record = jobs.get_record(ctx, request.path_params["job_id"])
        return JSONResponse(render_job(ctx, repos, record)["status_details"])

    async def cancel_job(request: Request) -> Response:
        await read_json(request, allow_empty=True)
        record = jobs.get_record(ctx, request.path_params["job_id"])
        record = job_lifecycle.cancel_job(ctx, repos, record)
        return JSONResponse(render_job(ctx, repos, record))

    async def job_logs(request: Request) -> Response:
        record = job_lifecycle.finalize(
            ctx, repos, jobs.get_record(ctx, request.path_params["job_id"])
        )
        state = job_progress(record, ctx.now())
        return JSONResponse(job_views.container_logs(record, state))

    async def list_jobs(request: Request) -> Response:
        query = parse_list_query(request.query_params, JOB_SORTS)
        items = [render_job(ctx, repos, r) for r in ctx.store.list(jobs.KIND)]
        return JSONResponse(envelope(select(items, query, JOB_GETTERS), query))

    cfg_item = "/v1/customization/configs/{ns}/{name}"
    job_item = "/v1/customization/jobs/{job_id}"
    return [
        Route("/v1/customization/configs", list_configs, methods=["GET"]),
        Route("/v1/customization/configs", create_config, methods=["POST"]),
        Route(cfg_item, get_config, methods=["GET"]),
        Route(cfg_item, delete_config, methods=["DELETE"]),
        Route("/v1/customization/jobs", create_job, methods=["POST"]),
        Route("/v1/customization/jobs", list_jobs, methods=["GET"]),
        Route(job_item, get_job, methods=["GET"]),
        Route(job_item + "/status", job_status, methods=["GET"]),
        Route(job_item + "/cancel", cancel_job, methods=["POST"]),
        Route(job_item + "/container-logs", job_logs, methods=["GET"]),
    ]


def tick(ctx: AppContext, repos: HfRepos) -> None:
    """Finalise jobs that have reached a terminal state (registers output models)."""
    for active in ctx.store.list(jobs.ACTIVE_KIND):
        record = ctx.store.get(jobs.KIND, active["id"])
        if record is None:
            ctx.store.delete(jobs.ACTIVE_KIND, active["id"])
        else:
            job_lifecycle.finalize(ctx, repos, record)
