"""monitoring/prometheus/alerts.yml: valid, unit-tested per alert, and named from the table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.metric_names import load_metric_names, selectable_series
from tests.support.promql import unknown_references
from tests.support.promtool import run_promtool

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "monitoring/prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERTS_TEST = PROMETHEUS / "alerts_test.yml"
DOC = ROOT / "docs/monitoring.md"


def _rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the page's headings (lower case, punctuation dropped)."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_promtool_accepts_the_rules_with_no_warnings() -> None:
    result = run_promtool("check", "rules", "--lint=all", "--lint-fatal", str(ALERTS))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output.upper(), output


def test_every_alert_fires_and_stays_quiet_in_the_unit_tests() -> None:
    result = run_promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = [
        case
        for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    for rule in _rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c.get("exp_alerts") for c in mine), f"{rule['alert']}: no case fires it"
        assert any(not c.get("exp_alerts") for c in mine), f"{rule['alert']}: no quiet case"


def test_every_alert_says_how_bad_and_where_to_read_what_to_do() -> None:
    anchors = _anchors(DOC.read_text())
    names = [rule["alert"] for rule in _rules()]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in _rules():
        name = rule["alert"]
        assert rule.get("for"), f"{name}: no `for:` (one bad scrape would page)"
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        annotations = rule["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/monitoring.md", name
        assert anchor == name.lower(), name
        assert anchor in anchors, f"{name}: docs/monitoring.md has no heading {anchor}"


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: str(rule["alert"]))
def test_alerts_name_only_metrics_in_the_table(rule: dict[str, Any]) -> None:
    series = selectable_series(load_metric_names())
    assert unknown_references(rule["expr"], series) == []
