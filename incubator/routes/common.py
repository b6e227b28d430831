"""Helpers shared by the incubator's HTML handlers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from ecosystem.charts import Chart, time_chart
from ecosystem.content import CONTENT_LOCALES, form_key
from ecosystem.i18n import format_number
from ecosystem.labels import N_
from ecosystem.web import render as _render
from incubator import periods
from incubator.services import applications, milestones, programmes, startups, texts


def labels() -> dict[str, Any]:
    return {
        "stage_labels": startups.STAGE_LABELS,
        "sector_labels": startups.SECTOR_LABELS,
        "schedule_labels": programmes.SCHEDULE_LABELS,
        "role_labels": programmes.ROLE_LABELS,
        "milestone_labels": milestones.STATUS_LABELS,
        "application_labels": applications.STATUS_LABELS,
        "applicant_status": applications.applicant_status,
        "recommendation_labels": applications.RECOMMENDATION_LABELS,
        "report_labels": REPORT_LABELS,
        "reminder_labels": REMINDER_LABELS,
        "read_channel_labels": READ_CHANNEL_LABELS,
        "fmt_value": format_value,
    }


REPORT_LABELS = {
    "open": N_("Open"),
    "draft": N_("Draft saved"),
    "submitted": N_("Submitted"),
    "skipped": N_("Skipped"),
    "cancelled": N_("Cancelled"),
}


REMINDER_LABELS = {
    "opened": N_("the period opened"),
    "before": N_("due soon"),
    "overdue": N_("overdue"),
    "escalation": N_("to the mentors"),
}


READ_CHANNEL_LABELS = {  # how a startup's figures were read (its read log)
    "web": N_("web page"),
    "api": N_("API"),
    "csv": N_("CSV download"),
    "xlsx": N_("Excel download"),
    "pitch": N_("pitch deck"),
    "update": N_("investor update"),
}


def format_value(value: Any, unit: str = "") -> str:
    if value is None or value == "":
        return "–"
    text = format_number(value)
    if unit == "VND":
        return f"{text} ₫"
    return text


async def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return await _render(request, template, {**labels(), **context}, status_code)


async def confirm_first(
    request: Request,
    form,
    *,
    question: str,
    button: str,
    cancel: str,
    again: str = "",
) -> HTMLResponse | None:
    """A destructive action asks first (a page that works without scripts): None once the
    person confirmed (`confirmed=yes`; with `again`, a second time: `confirmed=twice`), else
    the confirmation page that posts the same form again."""
    step = form.get("confirmed") if form is not None else None
    done = {"yes": 1, "twice": 2}.get(step if isinstance(step, str) else "", 0)
    if done >= (2 if again else 1):
        return None
    hidden = {
        k: v
        for k, v in (form.multi_items() if form is not None else [])
        if isinstance(v, str) and k not in ("csrf_token", "confirmed")
    }
    context = {
        "question": again if done == 1 else question,
        "button": button,
        "cancel": cancel,
        "action": request.url.path,
        "step": "twice" if done == 1 else "yes",
        "hidden": hidden,
    }
    return await render(request, "incubator/confirm.html", context)


def form_values(form, names) -> dict[str, str]:
    values = {}
    for name in names:
        value = form.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    return values


def text_values(form, limits) -> dict[str, str]:
    """The translatable inputs a staff form sent (incubator.services.texts): absent ones are
    left out, and a plain `name` counts as the main language's (`name__vi`), so the tabs show
    what was typed."""
    values: dict[str, str] = {}
    for name in texts.input_names(limits):
        value = form.get(name)
        if isinstance(value, str):
            values[name] = value.strip()
    locale = values.get("content_locale") or "vi"
    if locale in CONTENT_LOCALES:
        for field in limits:
            if field in values and form_key(field, locale) not in values:
                values[form_key(field, locale)] = values.pop(field)
    return values


def period_chart(
    series: list[tuple[str, list[tuple[str, float]]]], period: str = "month"
) -> Chart | None:
    """Lines of values per period ("2026-03", "2026-Q1") on a real time axis: each point at
    its period's first day, so a period with no value leaves a gap. One (name, points) per
    line; None when there is nothing to draw."""
    labels = sorted({p for _name, points in series for p, _v in points if periods.bounds(p)})
    if not labels:
        return None
    moments = [periods.bounds(p)[0] for p in labels]  # type: ignore[index]
    lines = []
    for name, points in series:
        values = dict(points)
        lines.append((name, [values.get(p) for p in labels]))
    gap = 100 if period == "quarter" else 45
    return time_chart(moments, labels, lines, gap_days=gap)
