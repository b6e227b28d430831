"""Waitlist from a busy slot: "tell me if this frees up" on the machine's week view joins the
waitlist; the offer works as before (tests/labs/test_jobs.py)."""

from __future__ import annotations

import html
import re

import pytest

from labs.models import Booking, BookingStatus, WaitlistEntry
from tests.conftest import person
from tests.labs.conftest import at, local_day, make_equipment, make_lab, quick_user

WAIT_LINK = re.compile(r'<a class="cell busy" href="(/equipment/\d+/waitlist\?[^"]+)"')


@pytest.mark.usefixtures("english")
async def test_a_busy_slot_of_the_week_view_joins_the_waitlist(browser, new_browser):
    lab = await make_lab()
    machine = await make_equipment(lab, "Trotec Speedy 400", min_minutes=60)
    day = local_day(9)
    taken = await Booking.create(
        equipment=machine,
        user=await quick_user("other@example.org"),
        starts_at=at(day, 9),
        ends_at=at(day, 10),
        status=BookingStatus.CONFIRMED,
        check_in_code="other-9",
    )
    maker = await person("maker@example.org")
    await Booking.create(
        equipment=machine,
        user=maker,
        starts_at=at(day, 14),
        ends_at=at(day, 15),
        status=BookingStatus.CONFIRMED,
        check_in_code="mine-14",
    )
    await browser.login("maker@example.org")

    week = await browser.get(
        f"/equipment/{machine.id}/week",
        params={"start": day.isoformat()},
        headers={"HX-Request": "true"},
    )
    links = [html.unescape(link) for link in WAIT_LINK.findall(week.text)]
    assert len(links) == 2  # 9:00 and 9:30, the two cells of the booked hour
    # My own booking is told apart (and offers no waitlist): 14:00 and 14:30.
    assert week.text.count('class="cell busy mine" href="/bookings"') == 2
    someone_else = await new_browser().get(
        f"/equipment/{machine.id}/week",
        params={"start": day.isoformat()},
        headers={"HX-Request": "true"},
    )
    assert "busy mine" not in someone_else.text
    assert len(WAIT_LINK.findall(someone_else.text)) == 4
    assert "Pick a booked one to be told if it frees up." in week.text

    form = await browser.get(links[0], headers={"HX-Request": "true"})
    assert form.status_code == 200 and "<html" not in form.text
    assert "Tell me if this frees up" in form.text and 'action="/waitlist"' in form.text
    page = await browser.get(links[0])  # without htmx: a page of its own
    assert page.status_code == 200 and "<html" in page.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.text))
    assert fields["equipment_id"] == str(machine.id)

    joined = await browser.post(
        "/waitlist",
        {k: html.unescape(v) for k, v in fields.items() if k != "csrf_token"} | {"purpose": "Sign"},
    )
    assert joined.status_code == 303
    entry = await WaitlistEntry.get(user_id=maker.id)
    assert (entry.starts_at, entry.ends_at) == (taken.starts_at, taken.ends_at)
    assert entry.equipment_id == machine.id and entry.status == "waiting"
    assert "You are on the waitlist" in (await browser.get("/waitlist")).text

    again = await browser.post(
        "/waitlist", {k: html.unescape(v) for k, v in fields.items() if k != "csrf_token"}
    )
    assert again.status_code == 303
    assert "You are already waiting for this time." in (await browser.get("/waitlist")).text
    assert await WaitlistEntry.filter(user_id=maker.id).count() == 1

    # Anonymous people are asked to sign in; nonsense times are a 4xx, never a 500.
    anonymous = await new_browser().get(links[0])
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
    bad = await browser.get(f"/equipment/{machine.id}/waitlist", params={"start": "x", "end": "y"})
    assert 400 <= bad.status_code < 500
    backwards = await browser.get(
        f"/equipment/{machine.id}/waitlist",
        params={"start": at(day, 10).isoformat(), "end": at(day, 9).isoformat()},
    )
    assert backwards.status_code == 422
