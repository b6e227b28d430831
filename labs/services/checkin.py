"""Checking people in at the lab (by the booking's QR code or by hand), out, and no-shows.

Only staff of the booking's lab may do any of this. Check-in is open from
`CHECK_IN_EARLY` before the start until the end of the booking.

While a booking runs, staff may extend it (when the machine is free, open and not blacked out
after it) or, at check-out, end it early: the booking's end becomes the real end (usage figures
and the agenda say so) and the rest of the slot is offered to the waitlist at once. The price
stays as booked in both cases: the lab's pricing has no rule for extensions or early ends, so
any extra time is settled at the desk (a booking's payment and ledger lines are never
rewritten here).
"""

from __future__ import annotations

from datetime import timedelta

import qrcode
from qrcode.image.svg import SvgPathImage
from tortoise import timezone
from tortoise.expressions import F

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound
from ecosystem.i18n import _, format_dt
from ecosystem.models import User
from ecosystem.services import audit
from ecosystem.settings import get_settings
from labs import permissions
from labs.intervals import Interval, covers, first_overlap, normalize
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus
from labs.services import lock, schedule

CHECK_IN_EARLY = timedelta(minutes=15)
USAGE_NOTE_MAX = 1000


async def booking_by_code(actor: User, code: str) -> Booking:
    """The booking with this check-in code, for staff of its lab (404 for anybody else)."""
    code = code.strip()
    if "/" in code:  # a scanned URL pasted into the form
        code = code.rstrip("/").rsplit("/", 1)[-1]
    booking = None
    if code and len(code) <= 32:
        booking = await Booking.get_or_none(check_in_code=code).select_related(
            "equipment__lab", "user"
        )
    if booking is None:
        raise NotFound(_("No booking has this check-in code."))
    await permissions.ensure(actor, "lab.manage_bookings", booking.equipment.lab)
    return booking


async def booking_of_lab(actor: User, lab_id: int, booking_id: int) -> Booking:
    booking = await Booking.get_or_none(id=booking_id, equipment__lab_id=lab_id).select_related(
        "equipment__lab", "user"
    )
    if booking is None:
        raise NotFound(_("No such booking."))
    await permissions.ensure(actor, "lab.manage_bookings", booking.equipment.lab)
    return booking


def check_in_window(booking: Booking) -> tuple:
    return booking.starts_at - CHECK_IN_EARLY, booking.ends_at


def can_check_in(booking: Booking) -> bool:
    opens, closes = check_in_window(booking)
    now = timezone.now()
    return (
        booking.status == BookingStatus.CONFIRMED
        and booking.checked_in_at is None
        and opens <= now < closes
    )


async def _apply(booking: Booking, actor: User, expected: dict, changes: dict, action: str):
    async with atomic():
        updated = await Booking.filter(id=booking.id, **expected).update(
            **changes, updated_at=timezone.now()
        )
        if not updated:
            raise Conflict(_("The booking changed meanwhile; reload the page."), code="changed")
        await audit.record(action, actor=actor, target=booking)
    booking.update_from_dict(changes)
    return booking


async def check_in(actor: User, booking: Booking) -> Booking:
    """Staff check the booker in: a confirmed booking, 15 minutes before start until its end."""
    await permissions.ensure(actor, "lab.manage_bookings", booking.equipment.lab)
    if booking.checked_in_at is not None:
        raise Conflict(_("This booking is already checked in."), code="already_checked_in")
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(_("Only confirmed bookings can be checked in."), code="not_confirmed")
    opens, closes = check_in_window(booking)
    now = timezone.now()
    tz = booking.equipment.lab.timezone
    if now < opens:
        raise Invalid(
            _(
                "Check-in opens at %(at)s (15 minutes before the start).",
                at=format_dt(opens, "short", tz),
            ),
            code="too_early",
        )
    if now >= closes:
        raise Invalid(_("This booking has ended: it can no longer be checked in."), code="too_late")
    return await _apply(
        booking,
        actor,
        {"status": BookingStatus.CONFIRMED, "checked_in_at__isnull": True},
        {"checked_in_at": now},
        "booking.checked_in",
    )


async def check_out(
    actor: User, booking: Booking, usage_note: str = "", end_now: bool = False
) -> Booking:
    """Staff check the booker out with a usage note; the booking is completed. With `end_now`
    before its end, the booking ends now and the rest of its slot is free again."""
    await permissions.ensure(actor, "lab.manage_bookings", booking.equipment.lab)
    note = usage_note.strip()
    if len(note) > USAGE_NOTE_MAX:
        message = _("At most %(n)d characters.", n=USAGE_NOTE_MAX)
        raise Invalid(message, fields={"usage_note": message})
    if booking.checked_in_at is None or booking.status != BookingStatus.CONFIRMED:
        raise Conflict(_("Only a checked-in booking can be checked out."), code="not_checked_in")
    now = timezone.now().replace(microsecond=0)
    changes = {"checked_out_at": now, "usage_note": note, "status": BookingStatus.COMPLETED}
    freed = end_now and booking.starts_at < now < booking.ends_at
    if freed:
        changes["ends_at"] = now
    booking = await _apply(
        booking,
        actor,
        {"status": BookingStatus.CONFIRMED, "checked_out_at__isnull": True},
        changes,
        "booking.checked_out",
    )
    if freed:  # the rest of the slot goes to the waitlist now
        await lock.offer_freed_slot(f"waitlist-after-early-end:{booking.id}")
    return booking


EXTEND_MINUTES = (15, 30, 60, 90, 120)


async def extend(actor: User, booking: Booking, minutes_raw: str) -> Booking:
    """Staff extend a running or upcoming confirmed booking by 15 to 120 minutes, if the
    machine is free, open and not blacked out after it (checked under the machine's lock)."""
    await permissions.ensure(actor, "lab.manage_bookings", booking.equipment.lab)
    minutes = int(minutes_raw) if minutes_raw.strip().isdigit() else 0
    if minutes not in EXTEND_MINUTES:
        message = _("Choose one of the offered values.")
        raise Invalid(message, fields={"extend_minutes": message})
    if booking.status != BookingStatus.CONFIRMED or booking.checked_out_at is not None:
        raise Conflict(
            _("Only a confirmed booking that is not over can be extended."), code="not_extendable"
        )
    now = timezone.now()
    if booking.ends_at <= now:
        raise Invalid(_("This booking has ended: it can no longer be extended."), code="too_late")
    extra = Interval(booking.ends_at, booking.ends_at + timedelta(minutes=minutes))
    lab = booking.equipment.lab
    open_time = normalize(await schedule.lab_open_time(lab, extra))
    if not covers(open_time, extra):
        message = _("The lab is not open for the extra time.")
        raise Invalid(message, code="outside_opening_hours", fields={"extend_minutes": message})
    if first_overlap(normalize(await schedule.blackouts_of(booking.equipment.id, extra)), extra):
        message = _("A maintenance blackout follows this booking.")
        raise Invalid(message, code="blackout", fields={"extend_minutes": message})
    async with atomic():
        await lock.lock_in_service(booking.equipment.id)  # FIRST: the machine's lock
        if await lock.slot_taken(booking.equipment.id, extra, except_id=booking.id):
            message = _("The machine is booked right after: it cannot be extended that long.")
            raise Conflict(message, code="conflict", fields={"extend_minutes": message})
        updated = await Booking.filter(
            id=booking.id, status=BookingStatus.CONFIRMED, ends_at=booking.ends_at
        ).update(ends_at=extra.end, updated_at=now, sequence=F("sequence") + 1)
        if not updated:
            raise Conflict(_("The booking changed meanwhile; reload the page."), code="changed")
        await audit.record("booking.extended", actor=actor, target=booking, minutes=minutes)
    booking.ends_at = extra.end
    booking.sequence += 1
    return booking


async def mark_no_show(actor: User, booking: Booking) -> Booking:
    """Staff mark a confirmed booking that was not checked in, once it has started."""
    await permissions.ensure(actor, "lab.manage_bookings", booking.equipment.lab)
    if booking.status != BookingStatus.CONFIRMED or booking.checked_in_at is not None:
        raise Conflict(
            _("Only a confirmed booking that nobody checked in can be a no-show."),
            code="not_no_show",
        )
    if timezone.now() < booking.starts_at:
        raise Invalid(_("The booking has not started yet."), code="not_started")
    return await _apply(
        booking,
        actor,
        {"status": BookingStatus.CONFIRMED, "checked_in_at__isnull": True},
        {"status": BookingStatus.NO_SHOW},
        "booking.no_show",
    )


async def check_in_qr(actor: User, booking_id: int, base_url: str | None = None) -> bytes:
    """An SVG QR code of the booking's check-in address, for its owner to show at the lab.

    Staff scanning it with a phone land on the staff check-in page of that booking.
    `base_url` is the site's address (default: `Settings.base_url`).
    """
    booking = await Booking.get_or_none(id=booking_id, user_id=actor.id)
    if booking is None or booking.status not in ACTIVE_BOOKING_STATUSES:
        raise NotFound(_("No such booking."))
    url = f"{base_url or get_settings().base_url}/labs/checkin/{booking.check_in_code}"
    return qrcode.make(url, image_factory=SvgPathImage, box_size=10, border=2).to_string()
