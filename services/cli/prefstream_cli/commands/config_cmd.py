"""``prefstream config show``."""

from __future__ import annotations

import click
from prefstream_config import render_yaml

from prefstream_cli.options import config_options, resolve_config


@click.group("config")
def config_group() -> None:
    """Inspect the resolved configuration."""


@config_group.command("show")
@config_options()
def show(config_path: str | None, overrides: tuple[tuple[str, str], ...]) -> None:
    """Print the resolved config (file < env < -o), secrets masked."""
    notices: list[str] = []
    config = resolve_config(config_path, overrides, notices)
    for notice in notices:
        click.secho(f"# notice: {notice}", fg="cyan", err=True)
    click.echo(render_yaml(config), nl=False)
