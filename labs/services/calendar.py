"""A person's bookings as an iCalendar feed behind a secret URL.

Only the SHA-256 of the token is stored: the URL is shown once, when it is created or
regenerated, and regenerating it kills the old one.

Calendar apps poll the feed and reconcile events by UID: a booking cancelled or declined in
the last `CANCELLED_KEPT` stays in the feed as `STATUS:CANCELLED` (so the app removes it instead
of keeping a stale copy), DTSTAMP and LAST-MODIFIED are the booking's last change (the same on
every fetch), and SEQUENCE rises each time the booking moves.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, timedelta
from email.utils import parseaddr

from icalendar import Calendar, Event, vCalAddress
from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from ecosystem.content import tr
from ecosystem.db import atomic
from ecosystem.errors import NotFound
from ecosystem.i18n import _
from ecosystem.models import User
from labs.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus, CalendarFeed

PRODID = "-//Binh Duong Innovation Region//Labs//EN"
UID_DOMAIN = "labs.innovation-region"
FEED_LIMIT = 1000
CANCELLED_KEPT = timedelta(days=30)
WITHDRAWN = (BookingStatus.CANCELLED, BookingStatus.DECLINED)
FOLD_OCTETS = 75  # a content line this long or longer is folded (RFC 5545 §3.1, icalendar)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def has_feed(user: User) -> bool:
    return await CalendarFeed.filter(user_id=user.id).exists()


async def regenerate_feed(user: User) -> str:
    """A new secret token for the user's feed (the old URL stops working). Returns the token."""
    token = secrets.token_urlsafe(32)
    async with atomic():
        updated = await CalendarFeed.filter(user_id=user.id).update(token_hash=_hash(token))
        if not updated:
            try:
                async with atomic():  # a savepoint: the transaction goes on after a clash
                    await CalendarFeed.create(user_id=user.id, token_hash=_hash(token))
            except IntegrityError:  # a simultaneous request made the feed first: replace it
                await CalendarFeed.filter(user_id=user.id).update(token_hash=_hash(token))
    return token


async def delete_feed(user: User) -> None:
    await CalendarFeed.filter(user_id=user.id).delete()


async def feed_bookings(token: str) -> list[Booking]:
    """The feed owner's active bookings and those withdrawn (cancelled, declined) in the last
    `CANCELLED_KEPT`, with machine and lab (two queries); 404 for an unknown token."""
    if not token or len(token) > 200:
        raise NotFound(_("No such calendar."))
    feed = await CalendarFeed.get_or_none(token_hash=_hash(token))
    if feed is None:
        raise NotFound(_("No such calendar."))
    recent = timezone.now() - CANCELLED_KEPT
    shown = Q(status__in=list(ACTIVE_BOOKING_STATUSES)) | Q(
        status__in=list(WITHDRAWN), updated_at__gte=recent
    )
    return await (
        Booking.filter(shown, user_id=feed.user_id)  # type: ignore[attr-defined]
        .select_related("equipment__lab")
        .order_by("starts_at", "id")
        .limit(FEED_LIMIT)
    )


def to_ical(bookings: list[Booking]) -> bytes:
    """The bookings as an iCalendar document: UTC times, one stable UID per booking, stamped
    with its last change (stable across fetches), its SEQUENCE and its state."""
    calendar = _calendar()
    calendar.add("x-wr-calname", _("My lab bookings"))
    for booking in bookings:
        calendar.add_component(booking_event(booking))
    return serialised(calendar)


def invitation(booking: Booking, attendee: str, organizer: str, *, cancel: bool = False) -> bytes:
    """One booking as an iTIP message for an e-mail (RFC 5546): METHOD:REQUEST for a booking
    that stands (confirmed, or tentative while it waits), METHOD:CANCEL when it is withdrawn.

    The event is the feed's (`booking_event`): same UID, SEQUENCE and stamps, so a calendar
    app that holds it from the mail or the feed updates the one entry.
    """
    calendar = _calendar()
    calendar.add("method", "CANCEL" if cancel else "REQUEST")
    event = booking_event(booking)
    if cancel:
        event["status"] = "CANCELLED"
    organizer_address = parseaddr(organizer)[1] or organizer
    event.add("organizer", vCalAddress(f"mailto:{organizer_address}"))
    guest = vCalAddress(f"mailto:{attendee}")
    guest.params["ROLE"] = "REQ-PARTICIPANT"
    guest.params["PARTSTAT"] = "ACCEPTED"
    guest.params["RSVP"] = "FALSE"
    event.add("attendee", guest)
    calendar.add_component(event)
    return serialised(calendar)


def serialised(calendar: Calendar) -> bytes:
    """`calendar.to_ical()`, byte for byte, less icalendar's character-by-character folding
    of lines that need none (a quarter of the time of a booking's .ics, which every booking's
    mail carries): a line under FOLD_OCTETS is written as it is, a longer one is folded by
    icalendar."""
    lines = (
        encoded if len(encoded := line.encode()) < FOLD_OCTETS else line.to_ical()
        for line in calendar.content_lines()
        if line
    )
    return b"\r\n".join(lines) + b"\r\n"


def _calendar() -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    return calendar


def booking_uid(booking: Booking) -> str:
    return f"booking-{booking.id}@{UID_DOMAIN}"


def booking_event(booking: Booking) -> Event:
    """The booking as a VEVENT (needs `booking.equipment.lab` loaded)."""
    equipment = booking.equipment
    lab = equipment.lab
    event = Event()
    event.add("uid", booking_uid(booking))
    changed = booking.updated_at.astimezone(UTC)
    event.add("dtstamp", changed)
    event.add("last-modified", changed)
    event.add("created", booking.created_at.astimezone(UTC))
    event.add("sequence", booking.sequence)
    event.add("dtstart", booking.starts_at.astimezone(UTC))
    event.add("dtend", booking.ends_at.astimezone(UTC))
    event.add("summary", tr(equipment, "name"))
    event.add("location", lab.address or tr(lab, "name"))
    event.add("status", _event_status(booking.status))
    if booking.purpose:
        event.add("description", booking.purpose)
    return event


def _event_status(status: str) -> str:
    if status in WITHDRAWN:
        return "CANCELLED"
    return "CONFIRMED" if status == BookingStatus.CONFIRMED else "TENTATIVE"
