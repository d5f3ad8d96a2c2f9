"""The pure helpers the monitoring tests stand on: they must catch what they claim to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.metric_names import load_metric_names, selectable_series
from tests.support.promql import substitute_grafana_variables, unknown_references


def test_unknown_metrics_and_labels_are_reported() -> None:
    series = selectable_series(load_metric_names())
    expr = (
        'sum by (le) (rate(prefstream_pairing_close_latency_seconds_bucket{job="pairing"}[5m]))'
        ' + prefstream_pairing_pair_total + prefstream_submitter_jobs{state="failed"} + up'
    )
    assert unknown_references(expr, series) == [
        "unknown metric prefstream_pairing_pair_total",
        "prefstream_submitter_jobs has no label state",
    ]


def test_a_histogram_is_selected_by_its_series_names_only() -> None:
    series = selectable_series(load_metric_names())
    base = "prefstream_pairing_close_latency_seconds"
    assert unknown_references(f"{base}_count + {base}_sum", series) == []
    assert unknown_references(base, series) == [f"unknown metric {base}"]


def test_grafana_intervals_are_substituted_and_unknown_variables_refused() -> None:
    assert substitute_grafana_variables("rate(x[$__rate_interval])") == "rate(x[5m])"
    with pytest.raises(ValueError, match="job"):
        substitute_grafana_variables('x{job="$job"}')


def test_a_malformed_names_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# comment\nprefstream_x_total counter\n")
    with pytest.raises(ValueError, match=":2:"):
        load_metric_names(path)
