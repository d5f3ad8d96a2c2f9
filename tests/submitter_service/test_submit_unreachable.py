"""``prefstream submit`` against a platform that is not there: the cause at once, then a
bounded wait and a clear error, in the log format the config asks for."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .harness import submit_config, write_rows

TIMEOUT_S = 4
STARTUP_ALLOWANCE_S = 10
"""Interpreter start and imports on a busy CI machine; the old retry loops took 28 s to
name the cause and never ended."""


@dataclass
class Run:
    code: int
    lines: list[str]
    seconds: float


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port bound but not listening: every connection is refused, and no one else can
    take the port while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def config_for(path: Path, base_url: str) -> Path:
    """The adapter only: the submitter's retry settings are left at their defaults."""
    return submit_config(path, base_url)


async def submit(*args: str) -> Run:
    """Runs the command with stdout and stderr in one stream, so lines keep their order."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prefstream_cli",
        "submit",
        *args,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT_S + 60)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        pytest.fail(f"submit did not give up:\n{out.decode()[-3000:]}")
    return Run(int(proc.returncode or 0), out.decode().splitlines(), time.monotonic() - started)


async def test_unreachable_platform_names_the_cause_first_and_gives_up_within_timeout(
    tmp_path: Path, refused_url: str
) -> None:
    config = config_for(tmp_path / "c.yml", refused_url)
    directory = write_rows(tmp_path / "d")

    run = await submit(str(directory), "--config", str(config), "--timeout", str(TIMEOUT_S))

    text = "\n".join(run.lines)
    assert run.code == 1, text
    assert run.seconds < TIMEOUT_S + STARTUP_ALLOWANCE_S, text
    first = next(i for i, line in enumerate(run.lines) if refused_url in line.split(" to ")[0])
    # Before it only the header and the "submitting" status line: the first failure says
    # at once what was tried, where, why, and what happens next.
    assert all("submitting" in line for line in run.lines[:first]), text
    assert first <= 2, text
    cause = run.lines[first]
    for part in ("ConnectError", "retrying", "retry_in_s="):
        assert part in cause, text
    last = run.lines[-1]
    assert last.startswith("error: "), text
    assert f"{TIMEOUT_S}s" in last, text
    assert "--timeout" in last, text
    assert refused_url in last, text


async def test_submit_logs_json_when_the_config_asks(tmp_path: Path, refused_url: str) -> None:
    config = config_for(tmp_path / "c.yml", refused_url)
    directory = write_rows(tmp_path / "d")

    run = await submit(
        str(directory), "-c", str(config), "-o", "logging.format", "json", "--timeout", "1"
    )

    assert run.code == 1, run.lines
    entries = [json.loads(line) for line in run.lines if line.startswith("{")]
    assert entries, run.lines
    first = entries[0]
    assert first["service"] == "submit"
    assert refused_url in first["error"]
    assert first["attempt"] == 1
