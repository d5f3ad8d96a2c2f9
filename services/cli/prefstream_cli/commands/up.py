"""``prefstream up``: the whole stack, supervised, until Ctrl-C.

Exit status: 130 after Ctrl-C (SIGINT), 143 after SIGTERM, 129 after SIGHUP (128 + the
signal, as a shell reports a process the signal ended, and as ``prefstream submit``
does), each once every child has stopped; 1 when a port the stack needs is taken.
"""

from __future__ import annotations

import asyncio

import click

from prefstream_cli.options import config_options, fail, resolve_config
from prefstream_cli.stack import local_state_paths, remove_local_state, running_stack
from prefstream_cli.stack_ports import PortInUse
from prefstream_cli.stop_signals import stop_on_signals


async def run_until_signalled(config_path: str | None, overrides: list[tuple[str, str]]) -> int:
    """Run the stack until one of :data:`~prefstream_cli.stop_signals.STOP_SIGNALS`;
    return the exit status it calls for (128 + the signal)."""
    config = resolve_config(config_path, overrides)
    with stop_on_signals() as stop:
        async with running_stack(config, config_path, overrides) as stack:
            if not stop.event.is_set():
                stack.supervisor.say("up", "everything is running; Ctrl-C stops it")
            await stop.event.wait()
            stack.supervisor.say("up", "stopping: services drain and commit, then the broker stops")
    assert stop.exit_code is not None  # the wait above returns only once a signal came
    return stop.exit_code


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
    try:
        code = asyncio.run(run_until_signalled(config_path, list(overrides)))
    except PortInUse as exc:
        fail(str(exc))
    raise SystemExit(code)
