"""Walk-ins through HTTP: staff book for a member of the lab's organisation or for a guest; the
calendar, overlap and training rules hold, the booker's notice and grid do not; per role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import timezone

from ecosystem.models import AuditEvent
from labs.models import Blackout, Booking, BookingStatus, Certification, EquipmentCategory
from tests.conftest import add_member, person
from tests.labs.conftest import HCMC, at, local_day, make_equipment
from tests.labs.test_staff import World, make_world, signed_in


def walk_in_url(world: World) -> str:
    return f"/labs/{world.lab.slug}/walk-in"


def local(moment) -> str:
    return moment.astimezone(HCMC).strftime("%Y-%m-%dT%H:%M")


async def test_staff_find_a_member_and_book_for_them(new_browser):
    world = await make_world()
    lan = await person("lan@becamex.vn", name="Trần Thị Lan")
    await add_member(lan, world.host, "member")
    await person("stranger@example.org", name="Trần Văn Lạ")  # not of the lab's organisation
    staff = await signed_in(new_browser, "staff")
    found = await staff.get(f"{walk_in_url(world)}?q=trần")
    assert found.status_code == 200
    assert "lan@becamex.vn" in found.text and "stranger@example.org" not in found.text

    day = local_day(2)
    booked = await staff.post(
        walk_in_url(world),
        {
            "person_id": str(lan.id),
            "equipment_id": str(world.machine.id),
            "starts_at": f"{day}T10:07",  # off the booker's grid: staff may
            "ends_at": f"{day}T11:00",
            "purpose": "Walk-in print",
        },
    )
    assert booked.status_code == 303, booked.text[:800]
    booking = await Booking.get(user_id=lan.id)
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.starts_at, booking.ends_at) == (at(day, 10, 7), at(day, 11))
    assert booking.decided_by_id is not None and booking.guest_name == ""
    assert booked.headers["location"] == f"/labs/checkin/{booking.check_in_code}"
    assert await AuditEvent.filter(action="booking.walk_in").count() == 1

    # An account outside the lab's organisation cannot be chosen by tampering with the form.
    stranger = await Booking.filter(user__email="stranger@example.org").exists()
    assert not stranger


async def test_a_guest_now_and_the_rules_that_still_hold(new_browser):
    world = await make_world()
    staff = await signed_in(new_browser, "staff")
    now = timezone.now().astimezone(HCMC).replace(second=0, microsecond=0)
    day = local_day(3)
    guest = {
        "guest_name": "Nguyễn Văn Khách",
        "guest_phone": "+84 912 345 678",
        "equipment_id": str(world.machine.id),
        "starts_at": f"{day}T09:00",
        "ends_at": f"{day}T10:00",
    }
    booked = await staff.post(walk_in_url(world), guest)
    assert booked.status_code == 303, booked.text[:800]
    stored = await Booking.get(guest_name="Nguyễn Văn Khách")
    assert stored.guest_phone == "+84 912 345 678" and stored.status == BookingStatus.CONFIRMED
    card = await staff.get(booked.headers["location"])
    assert "Nguyễn Văn Khách" in card.text

    overlap = await staff.post(walk_in_url(world), {**guest, "starts_at": f"{day}T09:30"})
    assert overlap.status_code == 409
    closed = await staff.post(
        walk_in_url(world), {**guest, "starts_at": f"{day}T19:00", "ends_at": f"{day}T20:00"}
    )
    assert closed.status_code == 422 and "outside the opening hours" in closed.text
    assert "Nguyễn Văn Khách" in closed.text  # what was typed stays
    await Blackout.create(
        equipment=world.machine, starts_at=at(day, 12), ends_at=at(day, 14), reason="Nozzle"
    )
    blocked = await staff.post(
        walk_in_url(world), {**guest, "starts_at": f"{day}T13:00", "ends_at": f"{day}T15:00"}
    )
    assert blocked.status_code == 422 and "maintenance blackout" in blocked.text
    past = await staff.post(
        walk_in_url(world),
        {
            **guest,
            "starts_at": local(now - timedelta(hours=3)),
            "ends_at": local(now - timedelta(hours=2)),
        },
    )
    assert past.status_code == 422 and "in the past" in past.text
    nobody = await staff.post(walk_in_url(world), {**guest, "guest_name": ""})
    assert nobody.status_code == 422 and "write the guest" in nobody.text
    bad_phone = await staff.post(walk_in_url(world), {**guest, "guest_phone": "call me"})
    assert bad_phone.status_code == 422
    assert await Booking.all().count() == 1


async def test_training_holds_for_walk_ins(new_browser):
    world = await make_world()
    laser = await make_equipment(
        world.lab, "Epilog", EquipmentCategory.LASER_CUTTER, requires_training=True
    )
    lan = await person("lan@becamex.vn", name="Trần Thị Lan")
    await add_member(lan, world.host, "member")
    staff = await signed_in(new_browser, "staff")
    day = local_day(2)
    form = {
        "person_id": str(lan.id),
        "equipment_id": str(laser.id),
        "starts_at": f"{day}T09:00",
        "ends_at": f"{day}T10:00",
    }
    refused = await staff.post(walk_in_url(world), form)
    assert refused.status_code == 422 and "training" in refused.text
    guest = {**form, "person_id": "", "guest_name": "Khách"}
    assert (await staff.post(walk_in_url(world), guest)).status_code == 422
    await Certification.create(user_id=lan.id, category=EquipmentCategory.LASER_CUTTER)
    assert (await staff.post(walk_in_url(world), form)).status_code == 303


@pytest.mark.parametrize(
    "role", ["plain", "member", "org_admin", "other_staff", "unverified_staff"]
)
async def test_only_the_labs_verified_staff_book_walk_ins(new_browser, role):
    world = await make_world()
    browser = await signed_in(new_browser, role)
    assert (await browser.get(f"{walk_in_url(world)}?q=member")).status_code == 403
    day = local_day(2)
    answer = await browser.post(
        walk_in_url(world),
        {
            "guest_name": "Khách",
            "equipment_id": str(world.machine.id),
            "starts_at": f"{day}T09:00",
            "ends_at": f"{day}T10:00",
        },
    )
    assert answer.status_code == 403
    assert not await Booking.exists()
