"""``prefstream up``: the whole stack, supervised, until Ctrl-C."""

from __future__ import annotations

import asyncio
import signal

import click

from prefstream_cli.options import config_options, fail, resolve_config
from prefstream_cli.stack import local_state_paths, remove_local_state, running_stack


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
@click.option(
    "--fresh",
    is_flag=True,
    help="With the embedded broker: first remove the state of a previous run (DuckDB files, "
    "datasets, nmp-local data), which refers to topics that broker no longer has.",
)
@config_options()
def up(fresh: bool, config_path: str | None, overrides: tuple[tuple[str, str], ...]) -> None:
    """Start the broker (unless kafka.bootstrap_servers is set), nmp-local (unless NeMo hosts
    are configured), the pairing, batcher and submitter services and the web view (unless
    ui.enabled is false); restart crashed ones."""
    config = resolve_config(config_path, overrides)
    if config.kafka.bootstrap_servers is None:
        if fresh:
            for path in remove_local_state(config):
                click.echo(f"up: removed {path}")
        elif stale := local_state_paths(config):
            fail(
                "the embedded broker starts empty, but state from a previous run exists ("
                + ", ".join(map(str, stale))
                + "): run `prefstream up --fresh` to remove it, or set kafka.bootstrap_servers "
                "to the broker that state belongs to."
            )
    asyncio.run(run_until_signalled(config_path, list(overrides)))
