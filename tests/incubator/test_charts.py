"""ecosystem/charts.py: chart geometry for inline SVG, and the accessible macros."""

from __future__ import annotations

import math

import pytest

from ecosystem.charts import (
    LABEL_GAP,
    bar_chart,
    compact_number,
    line_chart,
    nice_range,
    nice_step,
    text_width,
    time_chart,
)
from ecosystem.i18n import use_locale
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


def test_compact_numbers_are_babels_in_the_viewers_language():
    values = (0, 12, 1500, 2_000_000, 3_250_000_000, -4500, 0.25, 100_000_000, 1_500_000_000)
    assert [compact_number(v, "en") for v in values] == [
        "0", "12", "1.5K", "2M", "3.25B", "-4.5K", "0.25", "100M", "1.5B",
    ]  # fmt: skip
    assert [compact_number(v, "vi").replace("\xa0", " ") for v in values] == [
        "0", "12", "1,5 N", "2 Tr", "3,25 T", "-4,5 N", "0,25", "100 Tr", "1,5 T",
    ]  # fmt: skip
    with use_locale("vi"):
        chart = line_chart(["a", "b"], [("Revenue", [50_000_000, 100_000_000])])
    assert chart.y_ticks[-1].label.replace("\xa0", " ") == "100 Tr"


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
    assert 'role="img"' in bars and "<rect" in bars and "<td>3</td>" in bars
    escaped = str(macros.line_chart(chart, '<script>"x"</script>', "t"))
    assert "<script>" not in escaped


def _apart(ticks, gap: float = 0) -> bool:
    """No two x labels overlap (their estimated widths, centred on their positions)."""
    spans = sorted(
        (
            t.position - max(map(text_width, t.drawn)) / 2,
            t.position + max(map(text_width, t.drawn)) / 2,
        )
        for t in ticks
    )
    return all(a[1] + gap <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_one_value_gets_a_sensible_axis():
    """A one-startup cohort: 0–1 in whole steps, not 0–0.2–0.4–…–1."""
    assert nice_range(0, 1, whole=True) == (0, 1, 1)
    assert [t.label for t in bar_chart([("MVP", 1)]).y_ticks] == ["0", "1"]
    assert [t.label for t in bar_chart([("MVP", 0)]).y_ticks] == ["0", "1"]
    assert [t.label for t in line_chart(["2026-01"], [("Users", [3])]).y_ticks] == [
        "0", "1", "2", "3",
    ]  # fmt: skip
    one = line_chart(["2026-01"], [("Revenue", [350_000_000])])
    assert one.y_ticks[-1].position == one.plot_top and len(one.y_ticks) >= 3


def test_a_time_axis_puts_points_at_their_dates_and_a_missing_month_leaves_a_gap():
    from datetime import date

    months = [date(2026, m, 1) for m in (1, 2, 3, 5, 6)]  # April is missing
    labels = [f"2026-{m.month:02d}" for m in months]
    with use_locale("en"):
        chart = time_chart(months, labels, [("Revenue", [10, 20, 30, 50, 60])])
    xs = [p.x for p in chart.series[0].points]
    assert xs[0] == chart.plot_left and xs[-1] == chart.plot_right
    assert xs[3] - xs[2] > 1.8 * (xs[2] - xs[1])  # two months' room for March → May
    path = chart.series[0].path
    assert path.count("M") == 2 and path.count("L") == 3  # the line breaks at April
    assert chart.categories == labels
    names = [t.label for t in chart.x_ticks]
    assert names[0] == "Jan 2026" and "Apr 2026" in names  # the missing month is on the axis
    assert _apart(chart.x_ticks, LABEL_GAP - 1)
    with use_locale("vi"):
        vi = time_chart(months, labels, [("Revenue", [10, 20, 30, 50, 60])])
    assert vi.x_ticks[0].label == "thg 1 2026"
    single = time_chart([date(2026, 3, 1)], ["2026-03"], [("Users", [4])])
    assert single.series[0].points[0].x == (single.plot_left + single.plot_right) / 2
    assert len(single.x_ticks) == 1


@pytest.mark.parametrize("count", [2, 7, 13, 25, 61])
@pytest.mark.parametrize("locale", ["vi", "en", "ko"])
def test_month_labels_never_overlap(count, locale):
    from datetime import date

    months = [date(2020 + (m // 12), m % 12 + 1, 1) for m in range(count)]
    with use_locale(locale):
        chart = time_chart(months, [str(m) for m in months], [("x", list(range(count)))])
    assert chart.x_ticks and _apart(chart.x_ticks, LABEL_GAP - 1)
    assert all(
        chart.plot_left - 1 <= t.position and t.position + text_width(t.label) / 2 <= chart.width
        for t in chart.x_ticks
    )


def test_bar_labels_wrap_instead_of_overlapping():
    stages = [
        "Ý tưởng",
        "Nguyên mẫu",
        "Sản phẩm khả dụng tối thiểu",
        "Có doanh thu",
        "Tăng trưởng",
        "Mở rộng",
    ]
    chart = bar_chart([(s, i + 1) for i, s in enumerate(stages)])
    assert [t.label for t in chart.x_ticks] == stages  # every stage keeps its label
    assert _apart(chart.x_ticks)
    assert any(len(t.drawn) == 2 for t in chart.x_ticks)
    assert chart.height > 260  # room for the second line
    macros = environment.get_template("_charts.html").module
    html = str(macros.bar_chart(chart, "By stage", "Data table"))
    assert html.count("<tspan") == sum(len(t.drawn) for t in chart.x_ticks)
    many = line_chart([f"Nhóm {n}" for n in range(40)], [("x", list(range(40)))])
    assert _apart(many.x_ticks)
