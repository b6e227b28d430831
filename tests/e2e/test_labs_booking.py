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
        for email in EMAILS.values():
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


run_setup(__name__, _setup)
