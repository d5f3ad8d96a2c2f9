"""monitoring/prometheus/prometheus.yml loads in Prometheus, with the alert rules."""

from __future__ import annotations

from pathlib import Path

from tests.support.promtool import run_promtool

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "monitoring/prometheus/prometheus.yml"


def test_promtool_accepts_the_config_and_finds_the_alert_rules() -> None:
    result = run_promtool("check", "config", str(CONFIG))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output.upper(), output
    assert "SUCCESS: 1 rule files found" in output, output
