"""At check-out through HTTP: staff extend a booking when the machine is free after it, or end
it early and free the rest; the price stays as booked; only the lab's verified staff."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from tortoise import timezone

from ecosystem.models import AuditEvent
from labs.models import Blackout, Booking, BookingStatus, LabStaff
from tests.conftest import add_member, person
from tests.labs.conftest import make_equipment, make_host, make_lab

ALWAYS_OPEN = {weekday: [(time(0), time(0))] for weekday in range(7)}
URL = "/labs/checkin/QR-running"


async def running_booking(**fields) -> Booking:
    """A booking that started 5 minutes ago and lasts an hour, in a lab open day and night."""
    host = await make_host("Becamex IDC")
    lab = await make_lab(host, "Becamex FabLab", hours=ALWAYS_OPEN)
    other_lab = await make_lab(await make_host("TDMU"), "TDMU FabLab")
    machine = await make_equipment(lab)
    await LabStaff.create(lab=lab, user=await person("staff@example.org"))
    await LabStaff.create(lab=other_lab, user=await person("other@example.org"))
    await LabStaff.create(lab=lab, user=await person("unverified@example.org", verified=False))
    await add_member(await person("admin@example.org"), host, "admin")
    booker = await person("booker@example.org")
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    return await Booking.create(
        equipment=machine,
        user=booker,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        status=BookingStatus.CONFIRMED,
        price_amount=100_000,
        check_in_code="QR-running",
        **fields,
    )


async def staff_browser(new_browser, email="staff@example.org"):
    browser = new_browser(lang="en")
    await browser.login(email)
    return browser


async def test_extend_when_free_and_refuse_when_the_next_booking_follows(new_browser):
    booking = await running_booking()
    staff = await staff_browser(new_browser)
    card = await staff.get(URL)
    assert 'value="extend"' in card.text
    done = await staff.post(URL, {"action": "extend", "extend_minutes": "30"})
    assert done.status_code == 303
    stored = await Booking.get(id=booking.id)
    assert stored.ends_at == booking.ends_at + timedelta(minutes=30)
    assert stored.sequence == 1 and stored.price_amount == 100_000
    assert await AuditEvent.filter(action="booking.extended").count() == 1

    await Booking.create(
        equipment_id=booking.equipment_id,
        user=await person("next@example.org"),
        starts_at=stored.ends_at + timedelta(minutes=15),
        ends_at=stored.ends_at + timedelta(hours=1),
        status=BookingStatus.CONFIRMED,
        check_in_code="next",
    )
    taken = await staff.post(URL, {"action": "extend", "extend_minutes": "30"})
    assert taken.status_code == 409 and "booked right after" in taken.text
    fits = await staff.post(URL, {"action": "extend", "extend_minutes": "15"})
    assert fits.status_code == 303
    assert (await Booking.get(id=booking.id)).ends_at == stored.ends_at + timedelta(minutes=15)
    odd = await staff.post(URL, {"action": "extend", "extend_minutes": "7"})
    assert odd.status_code == 422


async def test_a_blackout_after_the_booking_stops_an_extension(new_browser):
    booking = await running_booking()
    await Blackout.create(
        equipment_id=booking.equipment_id,
        starts_at=booking.ends_at,
        ends_at=booking.ends_at + timedelta(hours=2),
    )
    staff = await staff_browser(new_browser)
    refused = await staff.post(URL, {"action": "extend", "extend_minutes": "15"})
    assert refused.status_code == 422 and "blackout" in refused.text
    assert (await Booking.get(id=booking.id)).ends_at == booking.ends_at


async def test_end_early_at_check_out_frees_the_rest(new_browser):
    booking = await running_booking(checked_in_at=timezone.now() - timedelta(minutes=4))
    staff = await staff_browser(new_browser)
    htmx = {"HX-Request": "true"}
    done = await staff.post(
        URL, {"action": "check_out", "usage_note": "Done early", "end_now": "1"}, headers=htmx
    )
    assert done.status_code == 200
    stored = await Booking.get(id=booking.id)
    assert stored.status == BookingStatus.COMPLETED
    assert booking.starts_at < stored.ends_at <= timezone.now()
    assert stored.price_amount == 100_000  # the price stays as booked
    # The rest of the slot is free for anyone at once.
    from labs.intervals import Interval
    from labs.services import lock

    rest = Interval(stored.ends_at, booking.ends_at)
    assert not await lock.slot_taken(booking.equipment_id, rest)


async def test_a_plain_check_out_keeps_the_end(new_browser):
    booking = await running_booking(checked_in_at=timezone.now() - timedelta(minutes=4))
    staff = await staff_browser(new_browser)
    assert (await staff.post(URL, {"action": "check_out"})).status_code == 303
    assert (await Booking.get(id=booking.id)).ends_at == booking.ends_at


@pytest.mark.parametrize(
    "email",
    ["booker@example.org", "admin@example.org", "other@example.org", "unverified@example.org"],
)
async def test_only_the_labs_verified_staff_extend_or_end(new_browser, email):
    booking = await running_booking(checked_in_at=timezone.now())
    browser = await staff_browser(new_browser, email)
    extend = await browser.post(URL, {"action": "extend", "extend_minutes": "30"})
    assert extend.status_code == 403
    end = await browser.post(URL, {"action": "check_out", "end_now": "1"})
    assert end.status_code == 403
    stored = await Booking.get(id=booking.id)
    assert stored.ends_at == booking.ends_at and stored.status == BookingStatus.CONFIRMED
