"""Moving a booking to another slot of the same machine, within the machine's rules.

A move is one transaction on the booking's row, never a cancel plus a new booking, so the
booking keeps its id, payment, QR code and calendar entry, and nobody can take the old slot
while the new one turns out to be taken. It takes the three steps of every booking: gather
the facts (`facts.booking_facts` with `moving=`), decide (`rules.decide`, around
`labs.availability.check_booking`, plus "the price stays"), and write under the machine's
lock (`labs.services.lock`), where the new slot is checked against every active booking but
this one; the PostgreSQL exclusion constraint still guards the UPDATE.

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

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound
from ecosystem.i18n import _, format_dt
from ecosystem.models import User
from ecosystem.services import audit
from labs import permissions
from labs.availability import cancellation_deadline, may_reschedule
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus
from labs.services import facts, lock, notices, rules
from labs.services.facts import BookingCase
from labs.services.prices import Price


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
    if not is_staff:
        _ensure_owner_may_move(booking, now)

    window = facts.check_times(start, end)
    owner = await User.get(id=booking.user_id)  # type: ignore[attr-defined]
    # 1. gather (the booking's own minutes left out of the quota), 2. decide.
    case = await facts.booking_facts(owner, equipment, window, moving=booking, now=now)
    keep_price = Price(booking.price_amount, booking.price_currency, booking.price_category)
    rules.decide(case, keep_price)

    previous = (booking.starts_at, booking.ends_at)
    status = booking.status  # a hold waiting for its payment stays a hold
    if equipment.requires_approval and not is_staff and status == BookingStatus.CONFIRMED:
        status = BookingStatus.PENDING
    try:
        async with atomic():
            await _move_under_lock(case, keep_price, status, now)
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
            await lock.offer_freed_slot(f"waitlist-after-move:{booking.id}:{now.timestamp()}")
            await booking.refresh_from_db()
            booking.equipment = equipment
            if booking.status != BookingStatus.PENDING_PAYMENT:  # a hold was never announced
                # The booker's mail with the moved .ics (SEQUENCE raised), after the commit.
                await notices.booking_moved(
                    booking, owner, previous_start=previous[0], by_staff=not is_owner
                )
    except IntegrityError as exc:
        if lock.is_overlap_violation(exc):
            raise lock.conflict() from exc
        raise
    return booking


def _ensure_owner_may_move(booking: Booking, now: datetime) -> None:
    """The owner moves a booking until the cancellation deadline of its current start."""
    machine_rules = facts.rules_of(booking.equipment)
    if may_reschedule(machine_rules, booking.starts_at, now):
        return
    deadline = cancellation_deadline(machine_rules, booking.starts_at)
    message = _(
        "Bookings on this machine can be moved until %(n)d hours before the start "
        "(here until %(at)s). Ask the lab's staff.",
        n=machine_rules.cancellation_deadline_hours,
        at=format_dt(deadline, "short", booking.equipment.lab.timezone),
    )
    raise Invalid(message, code="cancellation_deadline")


async def _move_under_lock(
    case: BookingCase, keep_price: Price, status: BookingStatus, now: datetime
) -> None:
    """3. Write under the machine's lock: decide again with the quota re-read, refuse a slot
    taken by another active booking, move the row (Conflict if it stopped being active)."""
    booking, window = case.moving, case.window
    assert booking is not None
    await lock.lock_in_service(case.equipment.id)
    rules.decide(await facts.with_fresh_quota(case), keep_price)
    if await lock.slot_taken(case.equipment.id, window, except_id=booking.id):
        raise lock.conflict()
    moved = await Booking.filter(id=booking.id, status__in=list(ACTIVE_BOOKING_STATUSES)).update(
        starts_at=window.start,
        ends_at=window.end,
        status=status,
        updated_at=now,
        sequence=F("sequence") + 1,
    )
    if not moved:  # cancelled or decided meanwhile
        raise Conflict(
            _("Only pending or confirmed bookings can be moved."), code="not_reschedulable"
        )
