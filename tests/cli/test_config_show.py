"""``prefstream config show`` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prefstream_cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
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
