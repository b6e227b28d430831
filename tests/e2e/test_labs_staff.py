"""Lab staff put a maintenance blackout over a paid booking, in headless Chromium (desktop and
390 px phone): the staff see the booking listed first, confirm "cancel all and refund", and the
booker's payment is refunded in full and their e-mail is in the outbox.

The real app runs as a subprocess on a fresh SQLite database (tests/e2e/live.py); the test
reads that database afterwards. Screenshots go to tests/e2e/screenshots/labs-staff-*.png.
Selectors are ids, names and classes, never translated text.
"""

from __future__ import annotations

import sqlite3
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

STAFF = "ky.thuat@becamex.vn"
BOOKERS = {name: f"maker.{name}@tdmu.edu.vn" for name in VIEWPORTS}
MACHINES = {name: f"Laser {name.title()}" for name in VIEWPORTS}
DAYS_AHEAD = 4
PAID = 180_000

pytestmark = pytest.mark.browser


def _day() -> date:
    from tortoise import timezone

    from tests.labs.conftest import HCMC

    return (timezone.now().astimezone(HCMC) + timedelta(days=DAYS_AHEAD)).date()


@pytest.fixture(scope="module")
def staff_server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_labs_staff", packages="labs") as server:
        yield server


async def _setup() -> None:
    """A lab with its staff member; per device a laser and a paid booking on it at 10:00."""
    from ecosystem.payments.models import Payment, PaymentMethod, PaymentState
    from ecosystem.services.accounts import create_user
    from labs.models import Booking, BookingStatus, EquipmentCategory, LabStaff
    from tests.labs.conftest import at, make_equipment, make_lab

    async with setup_database():
        lab = await make_lab(name="Becamex FabLab", slug="becamex-fablab")
        staff = await create_user(STAFF, PASSWORD, "Nguyễn Văn Kỹ", False, True)
        await LabStaff.create(lab=lab, user=staff)
        for device, email in BOOKERS.items():
            machine = await make_equipment(lab, MACHINES[device], EquipmentCategory.LASER_CUTTER)
            booker = await create_user(email, PASSWORD, "Trần Thị Lan", False, True)
            start = at(_day(), 10)
            booking = await Booking.create(
                equipment=machine,
                user=booker,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                status=BookingStatus.CONFIRMED,
                price_amount=PAID,
                purpose="Sensor enclosure",
                check_in_code=f"e2e-{device}",
            )
            payment = await Payment.create(
                subject_kind="labs.booking",
                subject_id=booking.id,
                user_id=booker.id,
                method=PaymentMethod.AT_LAB,
                state=PaymentState.PAID,
                amount=PAID,
                issuer_key=f"labs.lab:{lab.id}",
            )
            await Booking.filter(id=booking.id).update(payment_id=payment.id)


def _read(server: LiveServer, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(server.workdir / "e2e.sqlite3") as db:
        return db.execute(sql, params).fetchall()


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_a_blackout_over_a_booking_is_listed_then_refunds_and_tells_the_booker(
    device, chromium, staff_server
):
    from playwright.sync_api import expect

    base, booker, machine = staff_server.base_url, BOOKERS[device], MACHINES[device]
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS[device])
    page = context.new_page()
    page.set_default_timeout(10_000)
    step = 0

    def shot(name: str) -> None:
        nonlocal step
        step += 1
        path = SCREENSHOTS / f"labs-staff-{device}-{step:02d}-{name}.png"
        page.screenshot(path=path, full_page=True)
        if device == "phone":
            no_horizontal_scroll(page)

    (equipment_id,) = _read(staff_server, "SELECT id FROM labs_equipment WHERE name = ?", machine)[
        0
    ]
    (booking_id,) = _read(
        staff_server, "SELECT id FROM labs_booking WHERE equipment_id = ?", equipment_id
    )[0]
    try:
        page.goto("/login")
        page.fill("#f-email", STAFF)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")

        page.goto(f"/labs/becamex-fablab/equipment/{equipment_id}/edit#blackouts")
        blackout = page.locator("form[action$='/blackouts']")
        day = _day().isoformat()
        blackout.locator("#f-starts_at").fill(f"{day}T09:00")
        blackout.locator("#f-ends_at").fill(f"{day}T17:00")
        blackout.locator("#f-reason").fill("Thay ống laser")
        shot("blackout-form")
        blackout.locator("button[type='submit']").click()

        # The confirmation step: the booking is listed, nothing written yet.
        row = page.locator(f"#affected-{booking_id}")
        expect(row).to_be_visible()
        expect(row).to_contain_text(booker)
        expect(page.locator("html")).to_have_attribute("lang", "vi")
        assert not _read(
            staff_server, "SELECT id FROM labs_blackout WHERE equipment_id = ?", equipment_id
        )
        shot("listed")
        page.locator("button[name='all'][value='cancel']").click()

        page.wait_for_url(f"{base}/labs/becamex-fablab/equipment/{equipment_id}/edit")
        expect(page.locator("#blackouts li", has_text="Thay ống laser")).to_have_count(1)
        shot("done")
    finally:
        context.close()

    (status,) = _read(staff_server, "SELECT status FROM labs_booking WHERE id = ?", booking_id)[0]
    assert status == "cancelled"
    state, refunded = _read(
        staff_server,
        "SELECT state, refunded_amount FROM payment WHERE subject_kind = 'labs.booking' "
        "AND subject_id = ?",
        booking_id,
    )[0]
    assert (state, refunded) == ("refunded", PAID)
    mails = _read(
        staff_server, 'SELECT subject, text_body FROM outbox_message WHERE "to" = ?', booker
    )
    assert len(mails) == 1
    subject, body = mails[0]
    assert machine in subject and "Thay ống laser" in body
    assert "180" in body  # the amount refunded, in the booker's language


def test_the_agenda_prints_without_menu_language_switcher_or_buttons(chromium, staff_server):
    from playwright.sync_api import expect

    base = staff_server.base_url
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["desktop"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto("/login")
        page.fill("#f-email", STAFF)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"/labs/becamex-fablab/agenda?day={_day().isoformat()}")
        expect(page.locator(".topbar")).to_be_visible()
        page.emulate_media(media="print")
        for hidden in (".topbar", "#language-select", ".lab-staff-nav", "button", ".footer"):
            expect(page.locator(hidden).first).to_be_hidden()
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("h2", has_text=MACHINES["desktop"])).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "labs-staff-agenda-print.png", full_page=True)
    finally:
        context.close()


run_setup(__name__, _setup)
