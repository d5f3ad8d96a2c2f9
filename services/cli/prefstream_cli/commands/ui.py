"""``prefstream ui``: the web view in the foreground."""

from __future__ import annotations

import click

from prefstream_cli.options import config_options, resolve_config


@click.command("ui")
@click.option("--host", help="Interface to bind (default: ui.http_host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: ui.http_port, 8084).")
@config_options()
def ui(
    host: str | None,
    port: int | None,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Serve the web view until SIGINT/SIGTERM: every job live (status, progress, ETA,
    curves, output model, deployment), jobs compared, evaluated models' win rates,
    datasets and dead letters. It reads the topics (no consumer group) and keeps nothing:
    each start rebuilds the view from them."""
    from prefstream_ui_service.app import run

    config = resolve_config(config_path, overrides)
    flags = {"http_host": host, "http_port": port}
    section = config.ui.model_copy(update={k: v for k, v in flags.items() if v is not None})
    run(config.model_copy(update={"ui": section}))
