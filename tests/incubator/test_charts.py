"""ecosystem/charts.py: chart geometry for inline SVG, and the accessible macros."""

from __future__ import annotations

import math

import pytest

from ecosystem.charts import bar_chart, compact_number, line_chart, nice_range, nice_step
from ecosystem.templating import environment


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (10, 2),
        (7, 2),
        (1, 0.2),
        (100, 20),
        (2_500_000, 500_000),
        (3_000_000, 1_000_000),
        (0.05, 0.01),
        (0, 1),
    ],
)
def test_nice_steps(span, step):
    assert math.isclose(nice_step(span), step)


def test_nice_range_includes_zero_and_the_data():
    assert nice_range(3, 97) == (0, 100, 20)
    start, stop, step = nice_range(-12, 40)
    assert start <= -12 and stop >= 40 and start % step == 0
    assert nice_range(5, 5) == (0, 5, 1)


def test_compact_numbers():
    assert [compact_number(v) for v in (0, 12, 1500, 2_000_000, 3_250_000_000, -4500, 0.25)] == [
        "0", "12", "1.5k", "2M", "3.2B", "-4.5k", "0.25",
    ]  # fmt: skip


def test_a_line_chart_maps_values_into_the_plot_and_leaves_gaps():
    chart = line_chart(
        ["2026-01", "2026-02", "2026-03", "2026-04"], [("Revenue", [0, 50, None, 100])]
    )
    points = chart.series[0].points
    assert points[0].x == chart.plot_left and points[-1].x == chart.plot_right
    assert points[0].y == chart.plot_bottom  # zero sits on the axis
    assert points[3].y == chart.plot_top  # the maximum touches the top (a round 100)
    assert points[1].y == pytest.approx((chart.plot_top + chart.plot_bottom) / 2)
    path = chart.series[0].path
    assert path.count("M") == 2 and path.count("L") == 1  # the gap breaks the line
    assert [t.label for t in chart.y_ticks] == ["0", "20", "40", "60", "80", "100"]
    assert [t.label for t in chart.x_ticks] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert not chart.empty


def test_many_categories_get_thinned_labels_and_one_point_is_centred():
    months = [f"2025-{m:02d}" for m in range(1, 13)] + [f"2026-{m:02d}" for m in range(1, 13)]
    chart = line_chart(months, [("Users", list(range(24)))])
    assert len(chart.x_ticks) <= 9 and chart.x_ticks[0].label == "2025-01"
    single = line_chart(["2026-10"], [("Users", [7])])
    assert single.series[0].points[0].x == (single.plot_left + single.plot_right) / 2
    assert line_chart(["a"], [("x", [None])]).empty
    with pytest.raises(ValueError):
        line_chart(["a", "b"], [("x", [1])])


def test_bars_stand_on_the_zero_line():
    chart = bar_chart([("MVP", 4), ("Growth", 2), ("Loss", -1)])
    zero = next(t.position for t in chart.y_ticks if t.label == "0")
    mvp, growth, loss = chart.bars
    assert mvp.y + mvp.height == pytest.approx(zero)
    assert mvp.height == pytest.approx(2 * growth.height)
    assert loss.y == pytest.approx(zero) and loss.height > 0
    assert all(b.x + b.width <= chart.plot_right for b in chart.bars)


def test_the_macros_are_accessible_with_a_data_table():
    chart = line_chart(["2026-09", "2026-10"], [("Revenue", [10, 20])])
    macros = environment.get_template("_charts.html").module
    html = str(macros.line_chart(chart, "Revenue per period", "Data table", id="c1"))
    assert 'role="img"' in html and 'aria-label="Revenue per period"' in html
    assert "<title>Revenue per period</title>" in html
    assert "<table>" in html and '<th scope="row">2026-10</th><td>20</td>' in html
    assert 'data-label="2026-10"' in html
    bars = str(
        macros.bar_chart(
            bar_chart([("MVP", 3)]), "By stage", "Data table", value_heading="Startups"
        )
    )
    assert 'role="img"' in bars and "<rect" in bars and "<td>3.0</td>" in bars
    escaped = str(macros.line_chart(chart, '<script>"x"</script>', "t"))
    assert "<script>" not in escaped
