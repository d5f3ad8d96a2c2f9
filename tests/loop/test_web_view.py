"""The web view in a real browser, during a demo run: `prefstream demo --simulated` starts
it (and prints its URL); once a job has completed, headless Chromium loads the page and
its loss chart for that job must hold at least as many train-loss points as nmp-local
reports for the job. The page's script must have refreshed it from the server, and the
web view must stop gracefully with the demo.

Chromium is Debian's ``chromium`` package; ``make test`` installs it (``make browser``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from prefstream_config import KafkaConfig, load_config
from prefstream_events import JobStatus, JobStatusEvent
from prefstream_events.job_board import JobBoard
from prefstream_kafka.readers import job_events

from .support import DEMO_CONFIG, CliProcess

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
)


def chromium() -> str:
    """The browser, or the test fails in CI (skips elsewhere) saying how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed: `make test` installs it (`make browser`)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def dump_dom(browser: str, url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (a fresh profile each time)."""
    profile.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


class PageCharts(HTMLParser):
    """Every chart line of a dumped DOM as (chart, job, series, points drawn), and the
    page's live-status attributes. A line's job is its chart's, or its own in a chart that
    compares jobs."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.svg: dict[str, str | None] | None = None
        self.lines: list[tuple[str | None, str | None, str | None, int]] = []
        self.body: dict[str, str | None] = {}
        self.live: dict[str, str | None] = {}
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.svg = a
        elif tag == "polyline" and self.svg is not None:
            points = len((a.get("points") or "").split())
            job = a.get("data-job") or self.svg.get("data-job")
            self.lines.append((self.svg.get("data-chart"), job, a.get("data-series"), points))
        elif tag == "body":
            self.body = a
        elif a.get("id") == "live":
            self.live = a

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg = None

    def points(self, chart: str, job: str, series: str) -> int:
        found = [n for c, j, s, n in self.lines if (c, j, s) == (chart, job, series)]
        return max(found, default=0)


async def first_completed_job(kafka: KafkaConfig, deadline_s: float) -> JobStatusEvent:
    board = JobBoard()

    async def watch() -> JobStatusEvent:
        async with job_events(kafka, from_beginning=True) as events:
            async for event in events:
                board.apply(event)
                done = [j for j in board.jobs.values() if j.status is JobStatus.COMPLETED]
                if done and done[0].job_id:
                    return done[0]
        raise AssertionError("the jobs topic ended")

    return await asyncio.wait_for(watch(), deadline_s)


def reported_train_loss_points(nmp_url: str, job_id: str) -> int:
    with urllib.request.urlopen(f"{nmp_url}/v1/customization/jobs/{job_id}/status") as r:
        status = json.loads(r.read())
    return len(status["metrics"]["metrics"]["train_loss"])


def test_the_chart_shows_every_train_loss_point_nmp_local_reports(
    loop_overrides: list[tuple[str, str]], tmp_path: Path
) -> None:
    browser = chromium()
    overrides = [
        *loop_overrides,
        ("demo.agents", "2"),
        ("demo.jobs_to_complete", "50"),  # runs until stopped: the page is checked during it
        ("demo.timeout_seconds", "280"),
    ]
    config = load_config(DEMO_CONFIG, overrides)
    kafka = config.kafka.model_copy(
        update={"bootstrap_servers": f"127.0.0.1:{config.kafka.embedded_port}"}
    )
    demo = CliProcess(["demo", "--simulated"], overrides, stop_timeout=120)
    try:
        url = demo.wait_for(r"web view at (http://\S+)", timeout=180).group(1)
        try:
            job = asyncio.run(first_completed_job(kafka, deadline_s=200))
        except TimeoutError:
            tail = "\n".join(demo.lines[-60:])
            raise AssertionError(f"no job completed within 200s:\n{tail}") from None
        assert job.job_id is not None
        expected = reported_train_loss_points(config.adapter().entity_host, job.job_id)
        assert expected > 0

        # The view reads the job-metrics and jobs topics independently: wait until it shows
        # the completed job's curve, loading the page in the browser each time.
        deadline = time.monotonic() + 60
        attempt = 0
        while True:
            attempt += 1
            compare = f"{url}?compare={job.job_key}"  # the chart comparing jobs shows it too
            page = PageCharts(dump_dom(browser, compare, tmp_path / f"profile-{attempt}"))
            shown = page.points("loss", job.job_key, "train_loss")
            if shown >= expected or time.monotonic() > deadline:
                break
        assert shown >= expected, f"chart has {shown} train-loss points, nmp-local {expected}"
        assert page.body.get("data-script") == "running"
        assert page.live.get("data-state") == "live", page.live  # refreshed from /view
        assert page.points("overlay", job.job_key, "train_loss") >= expected
    finally:
        demo.stop()
    assert any(re.search(r"\bstopped ui$", line) for line in demo.lines), demo.lines[-40:]
