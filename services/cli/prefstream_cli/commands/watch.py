"""``prefstream watch``: every training job, live, from the job-status topic, and every
evaluated model with the promotion gate's verdict, from the evaluations topic. ``--json``
prints the jobs' curves too (JobMetricsEvents from the job-metrics topic)."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

import click
from prefstream_config import KafkaConfig
from prefstream_events import (
    EvaluationEvent,
    JobMetricsEvent,
    JobStatusEvent,
    PromotionBoard,
)
from prefstream_events.boards import Boards
from prefstream_events.eta import JobClock, duration, epochs_planned, job_eta
from prefstream_events.job_board import JobBoard, natural_key
from prefstream_kafka.evaluations import follow_evaluations
from prefstream_kafka.reachability import run_guarded
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


def render(
    board: JobBoard | Boards,
    *,
    clock: JobClock | None = None,
    now: datetime | None = None,
    pattern: str | None = None,
    limit: int | None = None,
) -> Group:
    boards = board if isinstance(board, Boards) else Boards(jobs=board)
    jobs = render_jobs(
        boards,
        clock or JobClock(),
        now or datetime.now(UTC),
        selected_jobs(boards.jobs, pattern, limit),
    )
    if boards.evaluations.evaluations:
        return Group(jobs, render_evaluations(boards.evaluations))
    return Group(jobs)


def matches(job: JobStatusEvent, pattern: str | None) -> bool:
    """A shell pattern (``ttt-*``) against the dataset name, the job id or the job key."""
    if pattern is None:
        return True
    names = (job.dataset_name, job.job_id or "", job.job_key)
    return any(fnmatch.fnmatchcase(name, pattern) for name in names)


def selected_jobs(
    board: JobBoard, pattern: str | None = None, limit: int | None = None
) -> list[JobStatusEvent]:
    """The jobs matching ``pattern``; with ``limit``, only the most recently updated ones
    (the topic replays every job ever run). In natural order of dataset name."""
    jobs = [job for job in board.jobs.values() if matches(job, pattern)]
    if limit is not None:
        jobs = sorted(jobs, key=lambda j: j.updated_at, reverse=True)[:limit]
    return sorted(jobs, key=lambda j: (natural_key(j.dataset_name), natural_key(j.job_key)))


def epochs_text(job: JobStatusEvent) -> str:
    planned = epochs_planned(job)
    if job.epochs_completed is None:
        return "" if planned is None else f"0 of {planned}"
    return str(job.epochs_completed) if planned is None else f"{job.epochs_completed} of {planned}"


def render_jobs(
    boards: Boards, clock: JobClock, now: datetime, jobs: list[JobStatusEvent]
) -> Table:
    """Names and ids fold rather than being cut; the percentage never wraps away."""
    table = Table(title="prefstream jobs", expand=True)
    table.add_column("dataset", overflow="fold", ratio=3)
    table.add_column("job", overflow="fold", ratio=3)
    table.add_column("status", overflow="fold", min_width=9, ratio=2)
    table.add_column("progress", no_wrap=True, min_width=6, ratio=2)
    table.add_column("epochs", no_wrap=True)
    table.add_column("time, ETA", overflow="fold", ratio=2)
    table.add_column("loss train / val", overflow="fold", ratio=2)
    table.add_column("deployment", overflow="fold", ratio=2)
    for job in jobs:
        pct = job.percentage_done or (100.0 if job.status.value == "completed" else 0.0)
        bar = Group(Text(f"{pct:.1f}%"), ProgressBar(total=100, completed=pct, width=10))
        deployment = f"{job.deployment.name}: {job.deployment.status}" if job.deployment else ""
        status = Text(job.status.value, style=STATUS_STYLE.get(job.status.value, ""))
        if job.error:
            status.append(f"\n{job.error[:120]}", style="red")
        elapsed = clock.elapsed(job, now)
        train = boards.curves.curves(job.job_key).get("train_loss", [])
        eta = job_eta(job, train, clock.first_progress.get(job.job_key), now)
        times = "" if elapsed is None else duration(elapsed)
        if eta is not None:
            times += f"\n~{duration(eta.remaining_seconds)}"
        losses = " / ".join(
            "-" if loss is None else f"{loss:.4f}" for loss in (job.train_loss, job.val_loss)
        )
        table.add_row(
            job.dataset_name,
            job.job_id or "",
            status,
            bar,
            epochs_text(job),
            times,
            "" if job.train_loss is None and job.val_loss is None else losses,
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
        async with job_events(kafka, from_beginning=from_beginning) as follower:
            async for event in follower:
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
    pattern: str | None = None,
    limit: int | None = None,
) -> None:
    boards, clock = Boards(), JobClock()
    events = watched_events(kafka, from_beginning=from_beginning, curves=True)
    try:
        if as_json:
            async for event in events:
                shown = not isinstance(event, JobStatusEvent) or matches(event, pattern)
                if boards.apply(event) and shown:
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

        def view() -> Group:
            return render(boards, clock=clock, pattern=pattern, limit=limit)

        with Live(view(), console=console or Console(), refresh_per_second=4) as live:
            async for event in events:
                if isinstance(event, JobStatusEvent):
                    clock.observe(event)
                if boards.apply(event):
                    live.update(view())
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
@click.option(
    "--filter",
    "pattern",
    default=None,
    metavar="PATTERN",
    help="Only jobs whose dataset name, job id or job key matches this shell pattern "
    "(e.g. 'tictactoe-*').",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Show only this many jobs, the most recently updated (the topic replays every job).",
)
@config_options()
def watch(
    from_beginning: bool,
    as_json: bool,
    exit_after: int | None,
    pattern: str | None,
    limit: int | None,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Show every training job live (job id, status, progress, epochs done of planned,
    elapsed time and ETA, losses, deployment) and every evaluated model (wins/draws/losses
    per opponent, illegal moves, score vs the baseline, promoted or rejected)."""
    config = resolve_config(config_path, overrides)
    with contextlib.suppress(KeyboardInterrupt):
        watching = watch_jobs(
            config.kafka,
            from_beginning=from_beginning,
            as_json=as_json,
            exit_after=exit_after,
            pattern=pattern,
            limit=limit,
        )
        asyncio.run(run_guarded(config.kafka, watching))
