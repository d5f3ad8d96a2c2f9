"""``prefstream demo``: the stack, agents playing until enough jobs have trained, a summary.

Agents keep playing new rounds (new seeds, new run ids) while training happens, as real
agents would; the demo ends when ``demo.jobs_to_complete`` jobs have completed.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefstream_config import PrefstreamConfig
from prefstream_demo.agents import DemoStats, play_games
from prefstream_events import JobStatus, JobStatusEvent
from prefstream_events.job_board import JobBoard
from prefstream_kafka.readers import job_events, read_topic

from prefstream_cli.stack import Stack, running_stack


@dataclass
class DemoResult:
    stats: list[DemoStats] = field(default_factory=list)
    board: JobBoard = field(default_factory=JobBoard)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    timed_out: bool = False
    stopped_by: str | None = None
    """The signal that ended the demo early (``SIGTERM``), if one did."""


def scrape(url: str, names: Mapping[str, str]) -> dict[str, float]:
    """``{key: sum of the series named names[key] (all label sets)}`` from a service's
    /metrics (0 where absent or unreachable)."""
    found = dict.fromkeys(names, 0.0)
    keys = {metric: key for key, metric in names.items()}
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return found
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        key = keys.get(metric.split("{", 1)[0])
        if key is not None:
            found[key] += float(value)
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
    async with job_events(config.kafka, from_beginning=True) as events:
        async for event in events:
            if event.updated_at >= since or event.job_key in result.board.jobs:
                result.board.apply(event)
            if result.board.count(JobStatus.COMPLETED) >= config.demo.jobs_to_complete:
                return


STOP_SECONDS = 30.0
"""How long a demo task may take to stop after being told to, and again after being
cancelled, before the stack is stopped without it (Ctrl-C must always end the demo)."""


async def settle(
    task: asyncio.Task[None],
    seconds: float,
    what: str,
    say: Callable[[str, str], None],
    *,
    surface: bool = False,
) -> None:
    """Let ``task`` finish, cancel it after ``seconds``, and give up on it after as long
    again (``asyncio.wait_for`` would wait for a cancelled task without a bound). With
    ``surface``, a failure of the task is raised."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        say("demo", f"{what} did not stop within {2 * seconds:.0f}s; stopping the stack anyway")
    elif surface and not task.cancelled() and task.exception() is not None:
        task.result()


async def run_demo(
    config: PrefstreamConfig,
    config_path: str | None,
    overrides: list[tuple[str, str]],
    *,
    interrupt: asyncio.Event | None = None,
) -> DemoResult:
    """Play until the jobs completed, the demo timed out or ``interrupt`` was set; in each
    case the agents stop, the counts so far are collected, then the stack stops."""
    interrupt = interrupt or asyncio.Event()
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
        interrupted = asyncio.create_task(interrupt.wait())
        try:
            done, _ = await asyncio.wait(
                {agents, jobs, interrupted},
                timeout=config.demo.timeout_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            result.timed_out = not done
            for task in done - {interrupted}:
                task.result()  # surface an agent or watcher failure
        finally:
            interrupted.cancel()
            stop.set()
            jobs.cancel()
            await settle(jobs, STOP_SECONDS, "the job watcher", say)
            await settle(agents, STOP_SECONDS, "the agents", say, surface=True)
        published = sum(st.candidates for st in result.stats)
        result.metrics = await collect_metrics(stack, published)
        result.board = await final_board(stack.config, since, result.board)
    result.seconds = time.monotonic() - started
    return result


PAIRING_COUNTS = {
    "records_total": "prefstream_pairing_records_consumed_total",
    "candidates_paired_total": "prefstream_pairing_candidates_paired_total",
    "candidates_unpaired_total": "prefstream_pairing_candidates_unpaired_total",
    "candidates_open": "prefstream_pairing_candidates_open",
    "duplicates_total": "prefstream_pairing_candidates_duplicate_total",
    "filtered_total": "prefstream_pairing_candidates_filtered_total",
    "deadletter_total": "prefstream_pairing_dead_letters_total",
    "pairs_total": "prefstream_pairing_pairs_published_total",
}
"""The summary's counts (its keys) and the pairing service's metrics they are read from."""
BATCHER_COUNTS = {"datasets_total": "prefstream_batcher_datasets_announced_total"}
CATCH_UP_SECONDS = 30.0
"""How long the summary waits for the pairing service to consume the last candidates."""


async def collect_metrics(stack: Stack, published: int) -> dict[str, float]:
    """The pairing and batcher counts, once the pairing service has consumed every
    published candidate (or after ``CATCH_UP_SECONDS``): scraped at once, the last few
    were still in flight and went unaccounted."""
    config = stack.config
    pairing = f"http://{config.pairing.http_host}:{config.pairing.http_port}/metrics"
    batcher = f"http://{config.batcher.http_host}:{config.batcher.http_port}/metrics"
    deadline = time.monotonic() + CATCH_UP_SECONDS
    counts = await asyncio.to_thread(scrape, pairing, PAIRING_COUNTS)
    while counts["records_total"] < published and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        counts = await asyncio.to_thread(scrape, pairing, PAIRING_COUNTS)
    return {**counts, **await asyncio.to_thread(scrape, batcher, BATCHER_COUNTS)}


async def final_board(config: PrefstreamConfig, since: datetime, board: JobBoard) -> JobBoard:
    """The jobs as the job-status topic ends now, as ``prefstream watch`` shows them: the
    board followed during the demo stops at the job that ended it, so a job it last saw
    ``queued`` may be ``pending`` or further by the summary."""
    events = await read_topic(config.kafka, config.kafka.topics.jobs, JobStatusEvent)
    final = JobBoard()
    for event in events:
        if event.updated_at >= since or event.job_key in board.jobs:
            final.apply(event)
    return final if final.jobs or not board.jobs else board


def candidate_accounting(published: int, m: dict[str, float]) -> list[tuple[str, int]]:
    """Every published candidate in exactly one place, in the pairing service's words. The
    parts add up to ``published``: what it has not consumed yet is the rest."""
    parts = [
        ("paired", m.get("candidates_paired_total", 0)),
        ("unpaired", m.get("candidates_unpaired_total", 0)),
        ("duplicates", m.get("duplicates_total", 0)),
        ("filtered", m.get("filtered_total", 0)),
        ("in open windows", m.get("candidates_open", 0)),
        ("dead-lettered", m.get("deadletter_total", 0)),
    ]
    counted = [(name, round(n)) for name, n in parts]
    rest = published - sum(n for _, n in counted)
    if rest:
        counted.append(("not yet consumed" if rest > 0 else "counted twice (replayed)", abs(rest)))
    return counted


def ended(stopped_by: str | None, seconds: float) -> str:
    """How a summary says the demo ended: "finished in 90s", "stopped by SIGTERM after 12s"."""
    if stopped_by is None:
        return f"finished in {seconds:.0f}s"
    return f"stopped by {stopped_by} after {seconds:.0f}s"


def summary(config: PrefstreamConfig, result: DemoResult) -> str:
    games = sum(s.games for s in result.stats)
    candidates = sum(s.candidates for s in result.stats)
    m = result.metrics
    lines = [
        "",
        f"prefstream demo {ended(result.stopped_by, result.seconds)}"
        + (" (timed out)" if result.timed_out else ""),
        f"  games played        {games}",
        f"  candidates          {candidates} published: "
        + ", ".join(f"{n} {name}" for name, n in candidate_accounting(candidates, m)),
        "    (paired: in a preference pair; unpaired: alone in their turn, or scores closer "
        "than min_score_diff; filtered: another ttc_step_name)",
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
