"""The personal dashboard (`/dashboard`) and the public ecosystem dashboard (`/ecosystem`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ecosystem import charts
from ecosystem.errors import Invalid
from ecosystem.i18n import gettext
from ecosystem.inputs import optional_date
from ecosystem.labels import LABELS, humanise
from ecosystem.labels import label as kernel_label
from ecosystem.packages import DomainPackage
from ecosystem.services import dashboard, indicators
from ecosystem.templating import render_fragment
from ecosystem.web import load_switcher, render, require_user


async def personal(request: Request) -> Response:
    user = await require_user(request)
    panels = await dashboard.panels_for(user, request.app.state.packages)
    await load_switcher(request)  # the fragments see the page's user and organisations
    rendered = [
        (panel, render_fragment(request, panel.template, panel.context)) for panel in panels
    ]
    return await render(request, "ecosystem/dashboard.html", {"panels": rendered})


# --- the ecosystem dashboard ---------------------------------------------------------------


@dataclass
class Bar:
    label: str
    value: float
    share: float  # of the largest value, 0–100


@dataclass
class Figure:
    """One indicator as the page shows it: a number, bars, a monthly chart, or a table."""

    key: str
    title: str
    kind: str  # number | bars | monthly | table
    value: Any = None
    bars: list[Bar] = field(default_factory=list)
    chart: charts.Chart | None = None
    suppressed: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[Any]]] = field(default_factory=list)


@dataclass
class Section:
    name: str
    figures: list[Figure]


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _figure(key: str, title: str, value: Any, titles: dict[str, str]) -> Figure | None:
    def label(name: Any) -> str:
        """A grouped value's key as people read it: the package's title, else the kernel's;
        anything else is a name people gave (a site, a track) and is shown as given."""
        name = str(name)
        if name in titles:
            return gettext(titles[name])
        return kernel_label(name) if name in LABELS else name

    if _is_number(value):
        return Figure(key, title, "number", value=value)
    if isinstance(value, dict) and all(_is_number(v) for v in value.values()):
        suppressed = [label(k) for k, v in value.items() if v is None]
        if _looks_monthly(value):  # a time series: columns over the months
            shown = [
                (f"{k[5:7]}/{k[2:4]}", float(v)) for k, v in sorted(value.items()) if v is not None
            ]
            chart = charts.bar_chart(shown, height=200) if shown else None
            return Figure(key, title, "monthly", chart=chart, suppressed=suppressed)
        present = [(label(k), float(v)) for k, v in value.items() if v is not None]
        top = max((v for _k, v in present), default=0.0) or 1.0
        bars = [Bar(name, v, round(100 * max(v, 0.0) / top, 1)) for name, v in present]
        return Figure(key, title, "bars", bars=bars, suppressed=suppressed)
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        columns = sorted({str(k) for inner in value.values() for k in inner})
        rows = [
            (label(str(name)), [inner.get(column) for column in columns])
            for name, inner in value.items()
        ]
        return Figure(key, title, "table", columns=[label(c) for c in columns], rows=rows)
    return None  # lists and other shapes: in the JSON and CSV only


def _looks_monthly(value: dict) -> bool:
    return bool(value) and all(len(str(k)) == 7 and str(k)[4] == "-" for k in value)


def _sections(payload: dict, packages: list[DomainPackage]) -> list[Section]:
    titles = {package.name: dict(package.indicator_titles) for package in packages}
    sections = []
    for name, values in payload["sections"].items():
        figures = []
        known = titles.get(name, {})
        for key, value in values.items():
            msgid = known.get(key)
            title = gettext(msgid) if msgid else humanise(key)
            figure = _figure(key, title, value, known)
            if figure is not None:
                figures.append(figure)
        if figures:
            sections.append(Section(name, figures))
    return sections


async def ecosystem_page(request: Request) -> Response:
    """Open indicators of labs, startups and contests, with charts (public)."""
    errors: dict[str, str] = {}
    status = 200
    try:
        period = indicators.parse_period(
            optional_date(request.query_params.get("from", ""), "from"),
            optional_date(request.query_params.get("to", ""), "to"),
        )
    except Invalid as exc:
        errors, status = exc.fields, exc.status_code
        period = indicators.default_period()
    payload = await indicators.indicators(period)
    context = {
        "period": period,
        "payload": payload,
        "generated_at": indicators.generated_at(payload),
        "sections": _sections(payload, request.app.state.packages),
        # A package is titled as in the menu (the kernel: "Partners").
        "section_titles": {
            package.name: gettext(package.nav_links[0][0])
            for package in request.app.state.packages
            if package.nav_links
        },
        "errors": errors,
        "licence": indicators.LICENCE,
    }
    return await render(request, "ecosystem/ecosystem.html", context, status)


routes = [
    Route("/dashboard", personal, methods=["GET"]),
    Route("/ecosystem", ecosystem_page, methods=["GET"]),
]
