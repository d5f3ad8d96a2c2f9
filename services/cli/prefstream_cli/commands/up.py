"""``prefstream up``: the whole stack, supervised, until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal

import click

from prefstream_cli.options import config_options, resolve_config
from prefstream_cli.stack import running_stack


async def run_until_signalled(config_path: str | None, overrides: list[tuple[str, str]]) -> None:
    config = resolve_config(config_path, overrides)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_stack(config, config_path, overrides) as stack:
        stack.supervisor.say("up", "everything is running; Ctrl-C stops it")
        await stop.wait()
        stack.supervisor.say("up", "stopping: services drain and commit, then the broker stops")


@click.command("up")
@config_options()
def up(config_path: str | None, overrides: tuple[tuple[str, str], ...]) -> None:
    """Start the broker (unless kafka.bootstrap_servers is set), nmp-local (unless NeMo hosts
    are configured) and the pairing, batcher and submitter services; restart crashed ones."""
    asyncio.run(run_until_signalled(config_path, list(overrides)))
