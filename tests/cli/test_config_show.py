"""``prefstream config show`` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prefstream_cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env=env,
    )


def test_config_show_applies_override_on_the_nat_example() -> None:
    result = run_cli(
        "config",
        "show",
        "--config",
        "tests/fixtures/nat_dpo_example.yml",
        "-o",
        "trainer_adapters.nemo_adapter.hyperparameters.epochs",
        "5",
    )
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["trainer_adapters"]["nemo_adapter"]["hyperparameters"]["epochs"] == 5
    assert shown["trainer_adapters"]["nemo_adapter"]["_type"] == "nemo_customizer_trainer_adapter"
    assert "ignoring section 'workflow'" in result.stderr


def test_config_show_reports_bad_value_with_path_and_exit_code_2() -> None:
    result = run_cli("config", "show", "-o", "kafka.partitions", "0")
    assert result.returncode == 2
    assert "kafka.partitions: Input should be greater than 0" in result.stderr


def test_config_show_never_prints_a_numeric_secret() -> None:
    env = {**os.environ, "PREFSTREAM__KAFKA__SASL_PASSWORD": "31415926535"}
    shown = run_cli("config", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert yaml.safe_load(shown.stdout)["kafka"]["sasl_password"] == "**********"
    failed = run_cli("config", "show", "-o", "kafka.partitions", "0", env=env)
    assert failed.returncode == 2
    assert "kafka.partitions" in failed.stderr
    assert "31415926535" not in shown.stdout + shown.stderr + failed.stdout + failed.stderr
