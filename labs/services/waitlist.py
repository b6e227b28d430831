"""A waitlist on a busy slot: when it frees, the first waiting person whose window fits is
offered it for a limited time (OFFER_MINUTES), then the next.

Entry statuses: waiting → offered → taken | expired; waiting/offered → left. `offer_next`
runs from a cron job (`labs.jobs.process_waitlist`), so a slot freed by a cancellation, a
decline or a no-show is offered within a minute whatever freed it. Accepting calls the
booking service, so every booking rule (and the no-double-booking lock) applies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise import timezone
from tortoise.expressions import F

from ecosystem import mail
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound
from ecosystem.i18n import _
from ecosystem.models import User
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, Equipment, WaitlistEntry
from labs.services import bookings, facts, rules, schedule

OFFER_MINUTES = 30
WAITING, OFFERED, TAKEN, EXPIRED, LEFT = "waiting", "offered", "taken", "expired", "left"
OPEN_STATUSES = (WAITING, OFFERED)


async def join_waitlist(
    actor: User, equipment_id: int, start: datetime, end: datetime, purpose: str = ""
) -> WaitlistEntry:
    """Wait for `[start, end)` of a busy machine. Invalid `slot_free` if nothing overlaps
    (book it instead); Conflict `already_waiting` for a second overlapping entry."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise Invalid(_("Give a start and an end with their UTC offset."), code="invalid_window")
    window = schedule.utc_window(start, end)
    if window.start <= timezone.now():
        raise Invalid(_("This time is in the past."), code="in_past")
    equipment = await facts.get_bookable_equipment(actor, equipment_id)
    rules.ensure_verified_booker(actor)
    busy = await Booking.filter(
        equipment_id=equipment.id,
        status__in=list(ACTIVE_BOOKING_STATUSES),
        starts_at__lt=window.end,
        ends_at__gt=window.start,
    ).exists()
    if not busy:
        raise Invalid(_("This slot is free: book it directly."), code="slot_free")
    if await WaitlistEntry.exists(
        equipment_id=equipment.id,
        user_id=actor.id,
        status__in=list(OPEN_STATUSES),
        starts_at__lt=window.end,
        ends_at__gt=window.start,
    ):
        raise Conflict(_("You are already waiting for this time."), code="already_waiting")
    return await WaitlistEntry.create(
        equipment_id=equipment.id,
        user_id=actor.id,
        starts_at=window.start,
        ends_at=window.end,
        purpose=purpose.strip()[:500],
    )


async def leave_waitlist(actor: User, entry_id: int) -> None:
    updated = await WaitlistEntry.filter(
        id=entry_id, user_id=actor.id, status__in=list(OPEN_STATUSES)
    ).update(status=LEFT)
    if not updated and not await WaitlistEntry.exists(id=entry_id, user_id=actor.id):
        raise NotFound(_("No such waitlist entry."))


async def my_entries(user: User) -> list[WaitlistEntry]:
    return (
        await WaitlistEntry.filter(user_id=user.id)
        .select_related("equipment__lab")
        .order_by("-starts_at", "-id")
        .limit(100)
    )


async def _slot_free(entry: WaitlistEntry) -> bool:
    return not await Booking.filter(
        equipment_id=entry.equipment_id,  # type: ignore[attr-defined]
        status__in=list(ACTIVE_BOOKING_STATUSES),
        starts_at__lt=entry.ends_at,
        ends_at__gt=entry.starts_at,
    ).exists()


async def offer_next(equipment_id: int, now: datetime) -> list[WaitlistEntry]:
    """Expire stale offers of the machine, then offer each freed window to the first waiting
    person whose window fits (no active booking and no open offer overlapping it).

    Returns the entries offered now. Idempotent: an open offer blocks further offers of the
    same time until it is taken or expires.
    """
    now = now.astimezone(UTC)  # SQLite compares stored UTC text: never filter with +07:00
    offered: list[WaitlistEntry] = []
    async with atomic():
        # The machine's lock serialises this with bookings and other offer runs.
        await Equipment.filter(id=equipment_id).update(booking_version=F("booking_version"))
        await WaitlistEntry.filter(
            equipment_id=equipment_id, status=OFFERED, offer_expires_at__lte=now
        ).update(status=EXPIRED)
        await WaitlistEntry.filter(
            equipment_id=equipment_id, status=WAITING, starts_at__lte=now
        ).update(status=EXPIRED)
        entries = (
            await WaitlistEntry.filter(equipment_id=equipment_id, status__in=list(OPEN_STATUSES))
            .select_related("user", "equipment__lab")
            .order_by("created_at", "id")
        )
        holding = [e for e in entries if e.status == OFFERED]
        for entry in entries:
            if entry.status != WAITING:
                continue
            if any(o.starts_at < entry.ends_at and entry.starts_at < o.ends_at for o in holding):
                continue
            if not await _slot_free(entry):
                continue
            entry.status = OFFERED
            entry.offered_at = now
            entry.offer_expires_at = min(now + timedelta(minutes=OFFER_MINUTES), entry.starts_at)
            await entry.save(update_fields=["status", "offered_at", "offer_expires_at"])
            holding.append(entry)
            offered.append(entry)
            await mail.send_mail(
                entry.user.email,
                "labs_waitlist_offer",
                {
                    "entry": entry,
                    "equipment": entry.equipment,
                    "lab": entry.equipment.lab,
                    "user": entry.user,
                },
                entry.user.locale,
                timezone=entry.user.timezone,
            )
    return offered


async def machines_with_open_entries() -> list[int]:
    rows = (
        await WaitlistEntry.filter(status__in=list(OPEN_STATUSES))
        .distinct()
        .values_list("equipment_id", flat=True)
    )
    return sorted(set(rows))


async def accept_offer(actor: User, entry_id: int, now: datetime | None = None) -> Booking:
    """Take an offered slot: books it through the booking service (all rules apply)."""
    now = now or timezone.now()
    entry = await WaitlistEntry.get_or_none(id=entry_id, user_id=actor.id)
    if entry is None:
        raise NotFound(_("No such waitlist entry."))
    if entry.status != OFFERED or entry.offer_expires_at is None or entry.offer_expires_at <= now:
        raise Conflict(_("This offer is no longer open."), code="offer_closed")
    try:
        booking = await bookings.create_booking(
            actor,
            entry.equipment_id,  # type: ignore[attr-defined]
            entry.starts_at,
            entry.ends_at,
            entry.purpose,
        )
    except Conflict:
        await WaitlistEntry.filter(id=entry.id, status=OFFERED).update(status=EXPIRED)
        raise
    await WaitlistEntry.filter(id=entry.id).update(status=TAKEN)
    return booking
