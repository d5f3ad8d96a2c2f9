"""What a PromQL expression selects, from promql-parser's AST (no regexes over queries)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import promql_parser

# Grafana's interval variables, replaced by a plain range so Prometheus's parser accepts them.
GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}


@dataclass(frozen=True)
class Selector:
    name: str | None
    labels: frozenset[str]


def substitute_grafana_variables(expr: str) -> str:
    """The expression as Prometheus would receive it from Grafana (intervals made plain)."""
    for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
    leftover = re.findall(r"\$\{?\w+", expr)
    if leftover:
        raise ValueError(f"unknown Grafana variables {leftover} in {expr!r}")
    return expr


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in ``expr`` (inside range selectors and subqueries too)."""
    found: list[Selector] = []

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            labels = frozenset(m.name for m in node.matchers.matchers) - {"__name__"}
            found.append(Selector(node.name, labels))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def unknown_references(expr: str, series: Mapping[str, frozenset[str]]) -> list[str]:
    """Metric names and label matchers in ``expr`` that ``series`` does not know."""
    problems: list[str] = []
    for selector in selectors(expr):
        if selector.name is None:
            problems.append(f"selector without a metric name in {expr!r}")
        elif selector.name not in series:
            problems.append(f"unknown metric {selector.name}")
        elif not selector.labels <= series[selector.name]:
            extra = sorted(selector.labels - series[selector.name])
            problems.append(f"{selector.name} has no label {', '.join(extra)}")
    return problems
