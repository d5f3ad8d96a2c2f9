"""Chart geometry: ticks at round numbers, larger values higher, every point drawn until a
line gets long, and then its spikes kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prefstream_ui_service.charts import (
    BOTTOM,
    HEIGHT,
    LEFT,
    MARKERS_UP_TO,
    MAX_DRAWN,
    RIGHT,
    TOP,
    WIDTH,
    Line,
    line_chart,
    nice_step,
    number_label,
    thin,
    ticks,
    time_label,
    time_step,
)


def coords(points: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in points.split())]


@pytest.mark.parametrize(
    ("span", "step"), [(1.0, 0.2), (0.07, 0.02), (120, 50), (7, 2), (1000, 200), (0.0, 1.0)]
)
def test_nice_steps_are_one_two_or_five_times_a_power_of_ten(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


def test_ticks_cover_the_range_at_whole_steps() -> None:
    assert ticks(0.0, 1.0, 0.25) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert ticks(0.3, 0.71, 0.2) == [0.4, 0.6]
    assert number_label(0.25, 0.05) == "0.25"
    assert number_label(120, 50) == "120"


def test_points_map_into_the_plot_box_larger_values_higher() -> None:
    chart = line_chart([Line("train_loss", "train loss", [(0, 0.7), (50, 0.4), (100, 0.2)])])
    (line,) = chart.lines
    (x0, y0), (x1, y1), (x2, y2) = coords(line.points)
    assert (chart.left, chart.right, chart.top, chart.bottom) == (
        LEFT,
        WIDTH - RIGHT,
        TOP,
        HEIGHT - BOTTOM,
    )
    assert x0 == pytest.approx(LEFT)
    assert x2 == pytest.approx(WIDTH - RIGHT)
    assert x1 == pytest.approx((x0 + x2) / 2, abs=0.1)
    assert y0 < y1 < y2  # 0.7 is drawn highest
    assert all(chart.top <= y <= chart.bottom for y in (y0, y1, y2))
    assert chart.y_ticks[0].label == "0.2"
    assert line.drawn == line.total == 3


def test_lines_share_the_axes() -> None:
    chart = line_chart(
        [Line("a", "a", [(0, 1.0), (10, 0.0)]), Line("b", "b", [(0, 0.5), (20, 0.5)], color=9)]
    )
    a, b = chart.lines
    assert coords(a.points)[0][0] == coords(b.points)[0][0]
    assert coords(b.points)[-1][0] == pytest.approx(chart.right)
    assert coords(a.points)[-1][0] == pytest.approx((chart.left + chart.right) / 2, abs=0.1)
    assert b.color == 1  # palette of 8 colours


def test_a_fixed_range_is_kept_and_one_point_still_draws() -> None:
    chart = line_chart([Line("acc", "acc", [(5, 0.5)])], y_domain=(0.0, 1.0))
    (line,) = chart.lines
    ((x, y),) = coords(line.points)
    assert y == pytest.approx((chart.top + chart.bottom) / 2, abs=0.1)
    assert chart.left < x < chart.right
    assert [t.label for t in chart.y_ticks] == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]


def test_an_empty_chart_has_no_lines_to_draw() -> None:
    assert line_chart([]).empty
    assert line_chart([Line("a", "a", [])]).empty


def test_few_points_get_markers_with_their_notes() -> None:
    short = line_chart([Line("v", "v", [(1, 1.0), (2, 2.0)], notes=["one", "two"], kinds=["x"])])
    assert [(m.note, m.kind) for m in short.lines[0].markers] == [("one", "x"), ("two", "")]
    long = line_chart([Line("t", "t", [(i, float(i)) for i in range(MARKERS_UP_TO + 1)])])
    assert long.lines[0].markers == ()


def test_long_lines_keep_first_last_and_each_buckets_extremes() -> None:
    points = [(float(i), 1.0) for i in range(10 * MAX_DRAWN)]
    points[4321] = (4321.0, 50.0)  # a spike
    points[7000] = (7000.0, -50.0)
    kept = thin(points)
    assert len(kept) <= MAX_DRAWN
    assert kept[0] == points[0]
    assert kept[-1] == points[-1]
    assert (4321.0, 50.0) in kept
    assert (7000.0, -50.0) in kept
    assert [x for x, _ in kept] == sorted(x for x, _ in kept)
    chart = line_chart([Line("t", "t", points)])
    assert chart.lines[0].drawn == len(kept)
    assert chart.lines[0].total == len(points)
    assert thin(points[:MAX_DRAWN]) == points[:MAX_DRAWN]


def test_a_time_axis_ticks_at_clock_steps_in_utc() -> None:
    start = datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp()
    chart = line_chart(
        [Line("random", "vs random", [(start, 0.4), (start + 600, 0.6)])],
        time_axis=True,
        y_domain=(0.0, 1.0),
    )
    assert time_step(600) == 120
    assert [t.label for t in chart.x_ticks] == [
        "12:00",
        "12:02",
        "12:04",
        "12:06",
        "12:08",
        "12:10",
    ]
    assert [t.anchor for t in chart.x_ticks][-2:] == ["middle", "end"]  # the last is not clipped
    assert time_label(start + 5, 5) == "12:00:05"
    assert time_label(start, 86_400) == "06-01"
