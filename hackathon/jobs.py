"""Background jobs and cron entries of the contests.

Idempotent: each email is claimed by a conditional UPDATE (`notified_at`, `reminded_at`)
before it is sent, so a second run sends nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import timezone

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.jobs import cron
from hackathon.models import (
    Certificate,
    Contest,
    ContestRole,
    ContestRoleKind,
    JudgeAssignment,
)

REMIND_BEFORE = timedelta(hours=24)


async def send_results_notices(contest_id: int, now: datetime) -> int:
    """Tell every certificate holder that the results and their certificate are out."""
    contest = await Contest.get_or_none(id=contest_id)
    if contest is None or contest.results_published_at is None:
        return 0
    sent = 0
    for certificate in await Certificate.filter(
        contest_id=contest_id, notified_at=None
    ).select_related("user"):
        async with atomic():
            claimed = await Certificate.filter(id=certificate.id, notified_at=None).update(
                notified_at=now
            )
            if not claimed:
                continue
            await mail.send_mail(
                certificate.user.email,
                "hackathon_results",
                {"contest": contest, "certificate": certificate},
                certificate.user.locale,
                timezone=certificate.user.timezone,
            )
            sent += 1
    return sent


async def remind_judges(now: datetime) -> int:
    """A day before judging closes, remind each judge who still has entries to score."""
    now = now.astimezone(UTC)
    contests = await Contest.filter(
        results_published_at=None,
        judging_closes_at__gt=now,
        judging_closes_at__lte=now + REMIND_BEFORE,
    )
    sent = 0
    for contest in contests:
        roles = await ContestRole.filter(
            contest_id=contest.id, role=ContestRoleKind.JUDGE, active=True, reminded_at=None
        ).select_related("user")
        for role in roles:
            left = await JudgeAssignment.filter(
                round__contest_id=contest.id, judge_id=role.user.id, completed_at=None
            ).count()
            if not left:
                continue
            async with atomic():
                claimed = await ContestRole.filter(id=role.id, reminded_at=None).update(
                    reminded_at=now
                )
                if not claimed:
                    continue
                await mail.send_mail(
                    role.user.email,
                    "hackathon_judge_reminder",
                    {"contest": contest, "left": left},
                    role.user.locale,
                    timezone=role.user.timezone,
                )
                sent += 1
    return sent


async def notify_results(ctx: dict[str, Any], contest_id: int) -> int:
    return await send_results_notices(contest_id, timezone.now())


async def judge_reminders(ctx: dict[str, Any]) -> int:
    return await remind_judges(timezone.now())


JOBS: list = [notify_results, judge_reminders]
CRON_JOBS: list = [cron(judge_reminders, minute={7, 37})]
