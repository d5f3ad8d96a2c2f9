"""Prometheus's own checker, promtool, as the tests run it.

`make promtool` unpacks it from Debian's prometheus package into .cache/tools/bin (no root,
nothing installed); a test that needs it fails, never skips, when it is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = ROOT / ".cache/tools/bin/promtool"


def promtool() -> Path:
    """The promtool binary: $PROMTOOL, then `make promtool`'s copy, then one on PATH."""
    candidates = [os.environ.get("PROMTOOL"), str(PROMTOOL), shutil.which("promtool")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.fail(f"promtool not found at {PROMTOOL} nor on PATH: run `make promtool`")


def run_promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """One promtool command; its exit status is left to the caller to judge."""
    return subprocess.run(
        [str(promtool()), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_metrics(exposition: str) -> list[str]:
    """What `promtool check metrics` objects to in one scrape's text; [] when it is clean.

    promtool prints lint problems ("name: problem") and exits 3; any other failure (a scrape
    it cannot parse) is reported whole, so an unparseable scrape is never called clean.
    """
    result = run_promtool("check", "metrics", stdin=exposition)
    problems = [
        line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()
    ]
    if result.returncode == 0:
        return problems
    return problems or [f"promtool check metrics exited {result.returncode} with no message"]
