"""Booking a lab machine in headless Chromium, on a desktop and on a phone.

The real app runs as a subprocess (`python -m ecosystem serve` with PACKAGES=labs) on a fresh
SQLite database. The journey: sign in → search the network for a laser cutter free on an
afternoon → open the machine's week view → pick a free cell (htmx loads the booking form) →
book it with a purpose → see it in "my bookings" → cancel it. Screenshots go to
tests/e2e/screenshots/. Selectors are ids, actions and classes, never translated text.
Needs /usr/bin/chromium: without it the test is skipped, unless REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest

from tests.e2e.live import (
    PASSWORD,
    SCREENSHOTS,
    VIEWPORTS,
    LiveServer,
    live_server,
    no_horizontal_scroll,
    run_setup,
    setup_database,
)

EMAILS = {name: f"maker.{name}@tdmu.edu.vn" for name in VIEWPORTS}
MACHINES = {name: f"Laser {name.title()}" for name in VIEWPORTS}
PRICED_EMAILS = {name: f"payer.{name}@becamex.com.vn" for name in VIEWPORTS}
PRICED = {name: f"Priced CNC {name.title()}" for name in VIEWPORTS}
PRICE_PER_HOUR = 60_000
DAYS_AHEAD = 3

pytestmark = pytest.mark.browser


def _search_day() -> date:
    from tortoise import timezone

    from tests.labs.conftest import HCMC

    return (timezone.now().astimezone(HCMC) + timedelta(days=DAYS_AHEAD)).date()


@pytest.fixture(scope="module")
def labs_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_labs_booking", packages="labs") as server:
        yield server


async def _setup() -> None:
    """Run in a subprocess with the server's environment: a lab, two lasers, two people."""
    from ecosystem.services.accounts import create_user
    from labs.models import EquipmentCategory
    from tests.labs.conftest import make_equipment, make_lab

    async with setup_database():
        lab = await make_lab(address="Hòa Phú, Thủ Dầu Một")
        for name in MACHINES.values():
            await make_equipment(lab, name, EquipmentCategory.LASER_CUTTER)
        for name in PRICED.values():
            await make_equipment(
                lab, name, EquipmentCategory.CNC, rates={"public": PRICE_PER_HOUR}, min_minutes=60
            )
        for email in [*EMAILS.values(), *PRICED_EMAILS.values()]:
            await create_user(email, PASSWORD, "Trần Thị Lan", False, True)


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_find_a_free_slot_book_it_see_it_and_cancel_it(device, chromium, labs_server):
    from playwright.sync_api import expect

    base, email, machine = labs_server.base_url, EMAILS[device], MACHINES[device]
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: dialog.accept())  # "cancel this booking?"
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=SCREENSHOTS / f"labs-{device}-{step:02d}-{name}.png", full_page=True)
        if device == "phone":
            no_horizontal_scroll(page)

    try:
        page.goto("/login")
        page.fill("#f-email", email)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")

        # One search across the network: a laser cutter free on that afternoon.
        day = _search_day()
        query = {"category": "laser_cutter", "day": day.isoformat(), "part": "afternoon"}
        page.goto(f"/labs/search?{urlencode(query)}")
        hit = page.locator(".search-hit", has_text=machine)
        expect(hit).to_have_count(1)
        shot("search")
        hit.locator("a[href^='/equipment/']").first.click()
        page.wait_for_url(f"{base}/equipment/**")

        # The week view: on a phone, the day's tab first; then a free afternoon cell.
        column = (day - (day - timedelta(days=day.weekday()))).days
        if device == "phone":
            page.locator(f"label[for='wd-{column}']").click()
        cells = page.locator(f".day-{column} a.cell.free")
        expect(cells.first).to_be_visible()
        shot("week")
        cells.nth(cells.count() // 2).click()  # htmx puts the form under the grid
        form = page.locator("#booking-form form[action$='/book']")
        expect(form).to_be_visible()
        assert page.url.startswith(f"{base}/equipment/"), "htmx kept the page"
        page.fill("#f-purpose", "Sensor enclosure")
        shot("form")
        form.locator("button[type='submit']").click()

        # My bookings: the new booking, then cancelled without a reload.
        page.wait_for_url(f"{base}/bookings")
        booking = page.locator("li.booking", has_text=machine)
        expect(booking).to_have_count(1)
        expect(booking).to_contain_text("Sensor enclosure")
        expect(booking.locator(".status-confirmed")).to_have_count(1)
        shot("bookings")
        booking.locator("form[action$='/cancel'] button").click()
        expect(booking.locator(".status-cancelled")).to_have_count(1)
        expect(booking.locator("form[action$='/cancel']")).to_have_count(0)
        shot("cancelled")
    finally:
        context.close()


def _outbox(server: LiveServer, email: str) -> list[tuple[str, bytes]]:
    """The server's outbox for one person: (subject, the .ics attached), oldest first."""
    import sqlite3

    with sqlite3.connect(server.workdir / "e2e.sqlite3") as db:
        return db.execute(
            "SELECT m.subject, a.content FROM outbox_message m"
            ' JOIN outbox_attachment a ON a.message_id = m.id WHERE m."to" = ? ORDER BY m.id',
            (email,),
        ).fetchall()


def _in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.top < window.innerHeight; }""",
        selector,
    )


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_priced_booking_its_mail_a_move_a_cancel_and_the_feed(device, chromium, labs_server):
    """Book a priced machine → the price and the total before "Book" → the confirmation mail
    with its .ics in the outbox → move it → cancel it → the feed says CANCELLED."""
    import httpx
    from playwright.sync_api import expect

    base, email, machine = labs_server.base_url, PRICED_EMAILS[device], PRICED[device]
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: dialog.accept())
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        path = SCREENSHOTS / f"labs-priced-{device}-{step:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        if device == "phone":
            no_horizontal_scroll(page)

    try:
        page.goto("/login")
        page.fill("#f-email", email)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")

        day = _search_day() + timedelta(days=1)
        page.goto("/labs/becamex-fablab")
        page.locator("a[href^='/equipment/']", has_text=machine).first.click()
        page.wait_for_url(f"{base}/equipment/**")
        expect(page.locator("#may-book.may-book-yes")).to_have_count(1)
        # The machine page opens on today's week; the day may lie in the next one (from
        # Thursday on, Vietnam's time), so always open the day's own week.
        page.goto(f"{page.url.split('?')[0]}?start={day.isoformat()}")
        column = day.weekday()
        if device == "phone":
            page.locator(f"label[for='wd-{column}']").click()
        cells = page.locator(f".day-{column} a.cell.free")
        expect(cells.first).to_be_visible()
        cells.nth(2).click()
        expect(page.locator("#booking-form form[action$='/book']")).to_be_visible()
        expect(page.locator("#price-total")).to_be_visible()
        page.wait_for_timeout(400)  # htmx's `show:` scroll
        assert _in_viewport(page, "#booking-form-card"), "the form is scrolled into view"
        one_hour = page.locator("#price-total").inner_text()
        shot("form-price")
        page.select_option("#f-end", index=1)  # 90 minutes: htmx asks for the new total
        expect(page.locator("#price-total")).not_to_have_text(one_hour)
        page.fill("#f-purpose", "Vỏ hộp cảm biến")
        shot("form-longer")
        page.locator("#booking-form form[action$='/book'] button[type='submit']").click()

        page.wait_for_url(f"{base}/bookings")
        booking = page.locator("li.booking", has_text=machine)
        expect(booking.locator(".status-confirmed")).to_have_count(1)
        booking_id = booking.get_attribute("id").removeprefix("booking-")
        uid = f"UID:booking-{booking_id}@"
        shot("booked")
        mails = _outbox(labs_server, email)
        assert len(mails) == 1 and b"METHOD:REQUEST" in mails[0][1] and uid.encode() in mails[0][1]
        assert b"SEQUENCE:0" in mails[0][1]

        booking.locator("a[href$='/reschedule']").click()
        page.wait_for_url(f"{base}/bookings/*/reschedule")
        start = page.input_value("#move-start")
        end = page.input_value("#move-end")
        later = lambda value: value[:11] + f"{int(value[11:13]) + 2:02d}" + value[13:]  # noqa: E731
        page.fill("#move-start", later(start))
        page.fill("#move-end", later(end))
        shot("move")
        page.locator("form[action$='/reschedule'] button[type='submit']").click()
        page.wait_for_url(f"{base}/bookings")
        mails = _outbox(labs_server, email)
        assert len(mails) == 2 and b"SEQUENCE:1" in mails[1][1] and uid.encode() in mails[1][1]

        page.goto("/bookings/calendar")
        page.locator("form[action='/bookings/calendar']:not(:has([name=action])) button").click()
        feed_url = page.locator(".feed-input").input_value()
        assert "/calendar/" in feed_url

        page.goto("/bookings")
        booking = page.locator("li.booking", has_text=machine)
        booking.locator("form[action$='/cancel'] button").click()
        expect(booking.locator(".status-cancelled")).to_have_count(1)
        shot("cancelled")
        mails = _outbox(labs_server, email)
        assert len(mails) == 3 and b"METHOD:CANCEL" in mails[2][1]

        feed = httpx.get(feed_url, timeout=10).text
        event = feed.split(uid, 1)[1].split("END:VEVENT", 1)[0]
        assert "STATUS:CANCELLED" in event and "SEQUENCE:1" in event
    finally:
        context.close()


run_setup(__name__, _setup)
