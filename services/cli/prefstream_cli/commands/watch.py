"""``prefstream watch``: every training job, live, from the job-status topic."""

from __future__ import annotations

import asyncio
import contextlib

import click
from prefstream_config import KafkaConfig
from prefstream_events.job_board import JobBoard
from prefstream_kafka.readers import job_events
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from prefstream_cli.options import config_options, resolve_config

STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "superseded": "dim",
    "running": "cyan",
}


def render(board: JobBoard) -> Group:
    table = Table(title="prefstream jobs", expand=True)
    for column in (
        "dataset",
        "status",
        "progress",
        "epochs",
        "train loss",
        "val loss",
        "deployment",
    ):
        table.add_column(column)
    for job in board.ordered():
        pct = job.percentage_done or (100.0 if job.status.value == "completed" else 0.0)
        bar = Group(ProgressBar(total=100, completed=pct, width=20), Text(f"{pct:5.1f}%"))
        deployment = f"{job.deployment.name}: {job.deployment.status}" if job.deployment else ""
        status = Text(job.status.value, style=STATUS_STYLE.get(job.status.value, ""))
        if job.error:
            status.append(f"\n{job.error[:120]}", style="red")
        table.add_row(
            job.dataset_name,
            status,
            bar,
            "" if job.epochs_completed is None else str(job.epochs_completed),
            "" if job.train_loss is None else f"{job.train_loss:.4f}",
            "" if job.val_loss is None else f"{job.val_loss:.4f}",
            deployment,
        )
    return Group(table)


async def watch_jobs(
    kafka: KafkaConfig, *, from_beginning: bool, as_json: bool, exit_after: int | None
) -> None:
    board = JobBoard()
    console = Console()
    if as_json:
        async for event in job_events(kafka, from_beginning=from_beginning):
            if board.apply(event):
                click.echo(event.model_dump_json())
            if exit_after is not None and _terminal(board) >= exit_after:
                return
        return
    with Live(render(board), console=console, refresh_per_second=4) as live:
        async for event in job_events(kafka, from_beginning=from_beginning):
            if board.apply(event):
                live.update(render(board))
            if exit_after is not None and _terminal(board) >= exit_after:
                return


def _terminal(board: JobBoard) -> int:
    return sum(1 for job in board.jobs.values() if job.status.terminal)


@click.command("watch")
@click.option(
    "--from-beginning/--new",
    default=True,
    show_default=True,
    help="Replay the topic from its start, or show only jobs that change from now on.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line, for machines.")
@click.option(
    "--exit-after",
    type=int,
    default=None,
    help="Exit once this many jobs have reached a terminal state.",
)
@config_options()
def watch(
    from_beginning: bool,
    as_json: bool,
    exit_after: int | None,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Show every training job live: status, progress, epochs, losses, deployment."""
    config = resolve_config(config_path, overrides)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            watch_jobs(
                config.kafka, from_beginning=from_beginning, as_json=as_json, exit_after=exit_after
            )
        )
