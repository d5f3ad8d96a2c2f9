"""``prefstream demo``, closed loop: agents play with a served model, its games become a
dataset, the dataset a real DPO job, the job a deployment, the deployment is evaluated,
and a model that passes the gate becomes the one the agents play with next round.

Every hand-off goes through the platform and the topics, as a user's agents would see it:
the trained model is found by following ``prefstream.jobs.v1`` (a deployment turning
``ready``), and each gate decision is published on ``prefstream.evaluations.v1``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import httpx
from prefstream_config import PrefstreamConfig
from prefstream_demo.agents import DemoStats, play_games
from prefstream_demo.llm_policy import LLMStats
from prefstream_demo.promotion import Decision, GatePolicy, Measured, decide
from prefstream_demo.served_evaluation import evaluate_served
from prefstream_demo.served_policy import ServedModel, ServedPolicy
from prefstream_demo.tictactoe.evaluation import EvaluationResult
from prefstream_events import CutRequest, DatasetReady, EvaluationEvent, JobStatusEvent
from prefstream_events.evaluation import OpponentResult
from prefstream_kafka.deployed_models import DeployedModel, deployed_model, job_failure
from prefstream_kafka.evaluations import EvaluationPublisher
from prefstream_kafka.readers import TopicFollower

from prefstream_cli.commands.dataset import request_cut
from prefstream_cli.demo_run import scrape
from prefstream_cli.platform_models import deploy_and_wait, register_base_model
from prefstream_cli.stack import Stack, nmp_local_url, running_stack
from prefstream_cli.stop_signals import until_stopped

PAIRING_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.2


@dataclass
class PolicyRow:
    """One policy model of the run: how it was made and how it played."""

    model: str
    round: int
    report: EvaluationResult
    decision: Decision
    pairs: int = 0
    """Pairs its games produced (the dataset cut after its round)."""
    job: JobStatusEvent | None = None
    """The job that trained it (none for the base model)."""
    games: DemoStats | None = None


@dataclass
class LoopResult:
    rows: list[PolicyRow] = field(default_factory=list)
    seconds: float = 0.0
    timed_out: bool = False
    failure: str | None = None
    """Why a round produced no model (the loop stops there)."""
    stopped_by: str | None = None
    """The signal that ended the loop early (``SIGTERM``), if one did."""


async def run_closed_loop(
    config: PrefstreamConfig,
    config_path: str | None,
    overrides: list[tuple[str, str]],
    *,
    interrupt: asyncio.Event | None = None,
) -> LoopResult:
    """Run the rounds until done, timed out, failed or ``interrupt`` is set; the last two
    cut the current round short (the rows so far are the result) and stop the stack."""
    result = LoopResult()
    started = time.monotonic()
    try:
        async with asyncio.timeout(config.demo.timeout_seconds):
            await until_stopped(
                _run(config, config_path, overrides, result), interrupt or asyncio.Event()
            )
    except TimeoutError:
        result.timed_out = True
    except RoundFailed as exc:
        result.failure = str(exc)
    result.seconds = time.monotonic() - started
    return result


async def _run(
    config: PrefstreamConfig,
    config_path: str | None,
    overrides: list[tuple[str, str]],
    result: LoopResult,
) -> None:
    demo = config.demo
    async with (
        running_stack(config, config_path, overrides) as stack,
        httpx.AsyncClient(timeout=demo.llm_timeout_seconds) as client,
    ):
        say = stack.supervisor.say
        base = await register_base_model(stack.config, say)
        current = await deploy_and_wait(client, nmp_local_url(stack.config), base, say)
        gate = GatePolicy(
            z=demo.promotion_z,
            min_tolerance=demo.promotion_min_tolerance,
            max_illegal_increase=demo.promotion_max_illegal_increase,
        )
        async with EvaluationPublisher.connect(stack.config.kafka) as evaluations:
            row = await _evaluate(stack, client, current, None, gate, round_=0)
            await evaluations.publish(_event(row, None, demo.seed))
            result.rows.append(row)
            best = row
            for round_ in range(1, demo.rounds + 1):
                say("demo", f"round {round_}: agents play {current.model}")
                before = records_read(stack.config)
                stats = await _play_round(stack, client, current, round_)
                best.games = stats
                dataset = await _cut_round(stack, current.model, stats.candidates, before)
                best.pairs += dataset.num_pairs
                say("demo", f"round {round_}: {dataset.name}, {best.pairs} pairs; training")
                deployed = await _deployed_from(stack.config, dataset.dataset_id)
                served = ServedModel(model=deployed.model, url=deployed.url)
                row = await _evaluate(stack, client, served, best, gate, round_=round_)
                row.job = deployed.job
                await evaluations.publish(_event(row, best, demo.seed))
                result.rows.append(row)
                say("demo", f"round {round_}: {served.model} {row.decision.reason}")
                if row.decision.promoted:
                    current, best = served, row


async def _play_round(
    stack: Stack, client: httpx.AsyncClient, current: ServedModel, round_: int
) -> DemoStats:
    demo = stack.config.demo
    policy = ServedPolicy(client, current, temperature=demo.temperature, stats=LLMStats())
    stats = await play_games(
        stack.config,
        demo.agents,
        demo.games,
        demo.seed + 1000 * round_,
        source=policy,
        policy_model=current.model,
        play_sampled=True,
    )
    stats.llm = policy.stats
    return stats


PAIRING_PROGRESS = {
    "records_total": "prefstream_pairing_records_consumed_total",
    "pairs_total": "prefstream_pairing_pairs_published_total",
}
BATCHER_PROGRESS = {"pairs_total": "prefstream_batcher_pairs_consumed_total"}
"""Every outcome (stored, duplicate, replayed): each pair the pairing service published."""


def _metrics_urls(config: PrefstreamConfig) -> tuple[str, str]:
    return (
        f"http://{config.pairing.http_host}:{config.pairing.http_port}/metrics",
        f"http://{config.batcher.http_host}:{config.batcher.http_port}/metrics",
    )


def records_read(config: PrefstreamConfig) -> float:
    """Records the pairing service has consumed so far."""
    return scrape(_metrics_urls(config)[0], PAIRING_PROGRESS)["records_total"]


async def _cut_round(
    stack: Stack, model: str, published: int, records_before: float
) -> DatasetReady:
    """Wait until pairing has read every candidate of the round and the batcher has stored
    every pair it published, then cut the round's pairs (this model's only) into a dataset."""
    config = stack.config
    pairing, batcher = _metrics_urls(config)
    deadline = time.monotonic() + PAIRING_TIMEOUT_SECONDS
    while True:
        seen = scrape(pairing, PAIRING_PROGRESS)
        stored = scrape(batcher, BATCHER_PROGRESS)
        if seen["records_total"] >= records_before + published and (
            stored["pairs_total"] >= seen["pairs_total"]
        ):
            break
        if time.monotonic() > deadline:
            raise RoundFailed(
                f"the round's pairs did not reach the batcher in {PAIRING_TIMEOUT_SECONDS:g} s "
                f"(pairing read {seen['records_total'] - records_before:g} of {published} "
                f"candidates and published {seen['pairs_total']:g} pairs; the batcher stored "
                f"{stored['pairs_total']:g}): are pairing and batcher healthy (prefstream watch)?"
            )
        await asyncio.sleep(POLL_SECONDS)
    request = CutRequest(request_id=uuid.uuid4().hex, policy_models=[model])
    ready = await request_cut(config, request, wait=True, wait_seconds=PAIRING_TIMEOUT_SECONDS)
    if ready is None:
        raise RuntimeError(f"the batcher cut no dataset for {model}: no pairs were pending")
    return ready


async def _deployed_from(config: PrefstreamConfig, dataset_id: str) -> DeployedModel:
    """The model trained on ``dataset_id``, once its deployment serves; raises
    :class:`RoundFailed` as soon as the jobs topic shows it never will be (other jobs are
    skipped: a rerun against a durable broker replays earlier rounds' first)."""
    async with TopicFollower(
        config.kafka, config.kafka.topics.jobs, JobStatusEvent, from_beginning=True
    ) as events:
        async for event in events:
            if event.dataset_id != dataset_id:
                continue
            deployed = deployed_model(event)
            if deployed is not None:
                return deployed
            failure = job_failure(event)
            if failure is not None:
                raise RoundFailed(f"{failure} (nmp-local's job log: prefstream watch)")
    raise RoundFailed("the jobs topic follower ended")


class RoundFailed(RuntimeError):
    """The round's dataset produced no model to evaluate."""


async def _evaluate(
    stack: Stack,
    client: httpx.AsyncClient,
    served: ServedModel,
    current: PolicyRow | None,
    gate: GatePolicy,
    *,
    round_: int,
) -> PolicyRow:
    demo = stack.config.demo
    report = await evaluate_served(
        client,
        served,
        random_games=demo.evaluation_games_random,
        minimax_games=demo.evaluation_games_minimax,
        seed=demo.seed,
        temperature=demo.evaluation_temperature,
    )
    baseline = None if current is None else _measured(current.model, current.report)
    measured = _measured(served.model, report)
    return PolicyRow(
        model=served.model, round=round_, report=report, decision=decide(measured, baseline, gate)
    )


def _measured(model: str, report: EvaluationResult) -> Measured:
    return Measured(
        model=model, score=report.score, stderr=report.stderr, illegal_rate=report.illegal_rate
    )


def _event(row: PolicyRow, baseline: PolicyRow | None, seed: int) -> EvaluationEvent:
    report = row.report
    return EvaluationEvent(
        model=row.model,
        baseline_model=None if baseline is None else baseline.model,
        opponents=[
            OpponentResult(
                opponent=r.opponent,
                games=r.games,
                wins=r.wins,
                draws=r.draws,
                losses=r.losses,
                illegal_moves=r.illegal,
            )
            for r in (report.random, report.minimax)
            if r.games
        ],
        score=report.score,
        score_stderr=report.stderr,
        baseline_score=None if baseline is None else baseline.report.score,
        baseline_stderr=None if baseline is None else baseline.report.stderr,
        tolerance=row.decision.tolerance,
        promoted=row.decision.promoted,
        reason=row.decision.reason,
        seed=seed,
        job_key=None if row.job is None else row.job.job_key,
        dataset_id=None if row.job is None else row.job.dataset_id,
    )
