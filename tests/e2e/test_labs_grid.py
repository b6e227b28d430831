"""One lab, one grid, in headless Chromium on a desktop and on a 390 px phone.

The journey: sign in → the lab's week grid → pick a day (htmx swaps the grid, the URL
follows) → filter by category (URL again) → Back returns to the unfiltered day → pick a free
cell (htmx loads the booking form, scrolled into view) → book it → the grid shows it as
yours; then tick two free cells of two machines → book them together → one confirmation page
→ both show as yours. Screenshots go to tests/e2e/screenshots/. Selectors are ids, classes
and attributes, never translated text. Needs /usr/bin/chromium (skipped without it, unless
REQUIRE_BROWSER=1).
"""

from __future__ import annotations

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
)

EMAILS = {name: f"grid.{name}@tdmu.edu.vn" for name in VIEWPORTS}
LABS = {name: f"Grid Lab {name.title()}" for name in VIEWPORTS}
DAYS_AHEAD = 3

pytestmark = pytest.mark.browser


def _day() -> date:
    from tortoise import timezone

    from tests.labs.conftest import HCMC

    return (timezone.now().astimezone(HCMC) + timedelta(days=DAYS_AHEAD)).date()


def _slug(device: str) -> str:
    return LABS[device].lower().replace(" ", "-")


@pytest.fixture(scope="module")
def grid_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_labs_grid", packages="labs") as server:
        yield server


async def _setup() -> None:
    """Run in a subprocess with the server's environment: one lab per device, three machines."""
    from ecosystem.services.accounts import create_user
    from labs.models import EquipmentCategory
    from tests.labs.conftest import make_equipment, make_host, make_lab

    async with setup_database():
        host = await make_host()
        for device, name in LABS.items():
            lab = await make_lab(host, name)
            await make_equipment(lab, "Prusa MK4", EquipmentCategory.PRINTER_3D)
            await make_equipment(lab, "Bambu X1", EquipmentCategory.PRINTER_3D)
            await make_equipment(lab, "Trotec Speedy", EquipmentCategory.LASER_CUTTER)
            await create_user(EMAILS[device], PASSWORD, "Nguyễn Văn An", False, True)


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_pick_a_cell_book_it_then_book_two_cells_together(device, chromium, grid_server):
    from playwright.sync_api import expect

    base, slug = grid_server.base_url, _slug(device)
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(10_000)
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        page.screenshot(path=SCREENSHOTS / f"grid-{device}-{step:02d}-{name}.png", full_page=True)
        if device == "phone":
            no_horizontal_scroll(page)  # the grid scrolls inside its own box

    try:
        page.goto("/login")
        page.fill("#f-email", EMAILS[device])
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")

        day = _day()
        page.goto(f"/labs/{slug}/week?start={day.isoformat()}")
        expect(page.locator("table.lab-grid-week tbody tr")).to_have_count(3)
        shot("week")
        # A day header: htmx swaps the grid and pushes the day's URL.
        page.locator(f"table.lab-grid-week thead a[href*='date={day.isoformat()}']").click()
        page.wait_for_url(f"{base}/labs/{slug}/day?date={day.isoformat()}")
        expect(page.locator("table.lab-grid-day")).to_be_visible()
        # The machine names stay in view while the grid scrolls sideways.
        sticky = page.locator("table.lab-grid-day tbody th.machine-col").first
        assert sticky.evaluate("e => getComputedStyle(e).position") == "sticky"
        # Filter by category: the URL follows; Back returns to every machine.
        page.select_option("#grid-category", "laser_cutter")
        page.wait_for_url(f"{base}/labs/{slug}/day?date={day.isoformat()}&category=laser_cutter")
        expect(page.locator("table.lab-grid-day tbody tr")).to_have_count(1)
        shot("filtered")
        page.go_back()
        page.wait_for_url(f"{base}/labs/{slug}/day?date={day.isoformat()}")
        expect(page.locator("table.lab-grid-day tbody tr")).to_have_count(3)

        # Pick a free cell of the first machine: the booking form, in view.
        first_row = page.locator("table.lab-grid-day tbody tr").first
        first_row.locator("td.free a.slot").nth(2).click()
        form = page.locator("#booking-form form[action$='/book']")
        expect(form).to_be_visible()
        expect(form).to_be_in_viewport()
        assert "/labs/" in page.url, "htmx kept the grid page"
        page.fill("#f-purpose", "Vỏ hộp cảm biến")
        shot("form")
        form.locator("button[type='submit']").click()
        page.wait_for_url(f"{base}/bookings")
        expect(page.locator("li.booking")).to_have_count(1)

        # Back on the day: the booking shows as mine. Tick two cells of two machines.
        page.goto(f"/labs/{slug}/day?date={day.isoformat()}")
        expect(page.locator("td.yours")).to_have_count(1)
        rows = page.locator("table.lab-grid-day tbody tr")
        rows.nth(1).locator("td.free input.pick").nth(4).check()
        rows.nth(2).locator("td.free input.pick").nth(5).check()
        page.fill("#basket-purpose", "Hai khung giờ")
        shot("basket")
        page.locator(".basket-bar button[type='submit']").click()
        page.wait_for_url(f"{base}/labs/{slug}/basket?ids=**")
        expect(page.locator(".basket-list li")).to_have_count(2)
        expect(page.locator(".basket-list .status-confirmed")).to_have_count(2)
        shot("confirmed")
        page.goto(f"/labs/{slug}/day?date={day.isoformat()}")
        expect(page.locator("td.yours")).to_have_count(3)
        shot("mine")
    finally:
        context.close()


run_setup(__name__, _setup)
