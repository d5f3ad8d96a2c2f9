"""``prefstream watch``: every training job, live, from the job-status topic, and every
evaluated model with the promotion gate's verdict, from the evaluations topic. ``--json``
prints the jobs' curves too (JobMetricsEvents from the job-metrics topic)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import click
from prefstream_config import KafkaConfig
from prefstream_events import (
    EvaluationEvent,
    JobMetricsEvent,
    JobStatusEvent,
    PromotionBoard,
)
from prefstream_events.boards import Boards
from prefstream_events.job_board import JobBoard
from prefstream_kafka.evaluations import follow_evaluations
from prefstream_kafka.readers import TopicFollower, job_events, read_topic
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


WatchedEvent = JobStatusEvent | EvaluationEvent | JobMetricsEvent


def outcomes(event: EvaluationEvent) -> str:
    """``opponent W/D/L`` per opponent, one per line."""
    return "\n".join(f"{o.opponent} {o.wins}/{o.draws}/{o.losses}" for o in event.opponents)


def score_line(event: EvaluationEvent) -> str:
    """``0.710 ± 0.012 vs 0.690 ± 0.013 (tolerance 0.035)``; the first has no baseline."""
    text = f"{event.score:.3f} ± {event.score_stderr:.3f}"
    if event.baseline_score is not None:
        err = "" if event.baseline_stderr is None else f" ± {event.baseline_stderr:.3f}"
        text += f" vs {event.baseline_score:.3f}{err} (tolerance {event.tolerance:.3f})"
    return text


def verdict(event: EvaluationEvent) -> Text:
    text = Text("PROMOTED", style="bold green") if event.promoted else Text("rejected", "red")
    if event.reason:
        text.append(f"\n{event.reason[:120]}", style="dim")
    return text


def render_evaluations(board: PromotionBoard) -> Table:
    table = Table(title="prefstream evaluations", expand=True)
    for column in ("model", "baseline", "W/D/L", "illegal", "score", "verdict"):
        table.add_column(column)
    promoted = board.latest_promoted()
    for event in board.ordered():
        current = promoted is not None and event.model == promoted.model
        table.add_row(
            Text(event.model, style="bold" if current else ""),
            event.baseline_model or "",
            outcomes(event),
            str(event.illegal_moves),
            score_line(event),
            verdict(event),
        )
    return table


def render(board: JobBoard | Boards) -> Group:
    boards = board if isinstance(board, Boards) else Boards(jobs=board)
    if boards.evaluations.evaluations:
        return Group(render_jobs(boards.jobs), render_evaluations(boards.evaluations))
    return Group(render_jobs(boards.jobs))


def render_jobs(board: JobBoard) -> Table:
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
    return table


async def watched_events(
    kafka: KafkaConfig, *, from_beginning: bool, curves: bool = False
) -> AsyncGenerator[WatchedEvent, None]:
    """Job and evaluation events (and the jobs' curves with ``curves``), merged as they
    arrive (each topic in its own order). The evaluations and job-metrics topics may not
    exist yet (nothing evaluated; a submitter from before curves): they are waited for."""
    queue: asyncio.Queue[WatchedEvent] = asyncio.Queue(maxsize=1000)

    async def jobs() -> None:
        async for event in job_events(kafka, from_beginning=from_beginning):
            await queue.put(event)

    async def evaluations() -> None:
        async with follow_evaluations(kafka, from_beginning=from_beginning) as follower:
            async for event in follower:
                await queue.put(event)

    async def job_metrics() -> None:
        topic = kafka.topics.job_metrics
        follower = TopicFollower(kafka, topic, JobMetricsEvent, from_beginning=from_beginning)
        async with follower:
            async for event in follower:
                await queue.put(event)

    readers = [jobs(), evaluations(), *([job_metrics()] if curves else [])]
    tasks = [asyncio.create_task(reader) for reader in readers]
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait([getter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                for task in tasks:  # a reader failed: say why
                    if task.done():
                        task.result()
                continue
            yield getter.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def watch_jobs(
    kafka: KafkaConfig,
    *,
    from_beginning: bool,
    as_json: bool,
    exit_after: int | None,
    console: Console | None = None,
) -> None:
    boards = Boards()
    events = watched_events(kafka, from_beginning=from_beginning, curves=as_json)
    try:
        if as_json:
            async for event in events:
                if boards.apply(event):
                    click.echo(event.model_dump_json())
                if exit_after is not None and _terminal(boards.jobs) >= exit_after:
                    # The topics interleave freely: the last points of a finished job may
                    # not have arrived yet. They were published before its final status.
                    metrics = await read_topic(kafka, kafka.topics.job_metrics, JobMetricsEvent)
                    for chunk in metrics:
                        if boards.apply(chunk):
                            click.echo(chunk.model_dump_json())
                    return
            return
        with Live(render(boards), console=console or Console(), refresh_per_second=4) as live:
            async for event in events:
                if boards.apply(event):
                    live.update(render(boards))
                if exit_after is not None and _terminal(boards.jobs) >= exit_after:
                    return
    finally:
        await events.aclose()


def _terminal(board: JobBoard) -> int:
    return sum(1 for job in board.jobs.values() if job.status.terminal)


@click.command("watch")
@click.option(
    "--from-beginning/--new",
    default=True,
    show_default=True,
    help="Replay the topics from their start, or show only what changes from now on.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON event per line, for machines, the jobs' curves included (lines with "
    "evaluation_id are evaluations, lines with chunk are points of a job's curves).",
)
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
    """Show every training job live (status, progress, epochs, losses, deployment) and every
    evaluated model (wins/draws/losses per opponent, illegal moves, score vs the baseline,
    promoted or rejected)."""
    config = resolve_config(config_path, overrides)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            watch_jobs(
                config.kafka, from_beginning=from_beginning, as_json=as_json, exit_after=exit_after
            )
        )
