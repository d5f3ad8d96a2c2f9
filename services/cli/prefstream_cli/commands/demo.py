"""``prefstream demo``: tic-tac-toe agents through the whole loop, then a summary.

By default the loop is closed: a tiny model is trained for real, served, evaluated and
promoted round after round (needs the ``training`` extra). ``--simulated`` runs the fast
demo instead: offline agents and nmp-local's simulated trainer, no torch needed.

Ctrl-C, SIGTERM and SIGHUP stop it early as they stop ``prefstream up``: children stopped,
the summary so far printed, exit status 128 + the signal (130, 143, 129).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click
from prefstream_config import PrefstreamConfig

from prefstream_cli.options import config_options, resolve_config
from prefstream_cli.stack import remove_local_state
from prefstream_cli.stop_signals import stop_on_signals

CLOSED_LOOP_CONFIG = Path("configs/demo.yml")
SIMULATED_CONFIG = Path("configs/demo-simulated.yml")
TRAINING_MODULES = ("torch", "transformers", "trl")


def training_extra_missing() -> list[str]:
    return [m for m in TRAINING_MODULES if importlib.util.find_spec(m) is None]


@click.command("demo")
@click.option(
    "--simulated",
    is_flag=True,
    help="The fast demo: offline agents and a simulated trainer (no torch needed).",
)
@config_options()
def demo(simulated: bool, config_path: str | None, overrides: tuple[tuple[str, str], ...]) -> None:
    """Agents play, their games train a model, the model is served and evaluated, and the
    agents switch to it when it passes the gate; demo.rounds times. Prints a table per model."""
    missing = training_extra_missing()
    if not simulated and missing:
        click.secho(
            f"demo: {', '.join(missing)} not installed, so running the simulated demo; for the "
            "closed loop install the training extra (make demo does).",
            fg="yellow",
            err=True,
        )
        simulated = True
    default = SIMULATED_CONFIG if simulated else CLOSED_LOOP_CONFIG
    if config_path is None and default.exists():
        config_path = str(default)
    config = resolve_config(config_path, overrides)
    if config.kafka.bootstrap_servers is None:
        for path in remove_local_state(config):
            click.echo(f"demo: starting fresh, removed {path} (the embedded broker keeps nothing)")
    if simulated:
        from prefstream_cli.demo_run import run_demo, summary

        result, code = asyncio.run(_until_signalled(run_demo, config, config_path, overrides))
        click.echo(summary(config, result))
        failed = result.timed_out
    else:
        from prefstream_cli.closed_loop import run_closed_loop
        from prefstream_cli.closed_loop_summary import loop_summary

        loop, code = asyncio.run(_until_signalled(run_closed_loop, config, config_path, overrides))
        click.echo(loop_summary(config, loop))
        failed = loop.timed_out or loop.failure is not None
    if code is not None:
        raise SystemExit(code)
    if failed:
        raise SystemExit(1)


class _Ended(Protocol):
    stopped_by: str | None


R = TypeVar("R", bound=_Ended)


async def _until_signalled(
    run: Callable[..., Coroutine[Any, Any, R]],
    config: PrefstreamConfig,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> tuple[R, int | None]:
    """``run`` (``run_demo``, ``run_closed_loop``) until done or a stop signal (which it
    answers by stopping early, with a result all the same), and the exit status the signal
    calls for (``None``: none came)."""
    with stop_on_signals() as stop:
        result = await run(config, config_path, list(overrides), interrupt=stop.event)
    if stop.signal is not None:
        result.stopped_by = stop.signal.name
    return result, stop.exit_code
