"""Chart geometry for the web view: data to SVG coordinates, axis ticks, thinning.

Pure: the templates only draw what this computes (inline SVG, no charting library), and
the tests check the numbers here directly. A chart is a plot box inside a ``width`` x
``height`` view box; y grows downwards in SVG, so larger values sit higher.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

WIDTH = 520
HEIGHT = 220
WIDE = (860, 260)
"""Width and height of a chart that has a row to itself (jobs compared, win rates)."""
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 34
"""Margins around the plot box: room for the tick labels."""
MAX_DRAWN = 1000
"""Points drawn per line at most: longer series keep each bucket's lowest and highest point,
so spikes stay visible (a browser draws a 1000-point polyline in well under a millisecond)."""
MARKERS_UP_TO = 24
"""Lines with at most this many points also get a dot per point (val_loss: one per epoch)."""
PALETTE = 8
EDGE = 20
"""An x tick label this close to the right edge ends there instead of centring on its tick."""
"""Colour classes ``c0``..``c7`` in ui.css."""

Formatter = Callable[[float, float], str]
"""A tick label from the value and the step between ticks."""


@dataclass(frozen=True)
class Line:
    """One series to draw. ``name`` is stable (a metric name, a job key) and becomes the
    ``data-series`` attribute; ``notes`` and ``kinds``, when given, label each point."""

    name: str
    label: str
    points: Sequence[tuple[float, float]]
    color: int = 0
    notes: Sequence[str] = ()
    kinds: Sequence[str] = ()
    keys: Sequence[str] = ()
    """Per point, what it belongs to (a model): the marker's ``data-key``."""


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str
    anchor: str = "middle"
    """SVG ``text-anchor``: ``end`` for an x tick at the plot's right edge (not clipped)."""


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    note: str = ""
    kind: str = ""
    key: str = ""


@dataclass(frozen=True)
class DrawnLine:
    name: str
    label: str
    color: int
    points: str
    """SVG ``points``: ``x,y`` pairs separated by spaces."""
    drawn: int
    total: int
    markers: tuple[Marker, ...]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    lines: tuple[DrawnLine, ...]
    x_label: str
    y_label: str

    @property
    def empty(self) -> bool:
        return not any(line.drawn for line in self.lines)


def number_label(value: float, step: float) -> str:
    """As many decimals as the tick step needs."""
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{value:.{decimals}f}"


def time_label(value: float, step: float) -> str:
    """UTC clock time; seconds only when ticks are less than a minute apart."""
    at = datetime.fromtimestamp(value, UTC)
    if step >= 86_400:
        return at.strftime("%m-%d")
    return at.strftime("%H:%M:%S" if step < 60 else "%H:%M")


TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
TIME_STEPS_DAYS = 86_400


def nice_step(span: float, count: int = 5) -> float:
    """1, 2 or 5 times a power of ten, so that about ``count`` steps cover ``span``."""
    if span <= 0:
        return 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)  # not reached: raw <= 10 * power by definition of power


def time_step(span: float, count: int = 5) -> float:
    raw = span / count
    for step in TIME_STEPS:
        if raw <= step:
            return float(step)
    return float(TIME_STEPS_DAYS * max(1, math.ceil(raw / TIME_STEPS_DAYS)))


def domain(
    values: Sequence[float], fixed: tuple[float, float] | None, step_of: Callable[[float], float]
) -> tuple[float, float, float]:
    """``(low, high, step)``: ``fixed`` if given, else the values' range widened to whole
    steps (a single value gets a range around it)."""
    if fixed is not None:
        low, high = fixed
        return low, high, step_of(high - low)
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = step_of(high - low)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def ticks(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def thin(
    points: Sequence[tuple[float, float]], limit: int = MAX_DRAWN
) -> list[tuple[float, float]]:
    """At most ``limit`` points: every point when they fit, else the first and last point
    and, per bucket of consecutive points, its lowest and highest (in their order)."""
    if len(points) <= limit:
        return list(points)
    inner = points[1:-1]
    buckets = max(1, (limit - 2) // 2)
    size = math.ceil(len(inner) / buckets)
    kept: list[tuple[float, float]] = [points[0]]
    for start in range(0, len(inner), size):
        bucket = inner[start : start + size]
        lo = min(range(len(bucket)), key=lambda i: bucket[i][1])
        hi = max(range(len(bucket)), key=lambda i: bucket[i][1])
        kept += [bucket[i] for i in sorted({lo, hi})]
    kept.append(points[-1])
    return kept


def line_chart(
    lines: Sequence[Line],
    *,
    x_label: str = "step",
    y_label: str = "",
    y_domain: tuple[float, float] | None = None,
    time_axis: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """Every line in one plot box with shared axes. ``time_axis``: x values are POSIX
    seconds, ticked at clock-friendly steps and labelled in UTC."""
    left, top, right, bottom = LEFT, TOP, width - RIGHT, height - BOTTOM
    xs = [x for line in lines for x, _ in line.points]
    ys = [y for line in lines for _, y in line.points]
    if not xs:
        return Chart(width, height, left, top, right, bottom, (), (), (), x_label, y_label)
    x_step_of = time_step if time_axis else nice_step
    x_low, x_high, x_step = domain(xs, None, x_step_of)
    if time_axis:  # clock ticks: start at the data, not at a rounded-down hour
        x_low, x_high = min(xs), max(xs)
        if x_low == x_high:
            x_low, x_high = x_low - 30, x_high + 30
        x_step = time_step(x_high - x_low)
    y_low, y_high, y_step = domain(ys, y_domain, nice_step)

    def sx(x: float) -> float:
        return left + (x - x_low) / (x_high - x_low) * (right - left)

    def sy(y: float) -> float:
        return bottom - (y - y_low) / (y_high - y_low) * (bottom - top)

    x_format: Formatter = time_label if time_axis else number_label
    x_ticks = tuple(
        Tick(round(sx(v), 1), x_format(v, x_step), "end" if sx(v) > right - EDGE else "middle")
        for v in ticks(x_low, x_high, x_step)
    )
    y_ticks = tuple(
        Tick(round(sy(v), 1), number_label(v, y_step), "end") for v in ticks(y_low, y_high, y_step)
    )
    drawn = tuple(_draw(line, sx, sy) for line in lines)
    return Chart(width, height, left, top, right, bottom, x_ticks, y_ticks, drawn, x_label, y_label)


def _draw(line: Line, sx: Callable[[float], float], sy: Callable[[float], float]) -> DrawnLine:
    kept = thin(line.points)
    coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in kept)
    markers: tuple[Marker, ...] = ()
    if len(line.points) <= MARKERS_UP_TO:
        markers = tuple(
            Marker(
                round(sx(x), 1),
                round(sy(y), 1),
                _at(line.notes, i),
                _at(line.kinds, i),
                _at(line.keys, i),
            )
            for i, (x, y) in enumerate(line.points)
        )
    return DrawnLine(
        line.name,
        line.label,
        line.color % PALETTE,
        coords,
        len(kept),
        len(line.points),
        markers,
    )


def _at(values: Sequence[str], i: int) -> str:
    return values[i] if i < len(values) else ""
