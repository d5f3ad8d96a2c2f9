"""Wiring: one Starlette app serving every nmp-local API under one base URL.

``create_app`` opens the data dir (SQLite state + blob store), seeds the preloaded
customization configs, and starts a background tick (in the lifespan) that finalises
finished jobs even when nobody polls them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from prefstream_nmp_local import (
    admin,
    customization_targets,
    customizer,
    datastore_hf,
    datastore_namespaces,
    deployments,
    entity_store,
    lfs,
)
from prefstream_nmp_local.blobs import BlobStore
from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.errors import ApiError, HfError, api_error_response, hf_error_response
from prefstream_nmp_local.faults import FaultConfig, FaultMiddleware, FaultState
from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.metrics import MetricsMiddleware, NmpLocalMetrics
from prefstream_nmp_local.persistence import Store
from prefstream_nmp_local.serving import openai_routes
from prefstream_nmp_local.serving.served_models import ServedModels
from prefstream_nmp_local.settings import NmpLocalSettings
from prefstream_nmp_local.training import selection
from prefstream_nmp_local.training.runner import TrainingRunner

log = logging.getLogger("prefstream_nmp_local")


def create_context(settings: NmpLocalSettings) -> AppContext:
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    return AppContext(
        settings=settings,
        store=Store(data / "state.sqlite3"),
        blobs=BlobStore(data / "blobs"),
        faults=FaultState(FaultConfig.from_settings(settings), settings.fault_seed),
    )


def create_app(settings: NmpLocalSettings | None = None) -> Starlette:
    """The ASGI app; ``app.state.ctx`` exposes the ``AppContext`` (``serve`` uses it)."""
    ctx = create_context(settings or NmpLocalSettings())
    repos = HfRepos(ctx.store, ctx.blobs)
    served = ServedModels(repos, ctx.settings.data_dir / "training" / "cache")
    customizer.seed_configs(ctx)
    metrics = NmpLocalMetrics(ctx)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_tick_forever(ctx, repos))
        selection.configure_logging()
        selection.log.info(selection.startup_message(ctx.settings.trainer))
        runner = TrainingRunner(ctx, repos)
        runner.recover()
        trainer = asyncio.create_task(runner.run_forever())
        try:
            yield
        finally:
            trainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await trainer
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            ctx.store.close()

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return api_error_response(exc.status, exc.detail)

    async def on_hf_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HfError)
        return hf_error_response(exc.status, exc.message, exc.code)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith(datastore_hf.PREFIX + "/"):
            return hf_error_response(exc.status_code, str(exc.detail))
        return api_error_response(exc.status_code, exc.detail)

    app = Starlette(
        routes=[
            *admin.routes(ctx),
            *entity_store.routes(ctx),
            *datastore_namespaces.routes(ctx),
            *lfs.routes(ctx, repos),
            *datastore_hf.routes(ctx, repos),
            *customizer.routes(ctx, repos),
            *customization_targets.routes(ctx),
            *deployments.routes(ctx, served, repos),
            *openai_routes.routes(ctx, served),
            *metrics.routes(),
        ],
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(FaultMiddleware, ctx=ctx),
        ],
        exception_handlers={
            ApiError: on_api_error,
            HfError: on_hf_error,
            HTTPException: on_http_error,
        },
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app


async def _tick_forever(ctx: AppContext, repos: HfRepos) -> None:
    while True:
        try:
            customizer.tick(ctx, repos)
        except Exception:
            log.exception("nmp-local background tick failed")
        await asyncio.sleep(ctx.settings.tick_seconds)
