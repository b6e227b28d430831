"""Checking people in at the lab: by the booking's code (typed, or a scanned QR opening the
URL), only by staff of the booking's lab, only from 15 minutes before the start until the
end; checking out with a usage note; no-shows marked by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import timezone

from ecosystem.models import AuditEvent
from labs.models import Booking, BookingStatus, LabStaff
from tests.conftest import add_member, person
from tests.labs.conftest import make_equipment, make_host, make_lab


async def setup(start_in: timedelta, length: timedelta = timedelta(hours=1), **fields) -> Booking:
    host = await make_host("Becamex IDC")
    lab = await make_lab(host, "Becamex FabLab")
    other_lab = await make_lab(await make_host("TDMU"), "TDMU FabLab")
    machine = await make_equipment(lab)
    await LabStaff.create(lab=lab, user=await person("staff@example.org"))
    await LabStaff.create(lab=other_lab, user=await person("other@example.org"))
    await add_member(await person("admin@example.org"), host, "admin")
    booker = await person("booker@example.org")
    start = timezone.now() + start_in
    return await Booking.create(
        equipment=machine,
        user=booker,
        starts_at=start,
        ends_at=start + length,
        status=fields.pop("status", BookingStatus.CONFIRMED),
        purpose="Enclosure for a sensor",
        check_in_code="QR-code-123",
        **fields,
    )


async def as_(new_browser, email: str | None):
    browser = new_browser(lang="en")
    if email:
        await browser.login(email)
    return browser


URL = "/labs/checkin/QR-code-123"


@pytest.mark.parametrize(
    ("email", "status"),
    [
        (None, 303),
        ("booker@example.org", 403),
        ("admin@example.org", 403),
        ("other@example.org", 403),
        ("staff@example.org", 200),
    ],
)
async def test_only_staff_of_the_lab_open_a_scanned_code(new_browser, email, status):
    await setup(timedelta(minutes=10))
    browser = await as_(new_browser, email)
    response = await browser.get(URL)
    assert response.status_code == status
    if status == 200:
        assert "Booker" in response.text and 'value="check_in"' in response.text
    posted = await browser.post(URL, {"action": "check_in"}) if email else None
    if posted is not None and status == 403:
        assert posted.status_code == 403
        assert (await Booking.get(check_in_code="QR-code-123")).checked_in_at is None


async def test_staff_type_the_code_into_the_check_in_form(new_browser):
    booking = await setup(timedelta(minutes=5))
    staff = await as_(new_browser, "staff@example.org")
    lab_url = "/labs/becamex-fablab/checkin"
    found = await staff.post(lab_url, {"code": " QR-code-123 "})
    assert found.status_code == 303 and found.headers["location"] == URL
    scanned = await staff.post(lab_url, {"code": f"https://example.org{URL}"})
    assert scanned.headers["location"] == URL
    missing = await staff.post(lab_url, {"code": "nope"})
    assert missing.status_code == 404
    assert "No booking has this check-in code." in missing.text
    other = await as_(new_browser, "other@example.org")
    assert (
        await other.post("/labs/tdmu-fablab/checkin", {"code": "QR-code-123"})
    ).status_code == 403
    assert (await Booking.get(id=booking.id)).checked_in_at is None


@pytest.mark.parametrize(
    ("start_in", "length", "status", "text"),
    [
        (timedelta(minutes=14), timedelta(hours=1), 303, ""),
        (timedelta(minutes=-50), timedelta(hours=1), 303, ""),
        (timedelta(minutes=16), timedelta(hours=1), 422, "Check-in opens at"),
        (timedelta(minutes=-61), timedelta(hours=1), 422, "This booking has ended"),
    ],
)
async def test_check_in_opens_15_minutes_before_the_start_until_the_end(
    new_browser, start_in, length, status, text
):
    await setup(start_in, length)
    staff = await as_(new_browser, "staff@example.org")
    response = await staff.post(URL, {"action": "check_in"})
    assert response.status_code == status
    stored = await Booking.get(check_in_code="QR-code-123")
    if status == 303:
        assert stored.checked_in_at is not None
        assert await AuditEvent.exists(action="booking.checked_in")
    else:
        assert text in response.text
        assert stored.checked_in_at is None


async def test_pending_and_cancelled_bookings_are_not_checked_in(new_browser):
    await setup(timedelta(minutes=5), status=BookingStatus.PENDING)
    staff = await as_(new_browser, "staff@example.org")
    response = await staff.post(URL, {"action": "check_in"})
    assert response.status_code == 409
    assert "Only confirmed bookings can be checked in." in response.text


async def test_check_in_then_out_with_a_usage_note_over_htmx(new_browser):
    await setup(timedelta(minutes=-5))
    staff = await as_(new_browser, "staff@example.org")
    htmx = {"HX-Request": "true"}
    response = await staff.post(URL, {"action": "check_in"}, headers=htmx)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section class="card narrow" id="checkin-card">')
    assert "Checked in." in response.text and 'value="check_out"' in response.text
    twice = await staff.post(URL, {"action": "check_in"}, headers=htmx)
    assert twice.status_code == 409

    too_long = await staff.post(URL, {"action": "check_out", "usage_note": "x" * 1001})
    assert too_long.status_code == 422
    assert (await Booking.get(check_in_code="QR-code-123")).checked_out_at is None

    note = "Printed 3 parts, 120 g PETG"
    done = await staff.post(URL, {"action": "check_out", "usage_note": note}, headers=htmx)
    assert done.status_code == 200 and note in done.text
    stored = await Booking.get(check_in_code="QR-code-123")
    assert stored.status == BookingStatus.COMPLETED
    assert stored.checked_out_at is not None and stored.usage_note == note


async def test_staff_mark_a_no_show_once_the_booking_started(new_browser):
    await setup(timedelta(minutes=10))
    staff = await as_(new_browser, "staff@example.org")
    early = await staff.post(URL, {"action": "no_show"})
    assert early.status_code == 422
    assert "has not started yet" in early.text
    booking = await Booking.get(check_in_code="QR-code-123")
    booking.starts_at = timezone.now() - timedelta(minutes=20)
    await booking.save(update_fields=["starts_at"])
    other = await as_(new_browser, "other@example.org")
    assert (await other.post(URL, {"action": "no_show"})).status_code == 403
    assert (await staff.post(URL, {"action": "no_show"})).status_code == 303
    assert (await Booking.get(id=booking.id)).status == BookingStatus.NO_SHOW
    page = await staff.get(URL)
    assert "No-show" in page.text and 'value="check_in"' not in page.text
