"""`prefstream demo` end to end, small: agents -> pairs -> dataset -> job completed; stopped
by SIGTERM, it stops every child, prints what it did and exits 143."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from prefstream_events import JobStatus

from .support import (
    DEMO_CONFIG,
    ROOT,
    CliProcess,
    all_children,
    as_argv,
    assert_none_survive,
    kill_survivors,
    service_ports,
)

pytestmark = pytest.mark.slow


def test_demo_trains_a_job_with_no_error_in_the_logs(
    loop_overrides: list[tuple[str, str]], tmp_path: Path
) -> None:
    overrides = [*loop_overrides, ("demo.agents", "2"), ("demo.jobs_to_complete", "1")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "prefstream_cli",
            "demo",
            "--simulated",
            "--config",
            str(DEMO_CONFIG),
            *as_argv(overrides),
            "-o",
            "demo.timeout_seconds",
            "240",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert re.search(r"training jobs\s+\d+ \((\d+) completed\)", output), output[-3000:]
    completed = int(re.search(r"\((\d+) completed\)", output).group(1))  # type: ignore[union-attr]
    assert completed >= 1
    pairs = int(re.search(r"preference pairs\s+(\d+)", output).group(1))  # type: ignore[union-attr]
    assert pairs > 0
    _assert_every_candidate_accounted_for(output)
    statuses = re.findall(r"^    \w[\w.-]* +(\S+)", result.stdout, re.MULTILINE)
    assert statuses, output[-3000:]
    assert set(statuses) <= {s.value for s in JobStatus}, statuses  # watch's vocabulary
    errors = [line for line in output.splitlines() if re.search(r"\b(ERROR|Traceback)\b", line)]
    assert not errors, "\n".join(errors[:20])
    assert any((tmp_path / "datasets").rglob("training_file.jsonl"))


def _assert_every_candidate_accounted_for(output: str) -> None:
    """``N published: a paired, b unpaired (...), ...``: the parts add up to N, with none
    left unconsumed (the summary waits for the pairing service to catch up)."""
    line = re.search(r"candidates\s+(\d+) published: (.*)", output)
    assert line, output[-3000:]
    published = int(line.group(1))
    parts = dict(
        (name, int(n)) for n, name in re.findall(r"(\d+) ([a-z][a-z -]*[a-z])", line.group(2))
    )
    assert {"paired", "unpaired", "filtered", "in open windows", "dead-lettered"} <= set(parts), (
        line.group(0)
    )
    assert "not yet consumed" not in parts, line.group(0)
    assert published > 0
    assert sum(parts.values()) == published, line.group(0)
    print(line.group(0))  # shown with -rP


def test_sigterm_stops_the_demo_and_every_child_and_exits_143(
    loop_overrides: list[tuple[str, str]],
) -> None:
    """As a service manager stops it: SIGTERM mid-demo is Ctrl-C, with 128 + 15."""
    overrides = [
        *loop_overrides,
        ("demo.agents", "2"),
        ("demo.jobs_to_complete", "1000"),  # never done by itself: only the signal ends it
        ("demo.timeout_seconds", "900"),
    ]
    demo = CliProcess(["demo", "--simulated"], overrides, stop_timeout=120)
    children: list[psutil.Process] = []
    try:
        demo.wait_for(r"agents playing tic-tac-toe", timeout=240)
        children = all_children(demo.proc.pid)
        demo.proc.send_signal(signal.SIGTERM)
        code = demo.proc.wait(timeout=120)
        assert_none_survive(children, service_ports(overrides))
        output = "\n".join(demo.lines)
        assert code == 143, output[-5000:]
        assert re.search(r"prefstream demo stopped by SIGTERM after \d+s", output), output[-3000:]
        assert re.search(r"games played\s+\d+", output), output[-3000:]
        assert "Traceback" not in output, output[-5000:]
    finally:
        demo.stop()
        kill_survivors(children)
