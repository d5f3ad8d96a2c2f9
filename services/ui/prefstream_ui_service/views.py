"""What the web view shows, computed from a :class:`ViewState` and the time (pure): rows
for the tables, chart geometry for the curves, and the documents of the JSON API.

Jobs are newest first (the order they first appeared on the jobs topic, reversed); a job's
curves are grouped by metric (``train_loss`` and ``val_loss`` share the loss chart).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefstream_events import EvaluationEvent, JobStatus, JobStatusEvent, MetricPoint
from prefstream_events.boards import ReasonCount
from prefstream_events.eta import duration, job_eta
from prefstream_events.promotions import PromotionBoard

from prefstream_ui_service.charts import WIDE, Chart, Line, line_chart
from prefstream_ui_service.view_state import ViewState

OVERLAY_JOBS = 6
"""Jobs compared by default: the newest that have a train-loss curve."""
CARD_METRICS = ("loss", "accuracy")
"""The metrics a job's card on the main page charts; its own page charts every one."""
FIXED_RANGE = {"accuracy": (0.0, 1.0)}


@dataclass(frozen=True)
class JobRow:
    job_key: str
    dataset_id: str
    dataset_name: str
    job_id: str | None
    status: str
    terminal: bool
    percentage: float
    eta: str
    """``~3m 05s`` while running and estimable, else empty."""
    eta_seconds: float | None
    finish_at: datetime | None
    epochs_completed: int | None
    epochs_total: int | None
    steps_completed: int | None
    train_loss: float | None
    val_loss: float | None
    output_model: str | None
    deployment: str | None
    deployment_status: str | None
    start_model: str | None
    customization_config: str | None
    error: str | None
    updated_at: datetime
    curve_points: dict[str, int]
    """Points per series on the job-metrics topic."""
    hyperparameters: dict[str, Any] | None = None

    @property
    def epochs(self) -> str:
        """``1 of 2 epochs`` where the job's hyperparameters say how many."""
        if self.epochs_completed is None:
            return "" if self.epochs_total is None else f"0 of {self.epochs_total} epochs"
        if self.epochs_total is None:
            return f"{self.epochs_completed} epochs"
        return f"{self.epochs_completed} of {self.epochs_total} epochs"


@dataclass(frozen=True)
class MetricChart:
    metric: str
    """``loss``, ``accuracy``, ``rewards_margins``...: the series' name less train_/val_."""
    chart: Chart


@dataclass(frozen=True)
class JobCard:
    row: JobRow
    charts: tuple[MetricChart, ...]


@dataclass(frozen=True)
class OpponentCell:
    opponent: str
    wins: int
    draws: int
    losses: int
    games: int

    @property
    def win_rate(self) -> float:
        return self.wins / self.games if self.games else 0.0


@dataclass(frozen=True)
class EvaluationRow:
    model: str
    baseline_model: str | None
    opponents: tuple[OpponentCell, ...]
    illegal_moves: int
    score: str
    promoted: bool
    current: bool
    """The model promoted last: the one agents play now."""
    reason: str
    evaluated_at: datetime
    job_key: str | None


@dataclass(frozen=True)
class DatasetRow:
    dataset_id: str
    name: str
    sequence: int
    created_at: datetime
    num_pairs: int
    training_rows: int
    validation_rows: int
    mode: str
    trigger: str | None
    policy_models: tuple[tuple[str, int], ...]
    """Pairs per policy model, most first."""
    job_status: str | None
    output_model: str | None


@dataclass(frozen=True)
class DeadLetters:
    total: int
    by_reason: tuple[ReasonCount, ...]


@dataclass(frozen=True)
class Overview:
    jobs: tuple[JobRow, ...]
    cards: tuple[JobCard, ...]
    compared: tuple[str, ...]
    overlay: Chart
    win_rates: Chart
    evaluations: tuple[EvaluationRow, ...]
    promoted_model: str | None
    datasets: tuple[DatasetRow, ...]
    deadletters: DeadLetters
    counts: dict[str, int] = field(default_factory=dict)
    """Jobs per status."""


@dataclass(frozen=True)
class JobDetail:
    row: JobRow
    charts: tuple[MetricChart, ...]


@dataclass(frozen=True)
class StateDocument:
    """``GET /api/state``."""

    version: int
    generated_at: datetime
    jobs: tuple[JobRow, ...]
    datasets: tuple[DatasetRow, ...]
    evaluations: tuple[EvaluationRow, ...]
    promoted_model: str | None
    deadletters: DeadLetters


@dataclass(frozen=True)
class CurvesDocument:
    """``GET /api/jobs/{job_key}/curves``: every point of every series, by step."""

    job_key: str
    job_id: str | None
    series: dict[str, list[MetricPoint]]


def newest_jobs(state: ViewState) -> list[JobStatusEvent]:
    return list(reversed(state.boards.jobs.jobs.values()))


def epochs_total(job: JobStatusEvent) -> int | None:
    value = (job.hyperparameters or {}).get("epochs")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def curve_points(state: ViewState, job_key: str) -> dict[str, int]:
    """Points per series, counted without gathering them."""
    counts: dict[str, int] = {}
    for chunk in state.boards.curves.chunks.get(job_key, {}).values():
        for name, points in chunk.series.items():
            counts[name] = counts.get(name, 0) + len(points)
    return counts


def job_row(state: ViewState, job: JobStatusEvent, now: datetime) -> JobRow:
    """Only a running job's train-loss points are gathered (for its ETA): a request lists
    every job, so it must not copy every curve."""
    train: list[MetricPoint] = []
    if job.status is JobStatus.RUNNING:
        train = state.boards.curves.curves(job.job_key).get("train_loss", [])
    eta = job_eta(job, train, state.first_progress.get(job.job_key), now)
    done = job.status is JobStatus.COMPLETED
    percentage = 100.0 if done else (job.percentage_done or 0.0)
    return JobRow(
        job_key=job.job_key,
        dataset_id=job.dataset_id,
        dataset_name=job.dataset_name,
        job_id=job.job_id,
        status=job.status.value,
        terminal=job.status.terminal,
        percentage=percentage,
        eta="" if eta is None else f"~{duration(eta.remaining_seconds)}",
        eta_seconds=None if eta is None else round(eta.remaining_seconds, 1),
        finish_at=None if eta is None else eta.finish_at,
        epochs_completed=job.epochs_completed,
        epochs_total=epochs_total(job),
        steps_completed=job.steps_completed,
        train_loss=job.train_loss,
        val_loss=job.val_loss,
        output_model=job.output_model,
        deployment=job.deployment.name if job.deployment else None,
        deployment_status=job.deployment.status if job.deployment else None,
        start_model=job.start_model,
        customization_config=job.customization_config,
        error=job.error,
        updated_at=job.updated_at,
        curve_points=curve_points(state, job.job_key),
        hyperparameters=job.hyperparameters,
    )


def metric_of(series: str) -> str:
    """``train_loss`` and ``val_loss`` are both ``loss``."""
    for prefix in ("train_", "val_"):
        if series.startswith(prefix) and len(series) > len(prefix):
            return series[len(prefix) :]
    return series


def _metric_order(metric: str) -> tuple[int, str]:
    return (CARD_METRICS.index(metric) if metric in CARD_METRICS else len(CARD_METRICS), metric)


def _series_color(series: str) -> int:
    return 0 if series.startswith("train_") else 1 if series.startswith("val_") else 2


def metric_charts(
    curves: Mapping[str, Sequence[MetricPoint]], metrics: Sequence[str] | None = None
) -> tuple[MetricChart, ...]:
    """One chart per metric (of ``metrics`` only, when given), its train and val series
    together, in the order loss, accuracy, then by name."""
    grouped: dict[str, list[str]] = {}
    for series in sorted(curves):
        if curves[series]:
            grouped.setdefault(metric_of(series), []).append(series)
    charts = []
    for metric in sorted(grouped, key=_metric_order):
        if metrics is not None and metric not in metrics:
            continue
        lines = [
            Line(
                name=series,
                label=series,
                points=[(p.step, p.value) for p in curves[series]],
                color=_series_color(series),
            )
            for series in grouped[metric]
        ]
        chart = line_chart(lines, y_label=metric, y_domain=FIXED_RANGE.get(metric))
        charts.append(MetricChart(metric, chart))
    return tuple(charts)


def overlay_chart(
    state: ViewState, compare: Sequence[str], default: int = OVERLAY_JOBS
) -> tuple[tuple[str, ...], Chart]:
    """The train-loss curves of the jobs in ``compare`` (those that exist), else of the
    ``default`` newest jobs that have one, on shared axes."""
    jobs = state.boards.jobs.jobs
    curves = state.boards.curves
    keys = [k for k in dict.fromkeys(compare) if k in jobs]
    if not keys:
        with_curve = [
            j.job_key for j in newest_jobs(state) if curves.points(j.job_key, "train_loss")
        ]
        keys = list(reversed(with_curve[:default]))
    lines = [
        Line(
            name=key,
            label=jobs[key].dataset_name,
            points=[(p.step, p.value) for p in curves.curves(key).get("train_loss", [])],
            color=i,
        )
        for i, key in enumerate(keys)
    ]
    width, height = WIDE
    return tuple(keys), line_chart(lines, y_label="train loss", width=width, height=height)


def _opponents(event: EvaluationEvent) -> tuple[OpponentCell, ...]:
    return tuple(
        OpponentCell(o.opponent, o.wins, o.draws, o.losses, o.games) for o in event.opponents
    )


def _by_time(board: PromotionBoard) -> list[EvaluationEvent]:
    return sorted(board.ordered(), key=lambda e: e.evaluated_at)


def win_rate_chart(board: PromotionBoard) -> Chart:
    """Per opponent, each evaluated model's win rate at the time it was evaluated; each
    point names its model and whether the gate promoted it."""
    opponents: dict[str, list[tuple[EvaluationEvent, OpponentCell]]] = {}
    for event in _by_time(board):
        for cell in _opponents(event):
            opponents.setdefault(cell.opponent, []).append((event, cell))
    lines = []
    for i, (opponent, results) in enumerate(opponents.items()):
        lines.append(
            Line(
                name=opponent,
                label=f"vs {opponent}",
                points=[(e.evaluated_at.timestamp(), c.win_rate) for e, c in results],
                color=i,
                notes=[
                    f"{e.model}: {c.wins}/{c.draws}/{c.losses} of {c.games} vs {opponent}, "
                    + ("promoted" if e.promoted else "rejected")
                    for e, c in results
                ],
                kinds=["promoted" if e.promoted else "rejected" for e, _ in results],
                keys=[e.model for e, _ in results],
            )
        )
    width, height = WIDE
    return line_chart(
        lines,
        x_label="evaluated (UTC)",
        y_label="win rate",
        y_domain=(0.0, 1.0),
        time_axis=True,
        width=width,
        height=height,
    )


def score_text(event: EvaluationEvent) -> str:
    text = f"{event.score:.3f} ± {event.score_stderr:.3f}"
    if event.baseline_score is not None:
        err = "" if event.baseline_stderr is None else f" ± {event.baseline_stderr:.3f}"
        text += f" vs {event.baseline_score:.3f}{err}"
    return text


def evaluation_rows(board: PromotionBoard) -> tuple[EvaluationRow, ...]:
    """Newest first."""
    promoted = board.latest_promoted()
    return tuple(
        EvaluationRow(
            model=e.model,
            baseline_model=e.baseline_model,
            opponents=_opponents(e),
            illegal_moves=e.illegal_moves,
            score=score_text(e),
            promoted=e.promoted,
            current=promoted is not None and promoted.model == e.model,
            reason=e.reason,
            evaluated_at=e.evaluated_at,
            job_key=e.job_key,
        )
        for e in reversed(_by_time(board))
    )


def dataset_rows(state: ViewState) -> tuple[DatasetRow, ...]:
    by_dataset = {job.dataset_id: job for job in state.boards.jobs.jobs.values()}
    rows = []
    for d in state.boards.datasets.newest_first():
        job = by_dataset.get(d.dataset_id)
        rows.append(
            DatasetRow(
                dataset_id=d.dataset_id,
                name=d.name,
                sequence=d.sequence,
                created_at=d.created_at,
                num_pairs=d.num_pairs,
                training_rows=d.training.rows,
                validation_rows=d.validation.rows,
                mode=d.mode,
                trigger=d.trigger,
                policy_models=tuple(
                    sorted(d.policy_models.items(), key=lambda kv: (-kv[1], kv[0]))
                ),
                job_status=None if job is None else job.status.value,
                output_model=None if job is None else job.output_model,
            )
        )
    return tuple(rows)


def deadletters(state: ViewState) -> DeadLetters:
    tally = state.boards.deadletters
    return DeadLetters(tally.total, tuple(tally.counts()))


def overview(
    state: ViewState, now: datetime, *, compare: Sequence[str] = (), cards: int = 12
) -> Overview:
    jobs = newest_jobs(state)
    rows = tuple(job_row(state, job, now) for job in jobs)
    job_cards = tuple(
        JobCard(row, metric_charts(state.boards.curves.curves(row.job_key), CARD_METRICS))
        for row in rows[:cards]
    )
    compared, overlay = overlay_chart(state, compare)
    promoted = state.boards.evaluations.latest_promoted()
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status.value] = counts.get(job.status.value, 0) + 1
    return Overview(
        jobs=rows,
        cards=job_cards,
        compared=compared,
        overlay=overlay,
        win_rates=win_rate_chart(state.boards.evaluations),
        evaluations=evaluation_rows(state.boards.evaluations),
        promoted_model=None if promoted is None else promoted.model,
        datasets=dataset_rows(state),
        deadletters=deadletters(state),
        counts=counts,
    )


def job_detail(state: ViewState, job_key: str, now: datetime) -> JobDetail | None:
    job = state.boards.jobs.jobs.get(job_key)
    if job is None:
        return None
    return JobDetail(job_row(state, job, now), metric_charts(state.boards.curves.curves(job_key)))


def state_document(state: ViewState, now: datetime) -> StateDocument:
    promoted = state.boards.evaluations.latest_promoted()
    return StateDocument(
        version=state.version,
        generated_at=now,
        jobs=tuple(job_row(state, job, now) for job in newest_jobs(state)),
        datasets=dataset_rows(state),
        evaluations=evaluation_rows(state.boards.evaluations),
        promoted_model=None if promoted is None else promoted.model,
        deadletters=deadletters(state),
    )


def curves_document(state: ViewState, job_key: str) -> CurvesDocument | None:
    """None for a job with neither a status nor a curve."""
    curves = state.boards.curves.curves(job_key)
    job = state.boards.jobs.jobs.get(job_key)
    if job is None and not curves:
        return None
    chunks = state.boards.curves.chunks.get(job_key, {})
    job_id = job.job_id if job is not None else next((c.job_id for c in chunks.values()), None)
    return CurvesDocument(job_key=job_key, job_id=job_id, series=curves)
