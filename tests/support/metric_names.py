"""The metric names prefstream exposes, read from monitoring/metric_names.txt.

That file is the one list the dashboard, the alert rules, docs/monitoring.md and the live
scrapes are held to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMES_FILE = ROOT / "monitoring/metric_names.txt"

# Series Prometheus writes for every target itself, not any service's registry.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
# Labels Prometheus attaches to every scraped series (prometheus.yml).
TARGET_LABELS = frozenset({"job", "instance"})
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
TYPES = frozenset({"counter", "gauge", "histogram"})


@dataclass(frozen=True)
class MetricName:
    name: str
    type: str
    service: str
    labels: frozenset[str]

    def series(self) -> dict[str, frozenset[str]]:
        """Each series name PromQL can select for this metric, with the labels it carries."""
        if self.type != "histogram":
            return {self.name: self.labels}
        return {
            self.name + "_bucket": self.labels | {"le"},
            self.name + "_sum": self.labels,
            self.name + "_count": self.labels,
        }


def load_metric_names(path: Path = NAMES_FILE) -> dict[str, MetricName]:
    """name -> MetricName; a malformed line raises naming the line."""
    names: dict[str, MetricName] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 4 or fields[1] not in TYPES or fields[0] in names:
            raise ValueError(f"{path}:{number}: want `name type service labels`: {raw!r}")
        name, kind, service, labels = fields
        names[name] = MetricName(
            name, kind, service, frozenset() if labels == "-" else frozenset(labels.split(","))
        )
    return names


def selectable_series(names: dict[str, MetricName]) -> dict[str, frozenset[str]]:
    """Every series name a query may select -> the labels a matcher may name on it."""
    series: dict[str, frozenset[str]] = dict.fromkeys(PROMETHEUS_SERIES, frozenset())
    for metric in names.values():
        series.update(metric.series())
    return {name: labels | TARGET_LABELS for name, labels in series.items()}
