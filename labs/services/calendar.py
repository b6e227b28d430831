"""A person's bookings as an iCalendar feed behind a secret URL.

Only the SHA-256 of the token is stored: the URL is shown once, when it is created or
regenerated, and regenerating it kills the old one.

Calendar apps poll the feed and reconcile events by UID: a booking cancelled or declined in
the last `CANCELLED_KEPT` stays in the feed as `STATUS:CANCELLED` (so the app removes it instead
of keeping a stale copy), DTSTAMP and LAST-MODIFIED are the booking's last change (the same on
every fetch), and SEQUENCE rises each time the booking moves.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from icalendar import Calendar, Event, vText
from icalendar.caselessdict import canonsort_keys
from icalendar.parser import Contentline
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
ATTENDEE_PARAMETERS = ";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=FALSE"  # sorted, as icalendar


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
    head = {"X-WR-CALNAME": ("", _text(_("My lab bookings")))}
    events = [_event(booking, _event_status(booking.status), {}) for booking in bookings]
    return _document(_component("VCALENDAR", _calendar_properties(head), *events))


def invitation(booking: Booking, attendee: str, organizer: str, *, cancel: bool = False) -> bytes:
    """One booking as an iTIP message for an e-mail (RFC 5546): METHOD:REQUEST for a booking
    that stands (confirmed, or tentative while it waits), METHOD:CANCEL when it is withdrawn.

    The event is the feed's (`_event`): same UID, SEQUENCE and stamps, so a calendar app that
    holds it from the mail or the feed updates the one entry.
    """
    parties = {
        "ORGANIZER": ("", f"mailto:{_address(organizer)}"),
        "ATTENDEE": (ATTENDEE_PARAMETERS, f"mailto:{attendee}"),
    }
    status = "CANCELLED" if cancel else _event_status(booking.status)
    head = {"METHOD": ("", "CANCEL" if cancel else "REQUEST")}
    event = _event(booking, status, parties)
    return _document(_component("VCALENDAR", _calendar_properties(head), event))


@functools.lru_cache(maxsize=8)
def _address(sender: str) -> str:
    """The address of a sender such as `Labs <labs@example.org>` (it is the settings' one)."""
    return parseaddr(sender)[1] or sender


def booking_uid(booking: Booking) -> str:
    return f"booking-{booking.id}@{UID_DOMAIN}"


# --- writing iCalendar ------------------------------------------------------------------------
# The documents are written as icalendar writes them, byte for byte (the tests compare with
# icalendar's own Calendar.to_ical): its property order (`canonsort_keys` with each
# component's `canonical_order`), its TEXT escaping (`vText`) and its folding (`Contentline`).
# Only its object model is left out: building and serialising a booking's Event through it
# took 0.6 ms, the largest single cost of making a booking (every booking mails its .ics).

Properties = dict[str, tuple[str, str]]  # name -> (";"-joined parameters or "", value)


def _event(booking: Booking, status: str, parties: Properties) -> list[str]:
    """The booking as a VEVENT's lines (needs `booking.equipment.lab` loaded)."""
    equipment = booking.equipment
    lab = equipment.lab
    changed = _utc(booking.updated_at)
    properties: Properties = {
        "UID": ("", _text(booking_uid(booking))),
        "DTSTAMP": ("", changed),
        "LAST-MODIFIED": ("", changed),
        "CREATED": ("", _utc(booking.created_at)),
        "SEQUENCE": ("", str(booking.sequence)),
        "DTSTART": ("", _utc(booking.starts_at)),
        "DTEND": ("", _utc(booking.ends_at)),
        "SUMMARY": ("", _text(tr(equipment, "name"))),
        "LOCATION": ("", _text(lab.address or tr(lab, "name"))),
        "STATUS": ("", status),
        **parties,
    }
    if booking.purpose:
        properties["DESCRIPTION"] = ("", _text(booking.purpose))
    return _component("VEVENT", _in_order(properties, Event.canonical_order))


def _calendar_properties(extra: Properties) -> Properties:
    properties: Properties = {
        "PRODID": ("", _text(PRODID)),
        "VERSION": ("", "2.0"),
        "CALSCALE": ("", "GREGORIAN"),
        **extra,
    }
    return _in_order(properties, Calendar.canonical_order)


def _in_order(properties: Properties, canonical_order: tuple[str, ...]) -> Properties:
    return {name: properties[name] for name in canonsort_keys(properties, canonical_order)}


def _component(name: str, properties: Properties, *components: list[str]) -> list[str]:
    lines = [f"BEGIN:{name}"]
    lines += [f"{key}{params}:{value}" for key, (params, value) in properties.items()]
    for component in components:
        lines += component
    lines.append(f"END:{name}")
    return lines


def _document(lines: list[str]) -> bytes:
    """The content lines, CRLF-terminated; a line of FOLD_OCTETS or more folded."""
    encoded = (
        short if len(short := line.encode()) < FOLD_OCTETS else Contentline(line).to_ical()
        for line in lines
    )
    return b"\r\n".join(encoded) + b"\r\n"


def _text(value: str) -> str:
    """A TEXT value escaped (RFC 5545 §3.3.11), read back as icalendar reads its own bytes."""
    return vText(value).to_ical().decode("utf-8-sig")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _event_status(status: str) -> str:
    if status in WITHDRAWN:
        return "CANCELLED"
    return "CONFIRMED" if status == BookingStatus.CONFIRMED else "TENTATIVE"
