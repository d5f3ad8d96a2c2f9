"""``prefstream ui``: the web view as a small Starlette app under uvicorn.

Not a consumer-group service, so not on the runtime's FastStream lifecycle; from
``prefstream_runtime`` it takes the structured logs and the ``/healthz``, ``/readyz`` and
``/metrics`` endpoints. Its lifespan starts the topic reader in the background (so the
probes answer while Kafka is awaited) and cancels it at shutdown; uvicorn turns SIGINT
and SIGTERM into that graceful shutdown.

Routes: ``/`` (the page), ``/view`` (its live part, 204 when unchanged since ``?since=``),
``/jobs/{job_key}`` and ``/jobs/{job_key}/view`` (one job, every curve), ``/api/state``
and ``/api/jobs/{job_key}/curves`` (JSON), ``/static/*`` (the script and the style).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import uvicorn
from prefstream_config import PrefstreamConfig
from prefstream_kafka import bootstrap_servers
from prefstream_runtime import configure_logging, probe_routes
from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from prefstream_ui_service import pages, views
from prefstream_ui_service.metrics import UiMetrics
from prefstream_ui_service.reader import TopicsReader, followed_topics
from prefstream_ui_service.view_state import ViewState

SERVICE_NAME = "ui"
VERSION_HEADER = "X-View-Version"
log = logging.getLogger("prefstream.ui")

_STATE_JSON = TypeAdapter(views.StateDocument)
_CURVES_JSON = TypeAdapter(views.CurvesDocument)


class _Endpoint:
    """An ASGI app as a Starlette route endpoint (a plain function would be taken for a
    request handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def ui_url(config: PrefstreamConfig) -> str:
    return f"http://{config.ui.http_host}:{config.ui.http_port}/"


class WebView:
    """The view state, the reader that fills it and the routes that show it."""

    def __init__(
        self,
        config: PrefstreamConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.clock = clock
        self.state = ViewState()
        self.metrics = UiMetrics(self.state)
        self.reader = TopicsReader(config.kafka, self.state, self.metrics)

    def app(self) -> Starlette:
        routes: list[BaseRoute] = [
            Route("/", self.overview_page),
            Route("/view", self.overview_fragment),
            Route("/jobs/{job_key}", self.job_page),
            Route("/jobs/{job_key}/view", self.job_fragment),
            Route("/api/state", self.state_json),
            Route("/api/jobs/{job_key}/curves", self.curves_json),
            Mount("/static", StaticFiles(packages=[("prefstream_ui_service", "static")])),
        ]
        probes = probe_routes(SERVICE_NAME, self.reader.readiness, self.metrics.registry)
        routes += [Route(path, _Endpoint(app)) for path, app in probes]
        return Starlette(routes=routes, lifespan=self.lifespan)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(self.reader.run(), name="ui-reader")
        log.info("web view at %s", ui_url(self.config))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.info("ui stopped")

    async def _replayed(self) -> bool:
        ready, _ = await self.reader.readiness()
        return ready

    async def _frame(self, title: str, src: str) -> pages.Frame:
        return pages.Frame(
            title=title,
            src=src,
            version=self.state.version,
            refresh_ms=round(self.config.ui.refresh_seconds * 1000),
            broker=bootstrap_servers(self.config.kafka),
            topics=[topic for topic, _ in followed_topics(self.config.kafka)],
            replayed=await self._replayed(),
            now=self.clock(),
        )

    def _unchanged(self, request: Request) -> bool:
        return request.query_params.get("since") == str(self.state.version)

    def _html(self, body: str, what: str, status: int = 200) -> HTMLResponse:
        self.metrics.renders_total.labels(what).inc()
        return HTMLResponse(
            body,
            status_code=status,
            headers={VERSION_HEADER: str(self.state.version), "Cache-Control": "no-store"},
        )

    def _overview(self, request: Request) -> views.Overview:
        return views.overview(
            self.state,
            self.clock(),
            compare=request.query_params.getlist("compare"),
            cards=self.config.ui.jobs_with_charts,
        )

    async def overview_page(self, request: Request) -> Response:
        compare = [("compare", key) for key in request.query_params.getlist("compare")]
        src = "/view" + (f"?{urlencode(compare)}" if compare else "")
        frame = await self._frame("jobs", src)
        return self._html(pages.overview_page(frame, self._overview(request)), "page")

    async def overview_fragment(self, request: Request) -> Response:
        if self._unchanged(request):
            self.metrics.unchanged_total.inc()
            return Response(status_code=204, headers={VERSION_HEADER: str(self.state.version)})
        fragment = pages.overview_fragment(self._overview(request), replayed=await self._replayed())
        return self._html(fragment, "view")

    async def job_page(self, request: Request) -> Response:
        key = request.path_params["job_key"]
        detail = views.job_detail(self.state, key, self.clock())
        title = detail.row.dataset_name if detail else key
        frame = await self._frame(title, f"/jobs/{quote(key, safe='')}/view")
        status = 200 if detail is not None else 404
        return self._html(pages.job_page(frame, detail, key), "job-page", status)

    async def job_fragment(self, request: Request) -> Response:
        if self._unchanged(request):
            self.metrics.unchanged_total.inc()
            return Response(status_code=204, headers={VERSION_HEADER: str(self.state.version)})
        key = request.path_params["job_key"]
        detail = views.job_detail(self.state, key, self.clock())
        fragment = pages.job_fragment(detail, key, replayed=await self._replayed())
        return self._html(fragment, "job-view")

    async def state_json(self, request: Request) -> Response:
        self.metrics.renders_total.labels("api-state").inc()
        document = views.state_document(self.state, self.clock())
        return _json(_STATE_JSON.dump_json(document))

    async def curves_json(self, request: Request) -> Response:
        self.metrics.renders_total.labels("api-curves").inc()
        key = request.path_params["job_key"]
        document = views.curves_document(self.state, key)
        if document is None:
            return _json(b'{"error": "no such job"}', status=404)
        return _json(_CURVES_JSON.dump_json(document))


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def build_app(config: PrefstreamConfig) -> Starlette:
    """The app; nothing connects until it starts."""
    return WebView(config).app()


async def serve(app: ASGIApp, *, host: str, port: int) -> None:
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    serving = asyncio.ensure_future(server.serve())
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        # Cancelled by whoever embeds the view: stop as on SIGTERM, so the lifespan runs
        # and the topic readers close their consumers (uvicorn skips it when cancelled).
        server.should_exit = True
        await serving
        raise
    if not server.started and not server.should_exit:
        raise SystemExit(f"the web view failed to start on {host}:{port}; is the port in use?")


def run(config: PrefstreamConfig) -> None:
    configure_logging(SERVICE_NAME, config.logging.level, config.logging.format)
    # uvicorn re-raises the SIGINT it already handled gracefully; that is a clean exit.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(build_app(config), host=config.ui.http_host, port=config.ui.http_port))
