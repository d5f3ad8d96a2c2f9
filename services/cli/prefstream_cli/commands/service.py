"""``prefstream service NAME``: run one service in the foreground."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import click
from prefstream_config import PrefstreamConfig

from prefstream_cli.options import config_options, resolve_config

SERVICES: dict[str, str] = {
    "pairing": "prefstream_pairing_service.app",
    "batcher": "prefstream_batcher_service.app",
    "submitter": "prefstream_submitter_service.app",
}
"""Service name -> module exposing ``run(config: PrefstreamConfig) -> None``. Imported lazily
so starting one service never imports the others."""


def load_runner(name: str) -> Callable[[PrefstreamConfig], None]:
    module = importlib.import_module(SERVICES[name])
    runner: Callable[[PrefstreamConfig], None] = module.run
    return runner


@click.command("service")
@click.argument("name", type=click.Choice(sorted(SERVICES)))
@config_options()
def service(name: str, config_path: str | None, overrides: tuple[tuple[str, str], ...]) -> None:
    """Run the NAME service until SIGINT/SIGTERM, then drain, commit and close."""
    config = resolve_config(config_path, overrides)
    load_runner(name)(config)
