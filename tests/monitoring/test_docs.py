"""docs/monitoring.md keeps up with monitoring/metric_names.txt and the alert rules."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.support.metric_names import load_metric_names

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/monitoring.md"


def test_the_doc_lists_every_metric_with_its_type_and_labels() -> None:
    rows = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r"^\| `(\w+)` \| (\w+) \| ([^|]*?) \|", DOC.read_text(), re.MULTILINE)
    }
    for metric in load_metric_names().values():
        assert metric.name in rows, f"docs/monitoring.md: no row for {metric.name}"
        kind, labels = rows[metric.name]
        assert kind == metric.type, metric.name
        assert set(re.findall(r"`(\w+)`", labels)) == metric.labels, metric.name
    assert set(rows) <= set(load_metric_names()), "the doc lists metrics that do not exist"


def test_the_doc_explains_every_alert() -> None:
    text = DOC.read_text()
    alerts = yaml.safe_load((ROOT / "monitoring/prometheus/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            assert re.search(rf"^### {rule['alert']}$", text, re.MULTILINE), rule["alert"]
