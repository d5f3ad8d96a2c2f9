"""``prefstream demo``: the stack, agents playing until enough jobs have trained, a summary.

Agents keep playing new rounds (new seeds, new run ids) while training happens, as real
agents would; the demo ends when ``demo.jobs_to_complete`` jobs have completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefstream_config import PrefstreamConfig
from prefstream_demo.agents import DemoStats, play_games
from prefstream_events import JobStatus
from prefstream_events.job_board import JobBoard
from prefstream_kafka.readers import job_events

from prefstream_cli.stack import Stack, running_stack


@dataclass
class DemoResult:
    stats: list[DemoStats] = field(default_factory=list)
    board: JobBoard = field(default_factory=JobBoard)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    timed_out: bool = False


def scrape(url: str, names: tuple[str, ...]) -> dict[str, float]:
    """Sum of each named Prometheus series (all label sets) from a service's /metrics."""
    found = dict.fromkeys(names, 0.0)
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return found
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        base = metric.split("{", 1)[0]
        if base in found:
            found[base] += float(value)
    return found


async def _agents(config: PrefstreamConfig, stop: asyncio.Event, result: DemoResult) -> None:
    demo = config.demo
    rounds = 0
    while not stop.is_set():
        stats = await play_games(
            config, demo.agents, demo.games, demo.seed + 1000 * rounds, stop=stop
        )
        result.stats.append(stats)
        rounds += 1


async def _jobs(config: PrefstreamConfig, since: datetime, result: DemoResult) -> None:
    async for event in job_events(config.kafka, from_beginning=True):
        if event.updated_at >= since or event.job_key in result.board.jobs:
            result.board.apply(event)
        if result.board.count(JobStatus.COMPLETED) >= config.demo.jobs_to_complete:
            return


async def run_demo(
    config: PrefstreamConfig, config_path: str | None, overrides: list[tuple[str, str]]
) -> DemoResult:
    result = DemoResult()
    started = time.monotonic()
    async with running_stack(config, config_path, overrides) as stack:
        since = datetime.now(UTC)
        stop = asyncio.Event()
        say = stack.supervisor.say
        say(
            "demo",
            f"{config.demo.agents} agents playing tic-tac-toe until "
            f"{config.demo.jobs_to_complete} training jobs have completed",
        )
        agents = asyncio.create_task(_agents(stack.config, stop, result))
        jobs = asyncio.create_task(_jobs(stack.config, since, result))
        try:
            done, _ = await asyncio.wait(
                {agents, jobs},
                timeout=config.demo.timeout_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            result.timed_out = not done
            for task in done:
                task.result()  # surface an agent or watcher failure
        finally:
            stop.set()
            jobs.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await jobs
            await asyncio.wait_for(agents, timeout=60)
        result.metrics = collect_metrics(stack)
    result.seconds = time.monotonic() - started
    return result


def collect_metrics(stack: Stack) -> dict[str, float]:
    config = stack.config
    pairing = f"http://{config.pairing.http_host}:{config.pairing.http_port}/metrics"
    batcher = f"http://{config.batcher.http_host}:{config.batcher.http_port}/metrics"
    return {
        **scrape(pairing, ("candidates_total", "pairs_total", "deadletter_total")),
        **scrape(batcher, ("datasets_total",)),
    }


def summary(config: PrefstreamConfig, result: DemoResult) -> str:
    games = sum(s.games for s in result.stats)
    candidates = sum(s.candidates for s in result.stats)
    m = result.metrics
    lines = [
        "",
        f"prefstream demo finished in {result.seconds:.0f}s"
        + (" (timed out)" if result.timed_out else ""),
        f"  games played        {games}",
        f"  candidates          {candidates} published, {m.get('candidates_total', 0):.0f} paired"
        f" by the pairing service ({m.get('deadletter_total', 0):.0f} dead-lettered)",
        f"  preference pairs    {m.get('pairs_total', 0):.0f}",
        f"  datasets cut        {m.get('datasets_total', 0):.0f}",
        f"  training jobs       {len(result.board.jobs)} "
        f"({result.board.count(JobStatus.COMPLETED)} completed)",
    ]
    for job in result.board.ordered():
        losses = ""
        if job.train_loss is not None:
            losses = f"  train loss {job.train_loss:.4f}"
        if job.val_loss is not None:
            losses += f"  val loss {job.val_loss:.4f}"
        lines.append(
            f"    {job.dataset_name:<28} {job.status.value:<10} {job.output_model or ''}{losses}"
        )
    lines += [
        f"  dataset files       {config.batcher.datasets_dir}/",
        f"  state (DuckDB)      {config.pairing.db_path}, {config.batcher.db_path}, "
        f"{config.submitter.db_path}",
        f"  nmp-local data      {config.nmp_local.data_dir}/",
    ]
    return "\n".join(lines)
