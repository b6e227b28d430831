"""incubator/periods.py: periods, the schedule's expected requests, reminders earned."""

from __future__ import annotations

from datetime import date

import pytest

from incubator.periods import (
    ScheduleConfig,
    bounds,
    expected,
    is_late,
    months_between,
    period_contains,
    reminders_due,
)


def test_bounds_of_months_and_quarters():
    assert bounds("2026-10") == (date(2026, 10, 1), date(2026, 11, 1))
    assert bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert bounds("2026-Q4") == (date(2026, 10, 1), date(2027, 1, 1))
    for bad in ("2026-13", "2026-Q5", "October", "2026-1", ""):
        assert bounds(bad) is None
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert period_contains("2026-01", "2026-06", "2026-Q2")
    assert not period_contains("2026-01", "2026-05", "2026-Q2")


@pytest.mark.parametrize(
    ("kind", "today", "enrolled", "periods"),
    [
        ("monthly", date(2026, 11, 1), date(2026, 1, 1), [("2026-10", date(2026, 11, 10))]),
        ("monthly", date(2026, 1, 15), date(2025, 6, 1), [("2025-12", date(2026, 1, 10))]),
        ("monthly", date(2026, 11, 1), date(2026, 11, 1), []),  # enrolled after October
        ("quarterly", date(2026, 10, 2), date(2026, 1, 1), [("2026-Q3", date(2026, 10, 10))]),
        ("quarterly", date(2026, 1, 1), date(2025, 1, 1), [("2025-Q4", date(2026, 1, 10))]),
        ("none", date(2026, 11, 1), date(2026, 1, 1), []),
    ],
)
def test_expected_requests(kind, today, enrolled, periods):
    found = expected(ScheduleConfig(kind, due_days=10), today, enrolled)
    assert [(e.period, e.due_on) for e in found] == periods


def test_one_off_and_milestone_schedules():
    one_off = ScheduleConfig("one_off", one_off_period="2026-Q4", one_off_due_on=date(2027, 1, 5))
    assert [
        (e.period, e.period_start, e.due_on)
        for e in expected(one_off, date(2026, 11, 3), date(2026, 1, 1))
    ] == [("2026-Q4", date(2026, 10, 1), date(2027, 1, 5))]
    milestone = ScheduleConfig("milestone", due_days=7)
    dues = [date(2026, 9, 30), date(2026, 9, 2), date(2026, 11, 20), date(2026, 12, 1)]
    found = expected(milestone, date(2026, 11, 25), date(2026, 1, 1), dues)
    assert [(e.period, e.due_on) for e in found] == [
        ("2026-09", date(2026, 9, 9)),  # two in September: one request
        ("2026-11", date(2026, 11, 27)),
    ]


def test_reminders_earned_most_urgent_first():
    config = ScheduleConfig(
        "monthly", remind_days_before=3, remind_days_after=2, escalate_days_after=7
    )
    due = date(2026, 11, 10)
    assert reminders_due(config, due, date(2026, 11, 1)) == ["opened"]
    assert reminders_due(config, due, date(2026, 11, 7)) == ["before", "opened"]
    assert reminders_due(config, due, date(2026, 11, 11)) == ["before", "opened"]
    assert reminders_due(config, due, date(2026, 11, 12)) == ["overdue", "before", "opened"]
    assert reminders_due(config, due, date(2026, 11, 17))[0] == "escalation"


def test_lateness():
    assert is_late(date(2026, 5, 1), date(2026, 5, 2), None)
    assert not is_late(date(2026, 5, 1), date(2026, 5, 1), None)
    assert is_late(date(2026, 5, 1), date(2026, 4, 1), date(2026, 5, 3))
    assert not is_late(date(2026, 5, 1), date(2026, 6, 1), date(2026, 4, 30))
