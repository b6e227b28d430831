"""E-mails to a booker about their booking, each with the booking as an .ics attached.

One function per thing that happens to a booking: made (confirmed or waiting for approval),
decided by the staff (approved, declined with the reason), moved, cancelled. Each is called in
the transaction that makes the change, so the mail goes out after the commit and never for a
change that rolled back. The .ics is `labs.services.calendar.invitation`: the feed's event
(same UID, SEQUENCE from `Booking.sequence`) as METHOD:REQUEST while the booking stands and
METHOD:CANCEL once it is withdrawn, so the person's calendar app keeps one entry up to date.

The booking must come with `booking.equipment.lab` loaded.
"""

from __future__ import annotations

from datetime import datetime

from tortoise import timezone

from ecosystem import mail
from ecosystem.models import User
from ecosystem.settings import get_settings
from labs.models import Booking, BookingStatus
from labs.services import calendar

ICS_FILENAME = "booking.ics"


def _ics(booking: Booking, owner: User, *, cancel: bool = False) -> mail.Attachment:
    content = calendar.invitation(booking, owner.email, get_settings().mail_from, cancel=cancel)
    method = "CANCEL" if cancel else "REQUEST"
    return mail.Attachment(
        ICS_FILENAME, "text/calendar", content, {"method": method, "charset": "UTF-8"}
    )


async def _send(
    booking: Booking, owner: User, template: str, extra: dict, *, cancel: bool = False
) -> None:
    context = {
        "booking": booking,
        "lab": booking.equipment.lab,
        "user": owner,
        "withdrawn": cancel,
        **extra,
    }
    await mail.send_mail(
        owner.email,
        template,
        context,
        owner.locale,
        attachments=[_ics(booking, owner, cancel=cancel)],
        timezone=owner.timezone,
    )


async def booking_made(booking: Booking, owner: User) -> None:
    """A new booking that stands: confirmed, or waiting for the staff's approval. A hold
    waiting for its online payment gets its mail once paid (`booking_paid`)."""
    if booking.status not in (BookingStatus.CONFIRMED, BookingStatus.PENDING):
        return
    await _send(booking, owner, "labs_booking_made", {"pending": booking.status == "pending"})


async def booking_paid(booking: Booking) -> None:
    """The online payment of a hold arrived: the booking stands now (confirmed or pending)."""
    owner = await User.get(id=booking.user_id)  # type: ignore[attr-defined]
    await booking_made(booking, owner)


async def booking_decided(booking: Booking, owner: User, *, approved: bool) -> None:
    """The staff approved the booking, or declined it (the reason is in the mail)."""
    await _send(booking, owner, "labs_booking_decided", {"approved": approved}, cancel=not approved)


async def booking_moved(
    booking: Booking, owner: User, *, previous_start: datetime, by_staff: bool
) -> None:
    """The booking moved to another slot (by its owner or the staff); SEQUENCE has risen."""
    await _send(
        booking,
        owner,
        "labs_booking_changed",
        {"cancelled": False, "previous_start": previous_start, "by_staff": by_staff},
    )


async def booking_cancelled(booking: Booking, owner: User, *, by_staff: bool) -> None:
    """The booking was cancelled (by its owner or the staff)."""
    booking.status = BookingStatus.CANCELLED
    booking.updated_at = booking.cancelled_at or timezone.now()
    await _send(
        booking,
        owner,
        "labs_booking_changed",
        {"cancelled": True, "previous_start": booking.starts_at, "by_staff": by_staff},
        cancel=True,
    )


async def booking_changed_by_staff(
    booking: Booking, owner: User, *, cancelled: bool, previous_start: datetime | None = None
) -> None:
    """The staff cancelled or moved the booking (kept for callers of the older name)."""
    if cancelled:
        await booking_cancelled(booking, owner, by_staff=True)
    else:
        await booking_moved(
            booking, owner, previous_start=previous_start or booking.starts_at, by_staff=True
        )
