"""``prefstream demo``: tic-tac-toe agents through the whole loop, then a summary."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from prefstream_cli.demo_run import run_demo, summary
from prefstream_cli.options import config_options, resolve_config
from prefstream_cli.stack import remove_local_state

DEFAULT_CONFIG = Path("configs/demo.yml")


@click.command("demo")
@config_options()
def demo(config_path: str | None, overrides: tuple[tuple[str, str], ...]) -> None:
    """Run the stack and tic-tac-toe agents until demo.jobs_to_complete jobs have trained."""
    if config_path is None and DEFAULT_CONFIG.exists():
        config_path = str(DEFAULT_CONFIG)
    config = resolve_config(config_path, overrides)
    if config.kafka.bootstrap_servers is None:
        for path in remove_local_state(config):
            click.echo(f"demo: starting fresh, removed {path} (the embedded broker keeps nothing)")
    result = asyncio.run(run_demo(config, config_path, list(overrides)))
    click.echo(summary(config, result))
    if result.timed_out:
        raise SystemExit(1)
