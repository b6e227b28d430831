"""A big lab's grid on a 390 × 844 phone, in headless Chromium, in Vietnamese and English.

The journey: the week grid of a 100-machine lab opens on its first category and 40 machines
→ pick another category (htmx swaps the grid, the URL follows, the chooser marks it) → back
to the printers, next page (the URL carries the page) → the day view keeps the category and
the page → a new visit without parameters opens on the category picked last → Back walks the
pushed addresses. The page never scrolls sideways (the table scrolls in its box). Screenshots
go to tests/e2e/screenshots/grid-big-<lang>-NN-<step>.png. Selectors are classes, ids and
attributes, never translated text. Needs /usr/bin/chromium (skipped without it, unless
REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

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
    sign_in,
)
from tests.e2e.test_accessibility import AXE, axe_violations

SLUG = "big-grid-lab"
PRINTERS, LASERS, MILLS = 85, 10, 5
LOCALES = {"vi": "vi-VN", "en": "en-US"}
BOOKER = "basket.big@tdmu.edu.vn"

pytestmark = pytest.mark.browser


def _monday() -> date:
    from tortoise import timezone

    from tests.labs.conftest import HCMC

    day = (timezone.now().astimezone(HCMC) + timedelta(days=7)).date()
    return day - timedelta(days=day.weekday())


@pytest.fixture(scope="module")
def big_grid_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_labs_grid_big", packages="labs") as server:
        yield server


async def _setup() -> None:
    """Run in a subprocess with the server's environment: one lab of 100 machines in three
    categories, a few bookings next week."""
    from ecosystem.services.accounts import create_user
    from labs.models import Booking, BookingStatus, Equipment, EquipmentCategory
    from tests.labs.conftest import at, make_host, make_lab, quick_user

    async with setup_database():
        lab = await make_lab(await make_host(), "Big Grid Lab", slug=SLUG)
        kinds = (
            [(f"Máy in {n:02d}", EquipmentCategory.PRINTER_3D) for n in range(1, PRINTERS + 1)]
            + [(f"Laser {n:02d}", EquipmentCategory.LASER_CUTTER) for n in range(1, LASERS + 1)]
            + [(f"CNC {n}", EquipmentCategory.CNC) for n in range(1, MILLS + 1)]
        )
        await Equipment.bulk_create(
            [Equipment(lab=lab, name=name, category=category) for name, category in kinds]
        )
        someone = await quick_user("someone@tdmu.edu.vn", "Trần Thị Bình")
        await create_user(BOOKER, PASSWORD, "Lê Văn Cường", False, True)
        monday = _monday()
        for n, machine in enumerate(await Equipment.filter(lab_id=lab.id).order_by("id")):
            if n % 3:
                continue
            day = monday + timedelta(days=n % 7)
            await Booking.create(
                equipment=machine,
                user=someone,
                starts_at=at(day, 8),
                ends_at=at(day, 18),
                status=BookingStatus.CONFIRMED,
                check_in_code=f"big-{machine.id}",
            )


@pytest.mark.parametrize("lang", list(LOCALES))
def test_a_phone_pages_a_big_lab_by_category(lang, chromium, big_grid_server):
    from playwright.sync_api import expect

    base = big_grid_server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    # bypass_csp lets axe-core's script in (tests/e2e/test_accessibility.py does the same).
    context = chromium.new_context(
        base_url=base, locale=LOCALES[lang], bypass_csp=True, **VIEWPORTS["phone"]
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=SCREENSHOTS / f"grid-big-{lang}-{step:02d}-{name}.png", full_page=True)
        no_horizontal_scroll(page)

    def accessible() -> None:
        """No serious or critical axe-core violation (when `npm ci` installed axe-core)."""
        if AXE.exists():
            assert not axe_violations(page), page.url

    rows = page.locator("table.lab-grid tbody tr")
    first_machine = page.locator("table.lab-grid tbody th.machine-col a").first
    chooser = page.locator("nav.grid-categories")
    pages = page.locator("nav.grid-pages-top")
    monday = _monday().isoformat()
    try:
        page.goto(f"/labs/{SLUG}/week?start={monday}")
        assert page.locator("html").get_attribute("lang") == lang
        # The first category, its first forty machines, never the hundred at once.
        expect(rows).to_have_count(40)
        expect(first_machine).to_have_text("Máy in 01")
        expect(chooser.locator("a[aria-current='page']")).to_have_attribute(
            "href", f"/labs/{SLUG}/week?start={monday}&category=3d_printer"
        )
        expect(chooser.locator("a")).to_have_count(3)
        expect(pages.locator("a[aria-current='page']")).to_have_text("1")
        # The chooser is a labelled navigation landmark.
        assert chooser.get_attribute("aria-labelledby") == "grid-categories-title"
        shot("week-first-category")
        accessible()

        # Another category: htmx swaps the grid and pushes its address.
        chooser.locator("a[href*='category=laser_cutter']").click()
        page.wait_for_url(f"{base}/labs/{SLUG}/week?start={monday}&category=laser_cutter")
        expect(rows).to_have_count(LASERS)
        expect(chooser.locator("a[aria-current='page']")).to_have_attribute(
            "href", f"/labs/{SLUG}/week?start={monday}&category=laser_cutter"
        )
        expect(page.locator("nav.grid-pages")).to_have_count(0)  # ten machines: one page
        shot("lasers")

        # Back to the printers, then their next page from the links under the table: the
        # new page shows from its top, not from where the old one ended.
        chooser.locator("a[href*='category=3d_printer']").click()
        page.wait_for_url(f"{base}/labs/{SLUG}/week?start={monday}&category=3d_printer")
        bottom_next = page.locator("nav.grid-pages-bottom a[href$='page=2']")
        bottom_next.scroll_into_view_if_needed()
        expect(page.locator("#lab-grid .grid-nav")).not_to_be_in_viewport()
        bottom_next.click()
        page.wait_for_url(f"{base}/labs/{SLUG}/week?start={monday}&category=3d_printer&page=2")
        expect(first_machine).to_have_text("Máy in 41")
        expect(rows).to_have_count(40)
        expect(page.locator("#lab-grid .grid-nav")).to_be_in_viewport()
        expect(pages.locator("a[aria-current='page']")).to_have_text("2")
        shot("printers-page-2")
        accessible()
        # The page numbers above the table lead to the last page (five printers).
        pages.locator(".grid-page-number a[href$='page=3']").click()
        page.wait_for_url(f"{base}/labs/{SLUG}/week?start={monday}&category=3d_printer&page=3")
        expect(rows).to_have_count(PRINTERS - 80)
        shot("printers-page-3")

        # The day view keeps the category and the page.
        page.locator(".grid-modes a[href*='/day?']").click()
        page.wait_for_url(f"{base}/labs/{SLUG}/day?date={monday}&category=3d_printer&page=3")
        expect(page.locator("table.lab-grid-day")).to_be_visible()
        expect(first_machine).to_have_text("Máy in 81")
        shot("day-page-3")
        accessible()
        # Back walks the pushed addresses.
        page.go_back()
        page.wait_for_url(f"{base}/labs/{SLUG}/week?start={monday}&category=3d_printer&page=3")
        expect(first_machine).to_have_text("Máy in 81")

        # Pick the lasers again; a later visit without parameters opens on them.
        page.goto(f"/labs/{SLUG}/day?date={monday}&category=laser_cutter")
        page.goto(f"/labs/{SLUG}/week")
        expect(first_machine).to_have_text("Laser 01")
        expect(chooser.locator("a[aria-current='page']")).to_have_attribute(
            "href", re.compile(r"category=laser_cutter$")
        )
        shot("remembered")
    finally:
        context.close()


def test_a_basket_gathers_slots_from_two_pages_of_a_big_lab(chromium, big_grid_server):
    """Tick a printer on the first page, write the purpose, go to the next page (htmx takes
    the tick and the purpose along, the page says one more slot is ticked), tick another,
    book: both in one basket."""
    from playwright.sync_api import expect

    base = big_grid_server.base_url
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["phone"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    day = (_monday() + timedelta(days=8)).isoformat()  # a Tuesday without bookings
    try:
        sign_in(page, base, BOOKER)
        page.goto(f"/labs/{SLUG}/day?date={day}&category=3d_printer")
        rows = page.locator("table.lab-grid-day tbody tr")
        expect(rows).to_have_count(40)
        rows.nth(0).locator("td.free input.pick").nth(2).check()
        page.fill("#basket-purpose", "Mô hình đồ án")
        page.locator("nav.grid-pages-top a.grid-page-step[rel='next']").click()
        page.wait_for_url(re.compile(r".*page=2.*slot=.*purpose=.*"))
        expect(page.locator("table.lab-grid-day tbody th.machine-col a").first).to_have_text(
            "Máy in 41"
        )
        expect(page.locator(".basket-carried")).to_be_visible()
        expect(page.locator("#basket-form input.carried-slot")).to_have_count(1)
        expect(page.locator("#basket-purpose")).to_have_value("Mô hình đồ án")
        rows.nth(3).locator("td.free input.pick").nth(4).check()
        page.screenshot(path=SCREENSHOTS / "grid-big-vi-basket-two-pages.png", full_page=True)
        no_horizontal_scroll(page)
        page.locator(".basket-bar button[type='submit']").click()
        page.wait_for_url(f"{base}/labs/{SLUG}/basket?ids=**")
        expect(page.locator(".basket-list li")).to_have_count(2)
        expect(page.locator(".basket-list")).to_contain_text("Máy in 01")
        expect(page.locator(".basket-list")).to_contain_text("Máy in 44")
    finally:
        context.close()


run_setup(__name__, _setup)
