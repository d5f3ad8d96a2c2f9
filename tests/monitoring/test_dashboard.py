"""monitoring/grafana: the dashboard's queries parse, name only known metrics, and it loads
against the provisioned datasource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.metric_names import load_metric_names, selectable_series
from tests.support.promql import substitute_grafana_variables, unknown_references
from tests.support.promtool import run_promtool

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "monitoring/grafana"
DASHBOARD = GRAFANA / "dashboards/prefstream.json"
DATASOURCES = GRAFANA / "provisioning/datasources/prometheus.yml"


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _exprs() -> list[str]:
    return [t["expr"] for p in _panels() for t in p["targets"]]


def test_every_query_parses_as_prometheus_would(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule: Prometheus's own parser, not ours."""
    rules = [
        {"record": f"prefstream:dashboard_query_{i}", "expr": substitute_grafana_variables(e)}
        for i, e in enumerate(_exprs())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"SUCCESS: {len(rules)} rules found" in output, output


@pytest.mark.parametrize("expr", _exprs())
def test_queries_name_only_metrics_in_the_table(expr: str) -> None:
    series = selectable_series(load_metric_names())
    assert unknown_references(substitute_grafana_variables(expr), series) == []


def test_every_panel_queries_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    uids = {d["uid"] for d in provisioned if d["type"] == "prometheus"}
    assert len(uids) == 1
    for panel in _panels():
        assert panel["datasource"]["uid"] in uids, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids, panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{panel['title']}: refIds repeat"


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] < grid["x"] + grid["w"] <= 24, panel["title"]
        assert 0 <= grid["y"] < grid["y"] + grid["h"], panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                other = cells.setdefault((x, y), panel["title"])
                assert other == panel["title"], f"{panel['title']} overlaps {other}"


def test_the_dashboard_shows_what_the_alerts_watch() -> None:
    """Every metric an alert fires on has a panel, so a page can be followed on the board."""
    alerts = yaml.safe_load((ROOT / "monitoring/prometheus/alerts.yml").read_text())
    queried = " ".join(_exprs())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            for name in load_metric_names():
                if name in rule["expr"]:
                    assert name in queried, f"{rule['alert']} watches {name}: no panel shows it"
