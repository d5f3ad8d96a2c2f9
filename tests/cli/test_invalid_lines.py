"""``publish`` and ``pairs build`` fail when lines were skipped, and say so the same way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from prefstream_cli.main import cli

from tests.cli.test_publish import line
from tests.conftest import KafkaBroker

LINES = [line(candidate_index=0), b"{not json", line(candidate_index="x"), line(candidate_index=1)]
EXIT_INVALID = 3


def run(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, list(args))
    errors = [ln for ln in result.stderr.splitlines() if re.match(r"\S+:\d+: ", ln)]
    return result.exit_code, errors


@pytest.fixture
def mostly_invalid(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    return path


def test_pairs_build_exits_non_zero_when_a_line_was_skipped(
    mostly_invalid: Path, tmp_path: Path
) -> None:
    out = str(tmp_path / "pairs.jsonl")
    code, errors = run("pairs", "build", str(mostly_invalid), "-o", out, "--jobs", "1")
    assert code == EXIT_INVALID
    assert errors == [
        f"{mostly_invalid}:2: invalid (not_json): " + errors[0].split("(not_json): ")[1],
        f"{mostly_invalid}:3: invalid (invalid_field): " + errors[1].split("(invalid_field): ")[1],
    ]
    ok, _ = run(
        "pairs", "build", str(mostly_invalid), "-o", out, "--jobs", "1", "--max-invalid", "2"
    )
    assert ok == 0
    over, _ = run(
        "pairs", "build", str(mostly_invalid), "-o", out, "--jobs", "1", "--max-invalid", "1"
    )
    assert over == EXIT_INVALID


def test_publish_exits_non_zero_when_a_line_was_skipped_and_reports_like_pairs_build(
    kafka_broker: KafkaBroker, unique_name: str, mostly_invalid: Path, tmp_path: Path
) -> None:
    settings = [
        *("-o", "kafka.bootstrap_servers", kafka_broker.bootstrap_servers),
        *("-o", "kafka.topics.candidates", unique_name),
    ]
    code, errors = run("publish", str(mostly_invalid), *settings)
    assert code == EXIT_INVALID
    _, offline = run(
        "pairs", "build", str(mostly_invalid), "-o", str(tmp_path / "p"), "--jobs", "1"
    )
    assert errors == offline
    assert len(errors) == 2
    ok, _ = run("publish", str(mostly_invalid), *settings, "--max-invalid", "2")
    assert ok == 0
