"""Issue 17 item 4: mentor office hours. A mentor publishes weekly slots, founders of startups
enrolled in the programme book them, one slot is booked once (the database decides, also
for two founders at the same instant), either side cancels and the other hears of it, the
mentor logs the meeting as a session linked to the booking. Over HTTP, per role, on SQLite
and (with TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.db import atomic
from ecosystem.models import OutboxMessage
from incubator import office_slots
from incubator.models import (
    Cohort,
    MentoringSession,
    OfficeBookingStatus,
    OfficeHourBooking,
    OfficeHours,
    ProgrammeRole,
    ProgrammeRoleKind,
)
from incubator.services.office_hours import local_today, pattern_of
from tests.conftest import person
from tests.incubator.conftest import accepted_enrolment, member, programme, startup, world


async def signed_in(new_browser, user):
    browser = new_browser(lang="en")
    await browser.login(user.email)
    return browser


def outcome(response) -> int | str:
    if response.status_code == 303 and response.headers["location"].startswith("/login"):
        return "login"
    return response.status_code


def week_ahead():
    """A day a week ahead (far enough that no slot of it has begun, whatever the clock)."""
    return local_today() + timedelta(days=7)


async def publish(browser, w, **fields) -> OfficeHours:
    day = fields.pop("day", week_ahead())
    form = {
        "weekday": str(day.weekday()),
        "start": "09:00",
        "slot_minutes": "30",
        "slots": "3",
        "weeks": "4",
        "first_day": day.isoformat(),
        "place": "EIU, phòng B2.03",
        **fields,
    }
    response = await browser.post(f"/incubator/programmes/{w.programme.id}/office-hours", form)
    assert response.status_code == 303, response.text[:800]
    return await OfficeHours.filter(programme_id=w.programme.id).order_by("-id").first()


def first_slot(series: OfficeHours, index: int = 0) -> office_slots.Slot:
    return office_slots.slots(pattern_of(series), series.first_day, series.first_day)[index]


async def book(browser, series, slot, **extra):
    return await browser.post(
        f"/incubator/office-hours/{series.id}/book",
        {"start": slot.key, "topic": "Gọi vốn vòng hạt giống", **extra},
    )


async def test_mentor_publishes_a_founder_books_and_both_see_it(new_browser):
    w = await world()
    mentor = await signed_in(new_browser, w.mentor)
    series = await publish(mentor, w)
    assert (series.weekday, series.start_minute, series.slots) == (week_ahead().weekday(), 540, 3)
    assert series.last_day == series.first_day + timedelta(weeks=3)

    founder = await signed_in(new_browser, w.founder)
    board = await founder.get(f"/incubator/programmes/{w.programme.id}/office-hours")
    assert board.status_code == 200
    slot = first_slot(series)
    assert f'value="{slot.key}"' in board.text and "Đỗ Minh Quân" in board.text
    booked = await book(founder, series, slot)
    assert booked.status_code == 303, booked.text[:800]
    booking = await OfficeHourBooking.get(startup_id=w.startup.id)
    assert booked.headers["location"] == f"/incubator/office-hours/bookings/{booking.id}"
    assert booking.starts_at == slot.start and booking.live_start == slot.start
    assert booking.ends_at - booking.starts_at == timedelta(minutes=30)

    page = await founder.get(booked.headers["location"])
    assert page.status_code == 200 and "Gọi vốn vòng hạt giống" in page.text
    # The mentor got a mail and sees the booking on their own page and on the board.
    mails = await OutboxMessage.filter(to=w.mentor.email)
    assert len(mails) == 1 and "Lumi Smart Lighting" in mails[0].subject
    assert f"/incubator/office-hours/bookings/{booking.id}" in mails[0].text_body
    mine = await mentor.get("/incubator/office-hours")
    assert "Lumi Smart Lighting" in mine.text and f"bookings/{booking.id}" in mine.text
    staff_board = await mentor.get(f"/incubator/programmes/{w.programme.id}/office-hours")
    assert "Booked by Lumi Smart Lighting" in staff_board.text
    # Another founder sees the slot taken, not by whom.
    other = await signed_in(new_browser, w.other_founder)
    theirs = await other.get(f"/incubator/programmes/{w.programme.id}/office-hours")
    assert "Taken" in theirs.text and "Lumi Smart Lighting" not in theirs.text
    assert (await book(other, series, slot)).status_code == 409
    assert await OfficeHourBooking.filter(live_start=slot.start).count() == 1


@pytest.fixture
async def roles(new_browser):
    w = await world()
    unverified = await person("newbie@lumi.vn", verified=False)
    await member(unverified, w.startup)
    await ProgrammeRole.create(
        programme=w.programme, user=unverified, role=ProgrammeRoleKind.MENTOR
    )
    people = {**w.people, "unverified": unverified}
    sessions = {}
    for role, user in people.items():
        sessions[role] = await signed_in(new_browser, user) if user else new_browser(lang="en")
    return w, sessions


async def test_who_may_see_publish_and_book(roles):
    w, sessions = roles
    url = f"/incubator/programmes/{w.programme.id}/office-hours"
    seen = {role: outcome(await s.get(url)) for role, s in sessions.items()}
    assert seen == {
        "member": 200,
        "other_founder": 200,
        "manager": 200,
        "mentor": 200,
        "grantee": 403,
        "grantee_out_of_scope": 403,
        "revoked_grantee": 403,
        "stranger": 403,
        "anonymous": "login",
        "unverified": 403,
    }
    day = week_ahead()
    form = {
        "weekday": str(day.weekday()),
        "start": "14:00",
        "slot_minutes": "45",
        "slots": "2",
        "weeks": "2",
        "first_day": day.isoformat(),
    }
    published = {role: outcome(await s.post(url, form)) for role, s in sessions.items()}
    assert published == {
        "member": 403,
        "other_founder": 403,
        "manager": 403,
        "mentor": 303,
        "grantee": 403,
        "grantee_out_of_scope": 403,
        "revoked_grantee": 403,
        "stranger": 403,
        "anonymous": "login",
        "unverified": 403,  # holds the mentor role, but no verified identity
    }
    series = await OfficeHours.get(programme_id=w.programme.id)
    slots = office_slots.slots(pattern_of(series), series.first_day, series.first_day)
    slots += office_slots.slots(
        pattern_of(series), series.first_day + timedelta(days=7), series.last_day
    )
    booked = {}
    for i, (role, s) in enumerate(sessions.items()):
        booked[role] = outcome(await book(s, series, slots[i % len(slots)]))
    assert booked == {
        "member": 303,
        "other_founder": 303,
        "manager": 403,
        "mentor": 403,
        "grantee": 403,
        "grantee_out_of_scope": 403,
        "revoked_grantee": 403,
        "stranger": 403,
        "anonymous": "login",
        "unverified": 403,
    }
    booking = await OfficeHourBooking.get(startup_id=w.startup.id)
    page = f"/incubator/office-hours/bookings/{booking.id}"
    views = {role: outcome(await s.get(page)) for role, s in sessions.items()}
    assert views == {
        "member": 200,
        "other_founder": 404,
        "manager": 200,
        "mentor": 200,
        "grantee": 404,
        "grantee_out_of_scope": 404,
        "revoked_grantee": 404,
        "stranger": 404,
        "anonymous": "login",
        "unverified": 403,
    }
    cancels = {
        role: outcome(await s.post(f"{page}/cancel", {"confirmed": "yes"}))
        for role, s in sessions.items()
        if role not in ("member", "mentor", "manager")
    }
    assert set(cancels.values()) <= {404, 403, "login"}
    assert (await OfficeHourBooking.get(id=booking.id)).status == OfficeBookingStatus.BOOKED


async def test_a_founder_may_not_book_for_a_startup_outside_the_programme(new_browser):
    w = await world()
    series = await publish(await signed_in(new_browser, w.mentor), w)
    # The founder of a startup whose enrolment is only offered, and of one in another
    # programme, may not book.
    outsider = await person("ceo@solar.vn")
    solar = await startup("Solar Việt", outsider)
    elsewhere = await programme(w.host, "Other Programme")
    cohort = await Cohort.create(programme=elsewhere, name="K", starts_on=w.cohort.starts_on)
    await accepted_enrolment(cohort, solar)
    browser = await signed_in(new_browser, outsider)
    assert (await book(browser, series, first_slot(series))).status_code == 403
    # A founder naming another startup than their own gets a 422, nothing written.
    founder = await signed_in(new_browser, w.founder)
    wrong = await book(
        founder,
        series,
        first_slot(series),
        startup_id=str(w.other.id),
        programme=str(w.programme.id),
    )
    assert wrong.status_code == 422 and "Choose one of your startups" in wrong.text
    assert not await OfficeHourBooking.exists()


async def test_bad_input_is_refused_with_the_form_kept(new_browser):
    w = await world()
    mentor = await signed_in(new_browser, w.mentor)
    url = f"/incubator/programmes/{w.programme.id}/office-hours"
    bad = await mentor.post(
        url,
        {
            "weekday": "9",
            "start": "25:00",
            "slot_minutes": "7",
            "slots": "99",
            "weeks": "0",
            "first_day": "2020-01-01",
            "place": "Phòng họp tầng 3",
        },
    )
    assert bad.status_code == 422
    for name in ("weekday", "start", "slot_minutes", "slots", "weeks", "first_day"):
        assert f'id="f-{name}"' in bad.text
    assert bad.text.count('class="error"') >= 6 and 'value="Phòng họp tầng 3"' in bad.text
    late = await mentor.post(
        url,
        {
            "weekday": "0",
            "start": "23:00",
            "slot_minutes": "90",
            "slots": "2",
            "weeks": "1",
            "first_day": week_ahead().isoformat(),
        },
    )
    assert late.status_code == 422 and "midnight" in late.text
    assert not await OfficeHours.exists()

    series = await publish(mentor, w)
    overlapping = await mentor.post(
        url,
        {
            "weekday": str(series.weekday),
            "start": "09:45",
            "slot_minutes": "30",
            "slots": "1",
            "weeks": "1",
            "first_day": (series.first_day + timedelta(days=7)).isoformat(),
        },
    )
    assert overlapping.status_code == 409 and "overlap" in overlapping.text
    assert await OfficeHours.filter(mentor_id=w.mentor.id).count() == 1

    founder = await signed_in(new_browser, w.founder)
    form = {"programme": str(w.programme.id)}
    for start in ("", "yesterday", "2099-01-01T09:07Z", first_slot(series).key[:-1] + "+99:00"):
        answer = await founder.post(
            f"/incubator/office-hours/{series.id}/book", {"start": start, **form}
        )
        assert answer.status_code == 422, start
    assert (await founder.post("/incubator/office-hours/99999999999/book", form)).status_code == 404
    long_topic = await book(founder, series, first_slot(series), topic="x" * 501, **form)
    assert long_topic.status_code == 422
    assert not await OfficeHourBooking.exists()


async def test_two_founders_racing_for_one_slot_exactly_one_wins(new_browser):
    w = await world()
    series = await publish(await signed_in(new_browser, w.mentor), w)
    founders = [
        await signed_in(new_browser, w.founder),
        await signed_in(new_browser, w.other_founder),
    ]
    for round_ in range(3):  # three slots, each raced for by both founders at once
        slot = first_slot(series, round_)
        answers = await asyncio.gather(*(book(f, series, slot) for f in founders))
        assert sorted(a.status_code for a in answers) == [303, 409], [a.text[:300] for a in answers]
        assert await OfficeHourBooking.filter(live_start=slot.start).count() == 1
    assert await OfficeHourBooking.filter(status=OfficeBookingStatus.BOOKED).count() == 3


async def test_the_database_refuses_a_second_live_booking_of_one_slot(app):
    """Written behind the service, on either database: unique (mentor, live_start)."""
    w = await world()
    start = timezone.now() + timedelta(days=3)
    series = await OfficeHours.create(
        programme=w.programme,
        mentor=w.mentor,
        weekday=start.weekday(),
        start_minute=540,
        first_day=start.date(),
        last_day=start.date(),
    )
    fields = {
        "office_hours": series,
        "mentor": w.mentor,
        "starts_at": start,
        "ends_at": start + timedelta(minutes=30),
    }
    await OfficeHourBooking.create(
        **fields, live_start=start, enrolment=w.enrolment, startup=w.startup
    )
    with pytest.raises(IntegrityError):
        async with atomic():
            await OfficeHourBooking.create(
                **fields, live_start=start, enrolment=w.other_enrolment, startup=w.other
            )
    # Cancelled bookings (live_start NULL) of the same slot do not clash.
    for _ in range(2):
        await OfficeHourBooking.create(
            **fields,
            live_start=None,
            status=OfficeBookingStatus.CANCELLED,
            enrolment=w.other_enrolment,
            startup=w.other,
        )
    assert await OfficeHourBooking.filter(live_start=start).count() == 1


async def test_either_side_cancels_and_the_other_is_told(new_browser):
    w = await world()
    mentor = await signed_in(new_browser, w.mentor)
    series = await publish(mentor, w)
    founder = await signed_in(new_browser, w.founder)
    slot = first_slot(series)
    await book(founder, series, slot)
    booking = await OfficeHourBooking.get(startup_id=w.startup.id)
    url = f"/incubator/office-hours/bookings/{booking.id}/cancel"

    asked = await founder.post(url, {"reason": "Trùng lịch gọi vốn"})
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.text
    assert (await OfficeHourBooking.get(id=booking.id)).status == OfficeBookingStatus.BOOKED
    done = await founder.post(url, {"reason": "Trùng lịch gọi vốn", "confirmed": "yes"})
    assert done.status_code == 303
    stored = await OfficeHourBooking.get(id=booking.id)
    assert stored.status == OfficeBookingStatus.CANCELLED and stored.live_start is None
    assert stored.cancelled_by_id == w.founder.id  # type: ignore[attr-defined]
    told = await OutboxMessage.filter(to=w.mentor.email, subject__contains="Cancelled")
    assert len(told) == 1 and "Trùng lịch gọi vốn" in told[0].text_body
    again = await founder.post(url, {"confirmed": "yes"})
    assert again.status_code == 409

    # The slot is free again: the other founder books it; the mentor cancels this time.
    other = await signed_in(new_browser, w.other_founder)
    assert (await book(other, series, slot)).status_code == 303
    second = await OfficeHourBooking.get(startup_id=w.other.id)
    await mentor.post(f"/incubator/office-hours/bookings/{second.id}/cancel", {"confirmed": "yes"})
    assert (await OfficeHourBooking.get(id=second.id)).status == OfficeBookingStatus.CANCELLED
    assert (
        await OutboxMessage.filter(to=w.other_founder.email, subject__contains="Cancelled").count()
        == 1
    )
    assert await OutboxMessage.filter(to=w.mentor.email, subject__contains="Cancelled").count() == 1


async def test_skipping_a_day_and_withdrawing_cancel_bookings_and_tell_founders(new_browser):
    w = await world()
    mentor = await signed_in(new_browser, w.mentor)
    series = await publish(mentor, w)
    founder = await signed_in(new_browser, w.founder)
    await book(founder, series, first_slot(series))
    later = office_slots.slots(
        pattern_of(series),
        series.first_day + timedelta(days=7),
        series.first_day + timedelta(days=7),
    )[0]
    await book(founder, series, later)
    skipped = await mentor.post(
        f"/incubator/office-hours/{series.id}/skip", {"day": series.first_day.isoformat()}
    )
    assert skipped.status_code == 303
    assert (await OfficeHours.get(id=series.id)).skipped == [series.first_day.isoformat()]
    assert await OfficeHourBooking.filter(status=OfficeBookingStatus.BOOKED).count() == 1
    wrong_day = await mentor.post(
        f"/incubator/office-hours/{series.id}/skip",
        {"day": (series.first_day + timedelta(days=1)).isoformat()},
    )
    assert wrong_day.status_code == 422
    assert (
        await founder.post(f"/incubator/office-hours/{series.id}/skip", {"day": "x"})
    ).status_code == 403
    board = await founder.get(f"/incubator/programmes/{w.programme.id}/office-hours")
    assert first_slot(series).key not in board.text

    asked = await mentor.post(f"/incubator/office-hours/{series.id}/withdraw", {})
    assert asked.status_code == 200 and 'value="yes"' in asked.text
    done = await mentor.post(f"/incubator/office-hours/{series.id}/withdraw", {"confirmed": "yes"})
    assert done.status_code == 303
    assert not await OfficeHourBooking.filter(status=OfficeBookingStatus.BOOKED).exists()
    assert (
        await OutboxMessage.filter(to=w.founder.email, subject__contains="Cancelled").count() == 2
    )
    assert (await book(founder, series, later)).status_code == 404


async def test_the_mentor_logs_the_session_linked_to_the_booking(new_browser):
    w = await world()
    mentor = await signed_in(new_browser, w.mentor)
    series = await publish(mentor, w)
    founder = await signed_in(new_browser, w.founder)
    slot = first_slot(series)
    await book(founder, series, slot)
    booking = await OfficeHourBooking.get(startup_id=w.startup.id)
    url = f"/incubator/office-hours/bookings/{booking.id}/session"
    assert (await mentor.post(url, {"topics": "Chiến lược giá"})).status_code == 409  # not yet
    # The meeting took place (moved into the past).
    past = timezone.now() - timedelta(days=1)
    await OfficeHourBooking.filter(id=booking.id).update(
        starts_at=past, ends_at=past + timedelta(minutes=30)
    )
    assert (await founder.post(url, {"topics": "x"})).status_code == 403
    empty = await mentor.post(url, {"topics": "  ", "actions": "Gửi bảng giá"})
    assert empty.status_code == 422 and "Gửi bảng giá" in empty.text
    logged = await mentor.post(url, {"topics": "Chiến lược giá", "actions": "Gửi bảng giá"})
    assert logged.status_code == 303
    session = await MentoringSession.get(enrolment_id=w.enrolment.id)
    assert (await OfficeHourBooking.get(id=booking.id)).session_id == session.id  # type: ignore[attr-defined]
    assert (await mentor.post(url, {"topics": "again"})).status_code == 409
    page = await founder.get(f"/incubator/startups/{w.startup.id}")
    assert "Chiến lược giá" in page.text
    assert f"/incubator/office-hours/bookings/{booking.id}" in page.text
    assert (
        await founder.post(
            f"/incubator/office-hours/bookings/{booking.id}/cancel", {"confirmed": "yes"}
        )
    ).status_code == 409


async def test_the_board_runs_the_same_queries_for_few_and_many_hours(new_browser, count_queries):
    w = await world()
    mentor = await signed_in(new_browser, w.mentor)
    founder = await signed_in(new_browser, w.founder)
    url = f"/incubator/programmes/{w.programme.id}/office-hours"
    series = await publish(mentor, w)
    await book(founder, series, first_slot(series))
    await asyncio.sleep(0.3)
    await founder.get(url)
    with count_queries() as few:
        assert (await founder.get(url)).status_code == 200
    others = []
    for i in range(4):
        other = await person(f"mentor{i}@bbi.vn")
        await ProgrammeRole.create(programme=w.programme, user=other, role=ProgrammeRoleKind.MENTOR)
        others.append(await publish(await signed_in(new_browser, other), w))
    for s in others:
        await book(founder, s, first_slot(s))
    await asyncio.sleep(0.3)  # the mails' delivery jobs run in-process after the responses
    await founder.get(url)
    with count_queries() as many:
        page = await founder.get(url)
    assert page.status_code == 200 and page.text.count("Booked by Lumi") == 5
    assert len(many.statements) == len(few.statements)
