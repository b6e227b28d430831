"""Chart geometry for server-rendered inline SVG (no JavaScript, no charting library).

Pure functions: data in, coordinates and tick labels out. `templates/_charts.html` draws
them as accessible SVG (role="img", an aria-label, and a data table fallback). Any package
may use them: KPI time series, usage per month, scores per criterion.

Coordinates are in the SVG's own user units (`viewBox="0 0 width height"`), so the chart
scales to any screen width – and text scales with it: whether two labels overlap depends on
user units only, so labels are spaced (or wrapped, or thinned) here, by their estimated
width, and never overlap at any window size.

Numbers on axes are Babel's compact form in the viewer's language (vi "100 Tr", "1,5 T";
en "100M", "1.5B"); dates on a time axis are Babel's month names. A time axis places each
point at its date, so a missing month leaves a gap (and breaks the line).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from babel.dates import format_skeleton
from babel.numbers import format_compact_decimal

from ecosystem.i18n import get_locale

DEFAULT_WIDTH = 640
DEFAULT_HEIGHT = 260
PADDING = (16, 28, 36, 64)  # top, right, bottom, left (room for the tick labels)
# static/charts.css draws text at 13 units, 17 on a phone (where the SVG shrinks to ~350 px,
# so text stays readable); label room is measured for the larger size, which fits both.
FONT_SIZE = 17
LINE_HEIGHT = 18
CHAR_WIDTH = 0.62 * FONT_SIZE  # an upper estimate of a character's advance, in user units
LABEL_GAP = 10  # the least space between two x labels


@dataclass(frozen=True)
class Tick:
    position: float  # x for the x axis, y for the y axis
    label: str
    lines: tuple[str, ...] = ()  # the label as drawn, when wrapped onto several lines

    @property
    def drawn(self) -> tuple[str, ...]:
        return self.lines or (self.label,)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # the category (e.g. a period)
    value: float | None


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]
    path: str  # an SVG path "M x y L x y …"; gaps (None values) start a new segment
    css_class: str = ""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_right: float
    plot_bottom: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(p.value is not None for s in self.series for p in s.points) and not self.bars


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about `target_ticks` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, target_ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude  # pragma: no cover (the loop always returns)


def nice_range(
    low: float, high: float, target_ticks: int = 5, whole: bool = False
) -> tuple[float, float, float]:
    """(start, stop, step): a range covering [low, high] with round ends; 0 is included.
    With `whole` (counts, whole amounts) the step is a whole number: a count of one gets
    0–1, never 0–0.2–0.4…"""
    low, high = min(low, 0.0), max(high, 0.0)
    if low == high:
        high = low + 1
    step = nice_step(high - low, target_ticks)
    if whole and step < 1:
        step = 1.0
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    return start, stop, step


def compact_number(value: float, locale: str | None = None) -> str:
    """A short tick label in the viewer's language, as Babel writes it: vi "1,5 T",
    "100 Tr"; en "1.5B", "100M"; small numbers as they are ("12", "0,25")."""
    return format_compact_decimal(
        value, format_type="short", locale=locale or get_locale(), fraction_digits=2
    )


def month_label(day: date, locale: str | None = None) -> str:
    """A month on a time axis in the viewer's language: vi "thg 3 2026", en "Mar 2026"."""
    return format_skeleton("yMMM", day, locale=locale or get_locale())


def text_width(text: str) -> float:
    """An upper estimate of the drawn width of `text` at FONT_SIZE, in user units."""
    return len(text) * CHAR_WIDTH


def wrap_label(text: str, width: float, max_lines: int = 2) -> tuple[str, ...]:
    """The label on at most `max_lines` lines of `width` (by words); a line still too long
    is cut with "…" (the full label stays in the title and the data table)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    fit = max(1, int(width // CHAR_WIDTH))
    return tuple(line if len(line) <= fit else line[: max(1, fit - 1)] + "…" for line in lines)


def _frame(width: int, height: int) -> tuple[float, float, float, float]:
    top, right, bottom, left = PADDING
    return left, top, width - right, height - bottom


def _y_axis(values: list[float], top: float, bottom: float):
    whole = all(float(v).is_integer() for v in values)
    start, stop, step = nice_range(min(values, default=0.0), max(values, default=0.0), whole=whole)

    def to_y(value: float) -> float:
        return round(bottom - (value - start) / (stop - start) * (bottom - top), 2)

    count = round((stop - start) / step)
    ticks = [
        Tick(to_y(start + i * step), compact_number(start + i * step)) for i in range(count + 1)
    ]
    return to_y, ticks


def _x_labels(categories: Sequence[str], positions: list[float], max_labels: int) -> list[Tick]:
    """Labels under evenly spaced points, every k-th one so that none overlaps another."""
    if not categories:
        return []
    widest = max(text_width(c) for c in categories) + LABEL_GAP
    spacing = (positions[-1] - positions[0]) / (len(positions) - 1) if len(positions) > 1 else 0
    every = max(1, math.ceil(len(categories) / max_labels))
    if spacing:
        every = max(every, math.ceil(widest / spacing))
    last = len(categories) - 1
    keep = [i for i in range(len(categories)) if i % every == 0]
    if last not in keep and positions[last] - positions[keep[-1]] >= widest:
        keep.append(last)
    return [Tick(positions[i], categories[i]) for i in keep]


def line_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    max_x_labels: int = 8,
) -> Chart:
    """Lines over shared categories (e.g. periods). A None value leaves a gap in its line."""
    for name, values in series:
        if len(values) != len(categories):
            raise ValueError(
                f"series {name!r} has {len(values)} values for {len(categories)} categories"
            )
    left, top, right, bottom = _frame(width, height)
    present = [float(v) for _n, values in series for v in values if v is not None]
    to_y, y_ticks = _y_axis(present, top, bottom)
    n = len(categories)
    if n == 1:
        xs = [round((left + right) / 2, 2)]
    else:
        xs = [round(left + i * (right - left) / max(1, n - 1), 2) for i in range(n)]
    drawn: list[Series] = []
    for index, (name, values) in enumerate(series):
        points = [
            Point(xs[i], to_y(float(v)) if v is not None else bottom, categories[i], v)
            for i, v in enumerate(values)
        ]
        parts: list[str] = []
        pen_down = False
        for point in points:
            if point.value is None:
                pen_down = False
                continue
            parts.append(f"{'L' if pen_down else 'M'}{point.x} {point.y}")
            pen_down = True
        drawn.append(Series(name, points, " ".join(parts), f"series-{index % 6}"))
    return Chart(
        width,
        height,
        left,
        top,
        right,
        bottom,
        _x_labels(categories, xs, max_x_labels),
        y_ticks,
        series=drawn,
        categories=list(categories),
    )


def time_chart(
    moments: Sequence[date],
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    gap_days: int = 45,
    locale: str | None = None,
) -> Chart:
    """Lines over real dates: each point sits at its date (`moments`, e.g. the first day of
    each period; `labels` name them in the data table and the points), so a missing month
    leaves a gap, and a line breaks where two present points are more than `gap_days`
    apart (or a value is None). The x axis has month ticks, as many as fit without overlap,
    named by Babel in the viewer's language."""
    if len(labels) != len(moments):
        raise ValueError("one label per moment")
    for name, values in series:
        if len(values) != len(moments):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(moments)} dates")
    left, top, right, bottom = _frame(width, height)
    present = [float(v) for _n, values in series for v in values if v is not None]
    to_y, y_ticks = _y_axis(present, top, bottom)
    first = min(moments, default=date(2000, 1, 1))
    last = max(moments, default=first)
    span = (last - first).days

    def to_x(day: date) -> float:
        if not span:
            return round((left + right) / 2, 2)
        return round(left + (day - first).days / span * (right - left), 2)

    drawn: list[Series] = []
    for index, (name, values) in enumerate(series):
        order = sorted(range(len(moments)), key=lambda i: moments[i])
        points = [
            Point(
                to_x(moments[i]),
                to_y(float(values[i])) if values[i] is not None else bottom,
                labels[i],
                values[i],
            )
            for i in order
        ]
        parts: list[str] = []
        previous: date | None = None
        for i, point in zip(order, points, strict=True):
            if point.value is None:
                previous = None
                continue
            joined = previous is not None and (moments[i] - previous).days <= gap_days
            parts.append(f"{'L' if joined else 'M'}{point.x} {point.y}")
            previous = moments[i]
        drawn.append(Series(name, points, " ".join(parts), f"series-{index % 6}"))
    # Month ticks: every k-th month from the first, k the least that keeps labels apart.
    months = []
    cursor = date(first.year, first.month, 1)
    while cursor <= last:
        months.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    names = [month_label(m, locale) for m in months]
    x_ticks: list[Tick] = []
    if len(months) == 1 or not span:
        x_ticks = [Tick(to_x(first), names[0])] if names else []
    elif months:
        widest = max(text_width(n) for n in names) + LABEL_GAP
        per_month = (right - left) * 28 / span  # the shortest month
        every = next(
            (k for k in (1, 2, 3, 4, 6, 12, 24, 60) if k * per_month >= widest),
            math.ceil(widest / per_month),
        )
        for i in range(0, len(months), every):
            x = to_x(months[i])
            if x >= left - 0.5:  # a month that starts before the first point is left out
                x_ticks.append(Tick(x, names[i]))
        # the last tick must not run off the plot's right edge
        while x_ticks and x_ticks[-1].position + text_width(x_ticks[-1].label) / 2 > width:
            x_ticks.pop()
    order = sorted(range(len(moments)), key=lambda i: moments[i])
    return Chart(
        width,
        height,
        left,
        top,
        right,
        bottom,
        x_ticks,
        y_ticks,
        series=drawn,
        categories=[labels[i] for i in order],
    )


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    gap: float = 0.25,
    max_x_labels: int = 12,
) -> Chart:
    """Vertical bars, one per (label, value); negative values hang below the zero line.
    Labels wider than their bar's slot wrap onto two lines (the chart grows to hold them),
    so two labels never overlap."""
    left, top, right, bottom = _frame(width, height)
    n = len(items)
    slot = (right - left) / n if n else 0
    lines = [wrap_label(str(label), slot - LABEL_GAP, max_lines=3) for label, _v in items]
    extra = (max((len(w) for w in lines), default=1) - 1) * LINE_HEIGHT
    height += extra
    values = [float(v) for _label, v in items]
    to_y, y_ticks = _y_axis(values, top, bottom)
    zero = to_y(0.0)
    bars: list[Bar] = []
    x_ticks: list[Tick] = []
    for i, (label, value) in enumerate(items):
        bar_width = round(slot * (1 - gap), 2)
        x = round(left + i * slot + slot * gap / 2, 2)
        y = to_y(float(value))
        bars.append(Bar(x, min(y, zero), bar_width, round(abs(zero - y), 2), label, float(value)))
        x_ticks.append(Tick(round(x + bar_width / 2, 2), label, lines[i]))
    every = max(1, math.ceil(n / max_x_labels)) if n else 1
    return Chart(
        width,
        height,
        left,
        top,
        right,
        bottom,
        x_ticks[::every],
        y_ticks,
        bars=bars,
        categories=[label for label, _v in items],
    )
