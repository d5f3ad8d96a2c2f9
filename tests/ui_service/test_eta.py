"""ETA: a straight line through two (time, percent) observations, from the curve's own
timestamps first, from what the view saw otherwise."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefstream_events import JobStatus, MetricPoint
from prefstream_events.eta import (
    Observation,
    curve_observations,
    duration,
    finish_estimate,
    job_eta,
)

from tests.ui_service.events import T0, job


def points(steps: range, seconds_per_step: float) -> list[MetricPoint]:
    return [
        MetricPoint(step=s, value=0.5, at=T0 + timedelta(seconds=s * seconds_per_step))
        for s in steps
    ]


def test_a_line_through_two_observations_reaches_100_percent() -> None:
    first = Observation(T0, 10.0)
    last = Observation(T0 + timedelta(seconds=60), 40.0)
    assert finish_estimate(first, last) == T0 + timedelta(seconds=60 + 120)
    assert finish_estimate(last, last) is None  # no time passed, no progress made
    assert finish_estimate(first, Observation(T0 + timedelta(seconds=5), 10.0)) is None


def test_the_curve_gives_progress_from_steps() -> None:
    pts = points(range(10, 101, 10), seconds_per_step=2.0)  # 10 steps took 20 s
    # 100 steps are 25 % of 400: the job has 300 steps (600 s) to go after the last point.
    first, last = curve_observations(pts, 25.0, 100) or pytest.fail("no observations")
    assert first.percentage == pytest.approx(2.5)
    assert last.percentage == pytest.approx(25.0)
    assert finish_estimate(first, last) == T0 + timedelta(seconds=200 + 600)


def test_running_job_eta_from_its_curve_relative_to_now() -> None:
    pts = points(range(10, 101, 10), seconds_per_step=2.0)
    running = job("a", percentage_done=25.0, steps_completed=100)
    now = T0 + timedelta(seconds=300)
    eta = job_eta(running, pts, None, now) or pytest.fail("no eta")
    assert eta.finish_at == T0 + timedelta(seconds=800)
    assert eta.remaining_seconds == pytest.approx(500)
    assert job_eta(running, pts, None, T0 + timedelta(hours=1)).remaining_seconds == 0  # type: ignore[union-attr]


def test_without_timestamps_the_view_s_own_observation_serves() -> None:
    running = job(
        "a", percentage_done=50.0, steps_completed=10, updated_at=T0 + timedelta(seconds=100)
    )
    first = Observation(T0, 0.0)
    eta = job_eta(running, [], first, T0 + timedelta(seconds=100)) or pytest.fail("no eta")
    assert eta.remaining_seconds == pytest.approx(100)
    assert job_eta(running, [], None, T0) is None


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.COMPLETED, JobStatus.FAILED])
def test_only_running_jobs_have_an_eta(status: JobStatus) -> None:
    pts = points(range(10, 101, 10), seconds_per_step=2.0)
    other = job("a", status=status, percentage_done=25.0, steps_completed=100)
    assert job_eta(other, pts, Observation(T0, 0.0), T0) is None


def test_durations_read_like_a_clock() -> None:
    assert duration(42.4) == "42s"
    assert duration(185) == "3m 05s"
    assert duration(3720) == "1h 02m"


def test_skewed_clocks_never_give_a_negative_or_backward_eta() -> None:
    """The platform's clock is not the viewer's: its points may run backwards (a job resumed
    on a host whose clock is behind) or lie hours ahead of ``now``."""
    backwards = [
        MetricPoint(step=10, value=0.5, at=T0 + timedelta(seconds=60)),
        MetricPoint(step=20, value=0.5, at=T0),
    ]
    running = job("a", percentage_done=20.0, steps_completed=20, updated_at=T0)
    assert job_eta(running, backwards, None, T0) is None
    ahead = points(range(2, 21, 2), seconds_per_step=2.0)
    eta = job_eta(running, ahead, None, T0 - timedelta(hours=3)) or pytest.fail("no eta")
    assert eta.remaining_seconds >= 0
    behind = job_eta(running, ahead, None, T0 + timedelta(days=1)) or pytest.fail("no eta")
    assert behind.remaining_seconds == 0
