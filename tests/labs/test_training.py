"""Trainings and certifications: staff plan a session, people book a place (never more than
the capacity, even all at once), staff mark attendance and grant a certification that opens
the machines of that category in every lab of the network."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, timedelta

from tortoise import timezone

from ecosystem.errors import Conflict
from ecosystem.models import User
from labs.models import (
    Certification,
    EquipmentCategory,
    LabStaff,
    TrainingEnrolment,
    TrainingSession,
)
from labs.services import training
from tests.conftest import person
from tests.labs.conftest import (
    at,
    bearer,
    booking_json,
    local_day,
    make_equipment,
    make_host,
    make_lab,
)


async def staffed_lab(email: str = "staff@becamex.com.vn"):
    lab = await make_lab()
    staff = await person(email)
    await LabStaff.create(lab=lab, user=staff)
    return lab, staff


async def a_session(lab, capacity: int = 3, days: int = 5, category=EquipmentCategory.LASER_CUTTER):
    start = at(local_day(days), 9).astimezone(UTC)
    return await TrainingSession.create(
        lab=lab,
        category=category,
        title="Laser cutter safety",
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        capacity=capacity,
    )


async def test_staff_create_a_session_and_others_may_not(browser, new_browser):
    lab, _staff = await staffed_lab()
    await browser.login("staff@becamex.com.vn")
    day = local_day(7).isoformat()
    form = {
        "category": "laser_cutter",
        "title": "Laser cutter safety",
        "starts_at": f"{day}T09:00",
        "ends_at": f"{day}T12:00",
        "capacity": "6",
    }
    response = await browser.post(f"/labs/{lab.slug}/trainings", form)
    assert response.status_code == 303
    session = await TrainingSession.get(lab_id=lab.id)
    assert session.capacity == 6
    assert session.starts_at == at(local_day(7), 9)  # read in the lab's zone
    page = await browser.get(f"/labs/{lab.slug}/trainings")
    assert "Laser cutter safety" in page.text

    bad = await browser.post(f"/labs/{lab.slug}/trainings", {**form, "capacity": "0"})
    assert bad.status_code == 422
    assert await TrainingSession.filter(lab_id=lab.id).count() == 1

    await person("someone@eiu.edu.vn")
    other = new_browser(lang="en")
    await other.login("someone@eiu.edu.vn")
    assert (await other.get(f"/labs/{lab.slug}/trainings")).status_code == 403
    refused = await other.post(f"/labs/{lab.slug}/trainings", form)
    assert refused.status_code == 403
    assert await TrainingSession.filter(lab_id=lab.id).count() == 1


async def test_book_cancel_attend_certify_then_book_the_machine(client, new_browser):
    lab, _staff = await staffed_lab()
    session = await a_session(lab, capacity=2)
    learner = await person("lan@eiu.edu.vn")

    me = new_browser(lang="en")
    await me.login("lan@eiu.edu.vn")
    listing = await me.get("/trainings")
    assert "Laser cutter safety" in listing.text
    assert "2 of 2 places free" in listing.text
    assert (await me.post(f"/trainings/{session.id}/enrol")).status_code == 303
    assert "You have a place." in (await me.get("/trainings")).text
    assert (await me.post(f"/trainings/{session.id}/cancel")).status_code == 303
    assert not await TrainingEnrolment.exists(session_id=session.id)
    await me.post(f"/trainings/{session.id}/enrol")
    enrolment = await TrainingEnrolment.get(session_id=session.id, user_id=learner.id)

    staff = new_browser(lang="en")
    await staff.login("staff@becamex.com.vn")
    # Not present yet: no certification.
    await staff.post(f"/labs/{lab.slug}/trainings/enrolments/{enrolment.id}/certify", {})
    assert not await Certification.exists(user_id=learner.id)
    await staff.post(
        f"/labs/{lab.slug}/trainings/enrolments/{enrolment.id}/attendance", {"attended": "1"}
    )
    expiry = local_day(400).isoformat()
    await staff.post(
        f"/labs/{lab.slug}/trainings/enrolments/{enrolment.id}/certify", {"expires_on": expiry}
    )
    certification = await Certification.get(user_id=learner.id)
    assert certification.category == EquipmentCategory.LASER_CUTTER
    assert certification.expires_at is not None

    mine = await me.get("/trainings/mine")
    assert "Laser cutter" in mine.text and "valid until" in mine.text

    # Valid across the network: a laser cutter in another host's lab can now be booked.
    other_lab = await make_lab(await make_host("So KHCN"), name="Shared FabLab")
    laser = await make_equipment(
        other_lab, "Epilog", EquipmentCategory.LASER_CUTTER, requires_training=True
    )
    start = at(local_day(3), 10)
    response = await client.post(
        "/api/v1/bookings",
        json=booking_json(laser, start, start + timedelta(hours=1)),
        headers=await bearer(learner),
    )
    assert response.status_code == 201, response.text


async def test_a_full_session_refuses_and_others_cannot_mark_attendance(new_browser):
    lab, _staff = await staffed_lab()
    session = await a_session(lab, capacity=1)
    first = await person("first@eiu.edu.vn")
    await person("second@eiu.edu.vn")
    await training.enrol(first, session.id)
    second = new_browser(lang="en")
    await second.login("second@eiu.edu.vn")
    await second.post(f"/trainings/{session.id}/enrol")
    page = await second.get("/trainings")
    assert "This session is full." in page.text
    enrolment = await TrainingEnrolment.get(session_id=session.id)
    refused = await second.post(
        f"/labs/{lab.slug}/trainings/enrolments/{enrolment.id}/attendance", {"attended": "1"}
    )
    assert refused.status_code == 403
    assert (await TrainingEnrolment.get(id=enrolment.id)).attended is None
    assert await TrainingEnrolment.filter(session_id=session.id).count() == 1


async def test_capacity_is_never_exceeded_when_everyone_books_at_once(app):
    lab = await make_lab()
    session = await a_session(lab, capacity=5)
    await User.bulk_create(
        [
            User(email=f"rush{n}@eiu.edu.vn", full_name=f"Rush {n}", password_hash="!")
            for n in range(30)
        ]
    )
    users = await User.filter(email__startswith="rush").order_by("id")

    async def attempt(user):
        try:
            await training.enrol(user, session.id)
            return "ok"
        except Conflict as exc:
            return exc.code

    outcomes = Counter(await asyncio.gather(*(attempt(u) for u in users)))
    assert outcomes == {"ok": 5, "session_full": 25}
    assert await TrainingEnrolment.filter(session_id=session.id).count() == 5


async def test_upcoming_list_runs_a_constant_number_of_queries(app, count_queries):
    lab = await make_lab()
    viewer = await person("viewer@eiu.edu.vn")
    await a_session(lab)
    with count_queries() as few:
        await training.upcoming_sessions(viewer)
    for days in range(6, 16):
        s = await a_session(lab, days=days)
        await training.enrol(viewer, s.id)
    with count_queries() as many:
        views = await training.upcoming_sessions(viewer)
    assert len(views) == 11
    assert len(few.statements) == len(many.statements)


async def test_sessions_that_started_take_no_more_places(app):
    lab = await make_lab()
    session = await a_session(lab)
    user = await person("late@eiu.edu.vn")
    later = session.starts_at + timedelta(minutes=1)
    try:
        await training.enrol(user, session.id, now=later)
    except Exception as exc:  # noqa: BLE001
        assert getattr(exc, "code", "") == "session_started"
    else:
        raise AssertionError("enrolled after the start")
    assert timezone.now() < session.starts_at
