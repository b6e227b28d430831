"""Background jobs and cron entries of the lab network.

Each job is a thin wrapper around a function taking `now`, so tests freeze time by calling
the function directly. All are idempotent: a second run at the same `now` changes nothing
and sends nothing (conditional UPDATEs decide who sends).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import timezone
from tortoise.expressions import Q

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.jobs import cron
from labs.models import Booking, BookingStatus
from labs.services import free_time, waitlist

REMINDER_LEADS = (timedelta(hours=24), timedelta(hours=1))
NO_SHOW_AFTER = timedelta(minutes=15)


def _mail_context(booking: Booking) -> dict[str, Any]:
    return {
        "booking": booking,
        "equipment": booking.equipment,
        "lab": booking.equipment.lab,
        "no_show_minutes": int(NO_SHOW_AFTER.total_seconds() // 60),
    }


def _reminder_due(booking: Booking, now: datetime) -> datetime | None:
    """The latest reminder mark (start − lead) already passed and not yet covered, or None.

    A mark counts only for a booking made before it (a booking made 3 h ahead gets the 1 h
    reminder, not an immediate "24 h" one).
    """
    for lead in sorted(REMINDER_LEADS):  # the nearest mark first
        mark = booking.starts_at - lead
        if mark <= now < booking.starts_at and booking.created_at < mark:
            if booking.reminded_at is None or booking.reminded_at < mark:
                return mark
            return None
    return None


async def send_reminders(now: datetime) -> int:
    """Email a reminder 24 h and 1 h before each confirmed booking. Returns emails sent."""
    now = now.astimezone(UTC)  # SQLite compares stored UTC text: never filter with +07:00
    horizon = now + max(REMINDER_LEADS)
    candidates = await Booking.filter(
        status=BookingStatus.CONFIRMED, starts_at__gt=now, starts_at__lte=horizon
    ).select_related("equipment__lab", "user")
    sent = 0
    for booking in candidates:
        mark = _reminder_due(booking, now)
        if mark is None:
            continue
        async with atomic():
            # Claim the reminder: only the run whose UPDATE matches sends it.
            claim = Booking.filter(id=booking.id, status=BookingStatus.CONFIRMED).filter(
                Q(reminded_at__isnull=True) | Q(reminded_at__lt=mark)
            )
            if not await claim.update(reminded_at=now):
                continue
            await mail.send_mail(
                booking.user.email,
                "labs_booking_reminder",
                _mail_context(booking),
                booking.user.locale,
                timezone=booking.user.timezone,
            )
            sent += 1
    return sent


async def mark_no_shows(now: datetime) -> int:
    """Confirmed bookings not checked in NO_SHOW_AFTER after their start become no-shows,
    which frees the rest of the slot (no_show is not an active status). The booking keeps
    its times. Returns the number marked."""
    now = now.astimezone(UTC)
    overdue = await Booking.filter(
        status=BookingStatus.CONFIRMED,
        checked_in_at__isnull=True,
        starts_at__lte=now - NO_SHOW_AFTER,
    ).select_related("equipment__lab", "user")
    marked = 0
    for booking in overdue:
        async with atomic():
            updated = await Booking.filter(
                id=booking.id, status=BookingStatus.CONFIRMED, checked_in_at__isnull=True
            ).update(status=BookingStatus.NO_SHOW, updated_at=now)
            if not updated:
                continue
            marked += 1
            if booking.ends_at > now:  # only worth telling while the slot still runs
                await mail.send_mail(
                    booking.user.email,
                    "labs_booking_no_show",
                    _mail_context(booking),
                    booking.user.locale,
                    timezone=booking.user.timezone,
                )
    return marked


async def process_waitlists(now: datetime) -> int:
    """Expire stale offers and offer freed slots to the next person. Returns offers made."""
    now = now.astimezone(UTC)
    offered = 0
    for equipment_id in await waitlist.machines_with_open_entries():
        offered += len(await waitlist.offer_next(equipment_id, now))
    return offered


# --- the jobs --------------------------------------------------------------------------


async def booking_reminders(ctx: dict[str, Any]) -> int:
    return await send_reminders(timezone.now())


async def no_shows(ctx: dict[str, Any]) -> int:
    return await mark_no_shows(timezone.now())


async def waitlist_offers(ctx: dict[str, Any]) -> int:
    return await process_waitlists(timezone.now())


async def free_time_refresh(ctx: dict[str, Any]) -> int:
    """The search's summary of free time: rows for the coming days, stale ones recomputed."""
    return await free_time.refresh(timezone.now())


JOBS: list = [booking_reminders, no_shows, waitlist_offers, free_time_refresh]
CRON_JOBS: list = [
    cron(booking_reminders, minute=set(range(0, 60, 5))),
    cron(no_shows, minute=set(range(0, 60, 5))),
    cron(waitlist_offers, minute=None),  # every minute
    cron(free_time_refresh, minute=None),
]
