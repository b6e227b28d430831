"""Chart geometry for server-rendered inline SVG (no JavaScript, no charting library).

Pure functions: data in, coordinates and tick labels out. `templates/_charts.html` draws
them as accessible SVG (role="img", an aria-label, and a data table fallback). Any package
may use them: KPI time series, usage per month, scores per criterion.

Coordinates are in the SVG's own user units (`viewBox="0 0 width height"`), so the chart
scales to any screen width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

DEFAULT_WIDTH = 640
DEFAULT_HEIGHT = 260
PADDING = (16, 28, 36, 64)  # top, right, bottom, left (room for the tick labels)


@dataclass(frozen=True)
class Tick:
    position: float  # x for the x axis, y for the y axis
    label: str


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


def nice_range(low: float, high: float, target_ticks: int = 5) -> tuple[float, float, float]:
    """(start, stop, step): a range covering [low, high] with round ends; 0 is included."""
    low, high = min(low, 0.0), max(high, 0.0)
    if low == high:
        high = low + 1
    step = nice_step(high - low, target_ticks)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    return start, stop, step


def compact_number(value: float) -> str:
    """A short, locale-neutral tick label: 1.5k, 12M, 3B (Vietnamese readers know k/M/B)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return f"{sign}{text}{suffix}"
    if value == int(value):
        return f"{sign}{int(value)}"
    return f"{sign}{value:.2f}".rstrip("0").rstrip(".")


def _frame(width: int, height: int) -> tuple[float, float, float, float]:
    top, right, bottom, left = PADDING
    return left, top, width - right, height - bottom


def _y_axis(values: list[float], top: float, bottom: float):
    start, stop, step = nice_range(min(values, default=0.0), max(values, default=0.0))

    def to_y(value: float) -> float:
        return round(bottom - (value - start) / (stop - start) * (bottom - top), 2)

    count = round((stop - start) / step)
    ticks = [
        Tick(to_y(start + i * step), compact_number(start + i * step)) for i in range(count + 1)
    ]
    return to_y, ticks


def _x_labels(categories: Sequence[str], positions: list[float], max_labels: int) -> list[Tick]:
    if not categories:
        return []
    every = max(1, math.ceil(len(categories) / max_labels))
    last = len(categories) - 1
    return [
        Tick(positions[i], categories[i])
        for i in range(len(categories))
        if i % every == 0 or i == last and (last % every) >= every / 2
    ]


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


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    gap: float = 0.25,
    max_x_labels: int = 12,
) -> Chart:
    """Vertical bars, one per (label, value); negative values hang below the zero line."""
    left, top, right, bottom = _frame(width, height)
    values = [float(v) for _label, v in items]
    to_y, y_ticks = _y_axis(values, top, bottom)
    zero = to_y(0.0)
    n = len(items)
    slot = (right - left) / n if n else 0
    bars: list[Bar] = []
    centres: list[float] = []
    for i, (label, value) in enumerate(items):
        bar_width = round(slot * (1 - gap), 2)
        x = round(left + i * slot + slot * gap / 2, 2)
        y = to_y(float(value))
        bars.append(Bar(x, min(y, zero), bar_width, round(abs(zero - y), 2), label, float(value)))
        centres.append(round(x + bar_width / 2, 2))
    categories = [label for label, _v in items]
    return Chart(
        width,
        height,
        left,
        top,
        right,
        bottom,
        _x_labels(categories, centres, max_x_labels),
        y_ticks,
        bars=bars,
        categories=categories,
    )
