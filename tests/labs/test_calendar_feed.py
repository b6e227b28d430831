"""The iCalendar feed of a person's bookings behind a secret URL shown once."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC

import pytest
from icalendar import Calendar
from tortoise.exceptions import IntegrityError

from labs.models import Booking, BookingStatus, CalendarFeed
from tests.conftest import person
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

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


async def test_feed_lists_exactly_the_active_bookings_in_utc(browser, client):
    lab = await make_lab(address="Hòa Phú, Thủ Dầu Một")
    laser = await make_equipment(lab, "Trotec Speedy 400")
    printer = await make_equipment(lab, "Prusa MK4")
    user = await person("maker@example.org")
    other = await quick_user("other@example.org")
    confirmed = await _booking(laser, user, 2, 9)
    pending = await _booking(printer, user, 3, 14, BookingStatus.PENDING)
    await _booking(laser, user, 4, 9, BookingStatus.CANCELLED)
    await _booking(printer, user, 5, 9, BookingStatus.DECLINED)
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
    events = {str(event["uid"]): event for event in calendar.walk("VEVENT")}
    assert len(events) == 2
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
