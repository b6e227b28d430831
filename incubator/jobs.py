"""Background jobs and cron entries of the incubator.

`report_scheduler` opens the KPI report requests the programmes' schedules ask for and sends
reminders (before and after the due date, escalation to mentors). It is a thin wrapper
around `incubator.services.reports.run_scheduler(now)`, which tests call with a frozen time;
unique keys make every run idempotent, also two at once.
"""

from __future__ import annotations

from typing import Any

from tortoise import timezone

from ecosystem.jobs import cron
from incubator.services.reports import run_scheduler


async def report_scheduler(ctx: dict[str, Any]) -> dict[str, Any]:
    run = await run_scheduler(timezone.now())
    return {
        "opened": run.opened,
        "moved": run.moved,
        "cancelled": run.cancelled,
        "reminders": dict(run.reminders),
    }


JOBS: list = [report_scheduler]
CRON_JOBS: list = [
    # Hourly at :10 (local time): requests open and reminders go out on the right local day.
    cron(report_scheduler, minute={10}, second=0),
]
