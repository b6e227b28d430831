"""Moving a booking to another slot of the same machine, within the machine's rules.

A move is one transaction on the booking's row, never a cancel plus a new booking, so the
booking keeps its id, payment, QR code and calendar entry, and nobody can take the old slot
while the new one turns out to be taken. Under the machine's lock (see `bookings`), the new
slot is checked against every active booking but this one; the PostgreSQL exclusion
constraint still guards the UPDATE.

The rules: only an active booking moves; its owner may move it until the cancellation
deadline of its current start (moving is giving the slot back), the lab's staff at any
time; the new slot passes every booking rule, with the booking's own minutes left out of
the weekly quota; the price must stay the same (a longer slot costs more: cancel and book
again); a move on a machine that needs approval goes back to the staff.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from ecosystem import jobs
from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound
from ecosystem.i18n import _, format_dt, format_money
from ecosystem.models import User
from ecosystem.services import audit
from labs import permissions
from labs.availability import (
    ViolationCode,
    cancellation_deadline,
    check_booking,
    local_week,
    may_reschedule,
    whole_minutes,
)
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus, Equipment
from labs.services import bookings, notices, schedule


async def reschedule_booking(
    actor: User, booking_id: int, start: datetime, end: datetime, ip: str = ""
) -> Booking:
    """Move the booking to `[start, end)`, or raise why not (the same codes as booking)."""
    booking = await Booking.get_or_none(id=booking_id).select_related("equipment__lab")
    if booking is None:
        raise NotFound(_("No such booking."))
    equipment = booking.equipment
    is_owner = booking.user_id == actor.id  # type: ignore[attr-defined]
    is_staff = await permissions.allowed(actor, "lab.manage_bookings", equipment.lab)
    if not (is_owner or is_staff):
        raise NotFound(_("No such booking."))
    if booking.status not in ACTIVE_BOOKING_STATUSES:
        raise Conflict(
            _("Only pending or confirmed bookings can be moved."), code="not_reschedulable"
        )
    now = timezone.now()
    rules = bookings.rules_of(equipment)
    if not is_staff and not may_reschedule(rules, booking.starts_at, now):
        deadline = cancellation_deadline(rules, booking.starts_at)
        message = _(
            "Bookings on this machine can be moved until %(n)d hours before the start "
            "(here until %(at)s). Ask the lab's staff.",
            n=rules.cancellation_deadline_hours,
            at=format_dt(deadline, "short", equipment.lab.timezone),
        )
        raise Invalid(message, code="cancellation_deadline")

    window = bookings.check_times(start, end)
    owner = await User.get(id=booking.user_id)  # type: ignore[attr-defined]
    bookings.ensure_in_service(equipment)
    price = await bookings.price_quote(owner, equipment, window.start, window.end)
    if price.amount != booking.price_amount:
        message = _(
            "The new slot costs %(new)s instead of %(old)s: cancel this booking and book again.",
            new=format_money(price.amount, price.currency),
            old=format_money(booking.price_amount, booking.price_currency),
        )
        raise Invalid(message, fields={"end": message}, code="price_changed")
    tz = schedule.lab_timezone(equipment.lab)
    open_time = await schedule.lab_open_time(equipment.lab, window)
    blackouts = await schedule.blackouts_of(equipment.id, window)

    async def quota_minutes() -> int:
        used = await bookings.minutes_in_week(owner, equipment, window.start)
        if local_week(booking.starts_at, tz) == local_week(window.start, tz):
            used -= whole_minutes(booking.ends_at - booking.starts_at)
        return max(used, 0)

    violations = check_booking(
        rules, window.start, window.end, now, tz, open_time, blackouts, await quota_minutes()
    )
    bookings.raise_violations(violations, equipment)

    previous = (booking.starts_at, booking.ends_at)
    status = booking.status  # a hold waiting for its payment stays a hold
    if equipment.requires_approval and not is_staff and status == BookingStatus.CONFIRMED:
        status = BookingStatus.PENDING
    try:
        async with atomic():
            if not await bookings.lock_machine(equipment.id):  # out of service since loaded
                current = await Equipment.get_or_none(id=equipment.id)
                if current is None:
                    raise NotFound(_("No such machine."))
                bookings.ensure_in_service(current)
            if equipment.weekly_quota_minutes is not None:
                quota = check_booking(
                    rules,
                    window.start,
                    window.end,
                    now,
                    tz,
                    open_time,
                    blackouts,
                    await quota_minutes(),
                )
                bookings.raise_violations(
                    [v for v in quota if v.code == ViolationCode.QUOTA], equipment
                )
            taken = (
                await Booking.filter(
                    equipment_id=equipment.id,
                    status__in=list(ACTIVE_BOOKING_STATUSES),
                    starts_at__lt=window.end,
                    starts_at__gt=window.start - schedule.MAX_BOOKING_SPAN,
                    ends_at__gt=window.start,
                )
                .exclude(id=booking.id)
                .exists()
            )
            if taken:
                raise bookings.conflict()
            moved = await Booking.filter(
                id=booking.id, status__in=list(ACTIVE_BOOKING_STATUSES)
            ).update(
                starts_at=window.start,
                ends_at=window.end,
                status=status,
                updated_at=now,
                sequence=F("sequence") + 1,
            )
            if not moved:  # cancelled or decided meanwhile
                raise Conflict(
                    _("Only pending or confirmed bookings can be moved."),
                    code="not_reschedulable",
                )
            await audit.record(
                "booking.rescheduled",
                actor=actor,
                target=booking,
                ip=ip,
                previous_start=previous[0].isoformat(),
                previous_end=previous[1].isoformat(),
                by_staff=not is_owner,
            )
            # The old slot is free now: the first waiting user is offered it.
            await jobs.enqueue(
                bookings.WAITLIST_JOB, job_id=f"waitlist-after-move:{booking.id}:{now.timestamp()}"
            )
    except IntegrityError as exc:
        if bookings.is_overlap_violation(exc):
            raise bookings.conflict() from exc
        raise
    await booking.refresh_from_db()
    booking.equipment = equipment
    if not is_owner:  # the booker hears of what the staff did to their booking
        await notices.booking_changed_by_staff(
            booking, owner, cancelled=False, previous_start=previous[0]
        )
    return booking
