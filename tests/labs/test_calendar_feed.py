"""The iCalendar feed of a person's bookings behind a secret URL shown once."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event, vCalAddress
from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.i18n import use_locale
from labs.models import Booking, BookingStatus, CalendarFeed
from labs.services import calendar
from labs.services.calendar import UID_DOMAIN
from tests.conftest import person
from tests.labs.conftest import (
    at,
    bearer,
    booking_json,
    local_day,
    make_equipment,
    make_lab,
    quick_user,
)

FEED_URL = re.compile(r'value="(https?://[^"]+/calendar/([^"/]+)\.ics)"')


async def _booking(equipment, user, day_offset, hour, status=BookingStatus.CONFIRMED) -> Booking:
    day = local_day(day_offset)
    return await Booking.create(
        equipment=equipment,
        user=user,
        starts_at=at(day, hour),
        ends_at=at(day, hour + 1),
        status=status,
        check_in_code=f"code-{equipment.id}-{user.id}-{day_offset}-{hour}",
    )


async def _create_feed(browser) -> str:
    page = await browser.post("/bookings/calendar")
    assert page.status_code == 200, page.text[:300]
    match = FEED_URL.search(page.text)
    assert match, "the new feed URL is shown"
    return match.group(2)


async def test_feed_lists_the_active_bookings_in_utc_and_the_withdrawn_as_cancelled(
    browser, client
):
    lab = await make_lab(address="Hòa Phú, Thủ Dầu Một")
    laser = await make_equipment(lab, "Trotec Speedy 400")
    printer = await make_equipment(lab, "Prusa MK4")
    user = await person("maker@example.org")
    other = await quick_user("other@example.org")
    confirmed = await _booking(laser, user, 2, 9)
    pending = await _booking(printer, user, 3, 14, BookingStatus.PENDING)
    cancelled = await _booking(laser, user, 4, 9, BookingStatus.CANCELLED)
    declined = await _booking(printer, user, 5, 9, BookingStatus.DECLINED)
    await _booking(laser, other, 2, 11)
    await browser.login("maker@example.org")

    token = await _create_feed(browser)
    stored = await CalendarFeed.get(user_id=user.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash

    response = await client.get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    every_event = {str(event["uid"]): event for event in calendar.walk("VEVENT")}
    withdrawn = {uid for uid, event in every_event.items() if event["status"] == "CANCELLED"}
    assert withdrawn == {_uid(cancelled), _uid(declined)}
    events = {uid: event for uid, event in every_event.items() if uid not in withdrawn}
    assert set(events) == {_uid(confirmed), _uid(pending)}  # not the other person's
    by_summary = {str(event["summary"]): event for event in events.values()}
    assert set(by_summary) == {"Trotec Speedy 400", "Prusa MK4"}
    laser_event = by_summary["Trotec Speedy 400"]
    start = laser_event.decoded("dtstart")
    assert start == confirmed.starts_at and start.utcoffset().total_seconds() == 0
    assert start.tzinfo is not None and start.astimezone(UTC).hour == (9 - 7) % 24
    assert laser_event.decoded("dtend") == confirmed.ends_at
    assert str(laser_event["location"]) == "Hòa Phú, Thủ Dầu Một"
    assert str(by_summary["Prusa MK4"]["uid"]) != str(laser_event["uid"])
    assert f"booking-{pending.id}@" in str(by_summary["Prusa MK4"]["uid"])
    assert b"\r\nDTSTART:" in response.content and b"Z\r\n" in response.content


def _uid(booking: Booking) -> str:
    return f"booking-{booking.id}@{UID_DOMAIN}"


async def _feed(client, token: str) -> dict[str, Any]:
    response = await client.get(f"/calendar/{token}.ics")
    assert response.status_code == 200, response.text[:300]
    return {str(e["uid"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}


async def test_withdrawn_bookings_stay_in_the_feed_as_cancelled_for_30_days(browser, client):
    lab = await make_lab()
    laser = await make_equipment(lab, "Trotec Speedy 400")
    user = await person("maker@example.org")
    recent = await _booking(laser, user, 2, 9, BookingStatus.CANCELLED)
    old = await _booking(laser, user, 3, 9, BookingStatus.DECLINED)
    now = timezone.now()
    await Booking.filter(id=recent.id).update(updated_at=now - timedelta(days=29))
    await Booking.filter(id=old.id).update(updated_at=now - timedelta(days=31))
    await browser.login("maker@example.org")

    events = await _feed(client, await _create_feed(browser))
    assert set(events) == {_uid(recent)}
    assert events[_uid(recent)]["status"] == "CANCELLED"


async def test_the_feed_is_the_same_on_every_fetch(browser, client):
    lab = await make_lab()
    user = await person("maker@example.org")
    await _booking(await make_equipment(lab, "Prusa MK4"), user, 2, 9)
    await browser.login("maker@example.org")
    token = await _create_feed(browser)

    first = await client.get(f"/calendar/{token}.ics")
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        again = await client.get(f"/calendar/{token}.ics")
    assert first.content == again.content  # DTSTAMP is the booking's last change, not "now"


async def test_a_move_raises_the_sequence_and_a_cancellation_says_so(browser, client):
    lab = await make_lab()
    machine = await make_equipment(lab, "Trotec Speedy 400")
    user = await person("maker@example.org")
    headers = await bearer(user)
    await browser.login("maker@example.org")
    token = await _create_feed(browser)
    day = local_day(3)
    created = await client.post(
        "/api/v1/bookings", json=booking_json(machine, at(day, 9), at(day, 10)), headers=headers
    )
    assert created.status_code == 201, created.text
    uid = f"booking-{created.json()['id']}@{UID_DOMAIN}"
    before = (await _feed(client, token))[uid]
    assert before["sequence"] == 0 and before["status"] == "CONFIRMED"

    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        moved = await client.post(
            f"/api/v1/bookings/{created.json()['id']}/reschedule",
            json={"start": at(day, 11).isoformat(), "end": at(day, 12).isoformat()},
            headers=headers,
        )
    assert moved.status_code == 200, moved.text
    after = (await _feed(client, token))[uid]
    assert after["sequence"] == 1
    assert after.decoded("dtstart") == at(day, 11)
    assert after.decoded("last-modified") > before.decoded("last-modified")
    assert after.decoded("dtstamp") == after.decoded("last-modified")

    cancelled = await client.post(
        f"/api/v1/bookings/{created.json()['id']}/cancel", headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await _feed(client, token))[uid]["status"] == "CANCELLED"


async def test_the_new_feed_offers_a_webcal_subscription(browser):
    await person("maker@example.org")
    await browser.login("maker@example.org")
    page = await browser.post("/bookings/calendar")
    https_url = FEED_URL.search(page.text).group(1)
    webcal = re.search(r'href="(webcal://[^"]+)" id="subscribe"', page.text)
    assert webcal and webcal.group(1) == "webcal://" + https_url.split("://", 1)[1]


async def test_wrong_or_regenerated_token_is_404_and_url_is_shown_once(browser, client):
    await person("maker@example.org")
    await browser.login("maker@example.org")
    assert (await client.get("/calendar/not-a-token.ics")).status_code == 404

    first = await _create_feed(browser)
    assert (await client.get(f"/calendar/{first}.ics")).status_code == 200
    again = await browser.get("/bookings/calendar")
    assert first not in again.text and "/calendar/" not in again.text

    second = await _create_feed(browser)
    assert second != first
    assert (await client.get(f"/calendar/{first}.ics")).status_code == 404
    assert (await client.get(f"/calendar/{second}.ics")).status_code == 200
    assert await CalendarFeed.all().count() == 1

    await browser.post("/bookings/calendar", {"action": "delete"})
    assert (await client.get(f"/calendar/{second}.ics")).status_code == 404


async def test_calendar_page_needs_sign_in(client):
    response = await client.get("/bookings/calendar")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["location"]


async def test_simultaneous_first_feeds_leave_one_feed_and_no_error(browser, client):
    """Two clicks on "create my feed" at once: one feed, the last URL shown works, no 500.

    The database holds one feed per person (a second row for the same person is refused)."""
    user = await person("twice@example.org")
    await browser.login("twice@example.org")
    pages = await asyncio.gather(*(browser.post("/bookings/calendar") for _ in range(6)))
    assert [page.status_code for page in pages] == [200] * 6
    tokens = [FEED_URL.search(page.text).group(2) for page in pages]
    [feed] = await CalendarFeed.filter(user_id=user.id)
    assert feed.token_hash in {hashlib.sha256(token.encode()).hexdigest() for token in tokens}
    live = [
        token for token in tokens if (await client.get(f"/calendar/{token}.ics")).status_code == 200
    ]
    assert len(live) == 1

    with pytest.raises(IntegrityError):
        await CalendarFeed.create(user_id=user.id, token_hash="f" * 64)


# --- the documents are icalendar's own, byte for byte --------------------------------------

_TEXT = st.lists(  # the characters icalendar escapes, folds or strips come often
    st.sampled_from(list('\\;,:"\n\r^ \ufeffắ한😀')) | st.characters(codec="utf-8"),
    max_size=160,
).map("".join)
_MOMENT = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


def _icalendars_own(
    bookings: list[SimpleNamespace], *, method: str = "", attendee: str = "", organizer: str = ""
) -> bytes:
    """The same document built with icalendar's object model and serialised by it."""
    document = Calendar()
    document.add("prodid", calendar.PRODID)
    document.add("version", "2.0")
    document.add("calscale", "GREGORIAN")
    if method:
        document.add("method", method)
    else:
        document.add("x-wr-calname", "My lab bookings")
    for booking in bookings:
        event = Event()
        event.add("uid", calendar.booking_uid(booking))
        event.add("dtstamp", booking.updated_at.astimezone(UTC))
        event.add("last-modified", booking.updated_at.astimezone(UTC))
        event.add("created", booking.created_at.astimezone(UTC))
        event.add("sequence", booking.sequence)
        event.add("dtstart", booking.starts_at.astimezone(UTC))
        event.add("dtend", booking.ends_at.astimezone(UTC))
        event.add("summary", booking.equipment.name)
        event.add("location", booking.equipment.lab.address or booking.equipment.lab.name)
        cancelled = method == "CANCEL" or booking.status in calendar.WITHDRAWN
        standing = "CONFIRMED" if booking.status == BookingStatus.CONFIRMED else "TENTATIVE"
        event.add("status", "CANCELLED" if cancelled else standing)
        if booking.purpose:
            event.add("description", booking.purpose)
        if method:
            event.add("organizer", vCalAddress(f"mailto:{organizer}"))
            guest = vCalAddress(f"mailto:{attendee}")
            guest.params.update(ROLE="REQ-PARTICIPANT", PARTSTAT="ACCEPTED", RSVP="FALSE")
            event.add("attendee", guest)
        document.add_component(event)
    return document.to_ical()


@st.composite
def _bookings(draw) -> SimpleNamespace:
    """A booking with its machine and lab as a query loads them (without a database)."""
    lab = SimpleNamespace(name=draw(_TEXT.filter(bool)), address=draw(_TEXT), translations={})
    machine = SimpleNamespace(name=draw(_TEXT.filter(bool)), lab=lab, translations={})
    start = draw(_MOMENT)
    return SimpleNamespace(
        id=draw(st.integers(1, 2**31)),
        equipment=machine,
        starts_at=start,
        ends_at=start + timedelta(minutes=draw(st.integers(1, 24 * 60))),
        created_at=draw(_MOMENT),
        updated_at=draw(_MOMENT),
        sequence=draw(st.integers(0, 1000)),
        status=draw(st.sampled_from(list(BookingStatus))),
        purpose=draw(_TEXT),
    )


@settings(max_examples=300, deadline=None)
@given(bookings=st.lists(_bookings(), max_size=3))
def test_the_feed_is_what_icalendar_makes_of_the_bookings_byte_for_byte(bookings):
    """`calendar.to_ical` writes icalendar's own bytes (property order, TEXT escapes, folds
    at 75 octets, multi-byte characters, a leading byte-order mark) without its object model;
    and icalendar reads the names back."""
    with use_locale("en"):
        written = calendar.to_ical(bookings)
    assert written == _icalendars_own(bookings)
    events = Calendar.from_ical(written).walk("VEVENT")
    assert [str(event["uid"]) for event in events] == [calendar.booking_uid(b) for b in bookings]


@settings(max_examples=300, deadline=None)
@given(
    booking=_bookings(),
    cancel=st.booleans(),
    attendee=st.emails(),
    organizer=st.sampled_from(["labs@example.org", "Labs <labs@example.org>"]),
)
def test_the_mails_ics_is_what_icalendar_makes_of_the_booking_byte_for_byte(
    booking, cancel, attendee, organizer
):
    """`calendar.invitation` (every booking mail carries it) is icalendar's own bytes."""
    written = calendar.invitation(booking, attendee, organizer, cancel=cancel)
    method = "CANCEL" if cancel else "REQUEST"
    expected = _icalendars_own(
        [booking], method=method, attendee=attendee, organizer="labs@example.org"
    )
    assert written == expected
    [event] = Calendar.from_ical(written).walk("VEVENT")
    assert str(event["attendee"]) == f"mailto:{attendee}"
