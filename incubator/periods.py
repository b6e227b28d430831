"""Report periods and the report schedule, as pure functions of dates (no I/O).

A period is `YYYY-MM` (a month) or `YYYY-Qn` (a quarter). The scheduler asks `expected`
which requests should exist on a local day, and `reminders_due` which reminders a request
has earned; the database's unique keys make acting on the answers idempotent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def quarter_of(day: date) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def bounds(period: str) -> tuple[date, date] | None:
    """[first day, day after the last) of a period, or None when it is not a period."""
    if match := MONTH.match(period):
        start = date(int(match.group(1)), int(match.group(2)), 1)
        return start, add_months(start, 1)
    if match := QUARTER.match(period):
        start = date(int(match.group(1)), (int(match.group(2)) - 1) * 3 + 1, 1)
        return start, add_months(start, 3)
    return None


def is_period(period: str) -> bool:
    return bounds(period) is not None


def months_between(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` inclusive (both YYYY-MM)."""
    start, end = bounds(first), bounds(last)
    if start is None or end is None or start[0] > end[0]:
        return []
    months, day = [], start[0]
    while day <= end[0]:
        months.append(month_of(day))
        day = add_months(day, 1)
    return months


def period_contains(outer_from: str, outer_to: str, period: str) -> bool:
    """Is `period` (a month or a quarter) inside [outer_from, outer_to] (months)?"""
    inner, low, high = bounds(period), bounds(outer_from), bounds(outer_to)
    if not (inner and low and high):
        return False
    return low[0] <= inner[0] and inner[1] <= high[1]


@dataclass(frozen=True)
class ScheduleConfig:
    kind: str  # monthly | quarterly | one_off | milestone | none
    due_days: int = 10
    one_off_period: str = ""
    one_off_due_on: date | None = None
    remind_days_before: int = 3
    remind_days_after: int = 2
    escalate_days_after: int = 7

    @classmethod
    def of(cls, programme: Any) -> ScheduleConfig:
        """The schedule a programme (`incubator.models.Programme`) asks its startups for."""
        kind = programme.schedule
        return cls(
            kind=kind.value if hasattr(kind, "value") else kind,
            due_days=programme.due_days,
            one_off_period=programme.one_off_period,
            one_off_due_on=programme.one_off_due_on,
            remind_days_before=programme.remind_days_before,
            remind_days_after=programme.remind_days_after,
            escalate_days_after=programme.escalate_days_after,
        )


@dataclass(frozen=True)
class Expected:
    period: str
    period_start: date
    due_on: date


def expected(
    config: ScheduleConfig,
    today: date,
    enrolled_on: date,
    milestone_due_days: list[date] = (),  # type: ignore[assignment]
) -> list[Expected]:
    """The requests that should exist for one enrolment on `today` (local date).

    Monthly and quarterly: the period that ended most recently, if the startup was enrolled
    before it ended; it is due `due_days` after the period's end. One-off: the programme's
    one period with its due date. Milestone: the month of each milestone already due, due
    `due_days` after the milestone.
    """
    found: list[Expected] = []
    if config.kind == "monthly":
        start = add_months(date(today.year, today.month, 1), -1)
        end = add_months(start, 1)
        if enrolled_on < end:
            found.append(
                Expected(month_of(start), start, end + timedelta(days=config.due_days - 1))
            )
    elif config.kind == "quarterly":
        this_quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        start = add_months(this_quarter, -3)
        if enrolled_on < this_quarter:
            found.append(
                Expected(
                    quarter_of(start), start, this_quarter + timedelta(days=config.due_days - 1)
                )
            )
    elif config.kind == "one_off":
        span = bounds(config.one_off_period)
        if span and config.one_off_due_on:
            found.append(Expected(config.one_off_period, span[0], config.one_off_due_on))
    elif config.kind == "milestone":
        seen: set[str] = set()
        for due in sorted(milestone_due_days):
            if due <= today and due >= enrolled_on and month_of(due) not in seen:
                seen.add(month_of(due))
                start = date(due.year, due.month, 1)
                found.append(Expected(month_of(due), start, due + timedelta(days=config.due_days)))
    return found


# Most urgent first: a run sends at most the most urgent unsent kind of each request.
URGENCY = ("escalation", "overdue", "before", "opened")


def reminders_due(config: ScheduleConfig, due_on: date, today: date) -> list[str]:
    """The reminder kinds an open request has earned on `today`, most urgent first."""
    kinds = ["opened"]
    if today >= due_on - timedelta(days=config.remind_days_before):
        kinds.append("before")
    if today >= due_on + timedelta(days=config.remind_days_after):
        kinds.append("overdue")
    if today >= due_on + timedelta(days=config.escalate_days_after):
        kinds.append("escalation")
    return [kind for kind in URGENCY if kind in kinds]


def is_late(due_on: date, today: date, done_on: date | None) -> bool:
    """A milestone (or report) is late when it is not done by its due date."""
    if done_on is not None:
        return done_on > due_on
    return today > due_on
