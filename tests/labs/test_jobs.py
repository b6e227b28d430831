"""The lab network's background jobs, called with a frozen "now": reminders before a booking,
no-show marking that frees the rest of the slot, and waitlist offers that pass from one
waiting person to the next. One test runs a job through the in-process backend."""

from __future__ import annotations

import secrets
from datetime import UTC, timedelta

from tortoise import timezone

from ecosystem import jobs as kernel_jobs
from ecosystem.models import OutboxMessage
from labs import jobs
from labs.models import Booking, BookingStatus, WaitlistEntry
from labs.services import waitlist
from tests.conftest import person
from tests.labs.conftest import (
    at,
    bearer,
    booking_json,
    local_day,
    make_equipment,
    make_lab,
    quick_user,
)


async def booked(equipment, user, start, hours=2, status=BookingStatus.CONFIRMED, made_days_ago=3):
    start = start.astimezone(UTC)  # stored as UTC, as the services store it
    booking = await Booking.create(
        equipment=equipment,
        user=user,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        status=status,
        check_in_code=secrets.token_urlsafe(12),
    )
    await Booking.filter(id=booking.id).update(created_at=start - timedelta(days=made_days_ago))
    return await Booking.get(id=booking.id)


async def mails_to(email: str) -> list[OutboxMessage]:
    return await OutboxMessage.filter(to=email).order_by("id")


async def test_reminders_go_out_24h_and_1h_before_once_each(app):
    lab = await make_lab()
    printer = await make_equipment(lab)
    user = await quick_user("lan@eiu.edu.vn")
    start = at(local_day(2), 10)
    booking = await booked(printer, user, start)
    cancelled = await booked(
        printer,
        await quick_user("gone@eiu.edu.vn"),
        start + timedelta(hours=3),
        status=BookingStatus.CANCELLED,
    )

    assert await jobs.send_reminders(start - timedelta(hours=25)) == 0
    assert await jobs.send_reminders(start - timedelta(hours=23)) == 1
    assert await jobs.send_reminders(start - timedelta(hours=23)) == 0
    assert await jobs.send_reminders(start - timedelta(hours=22)) == 0
    assert await jobs.send_reminders(start - timedelta(minutes=50)) == 1
    assert await jobs.send_reminders(start - timedelta(minutes=45)) == 0
    assert await jobs.send_reminders(start + timedelta(minutes=1)) == 0

    sent = await mails_to("lan@eiu.edu.vn")
    assert len(sent) == 2
    assert printer.name in sent[0].subject
    assert "/bookings" in sent[0].text_body
    assert await mails_to("gone@eiu.edu.vn") == []
    assert (await Booking.get(id=booking.id)).reminded_at is not None
    assert (await Booking.get(id=cancelled.id)).reminded_at is None


async def test_a_booking_made_at_short_notice_gets_only_the_last_reminder(app):
    lab = await make_lab()
    printer = await make_equipment(lab)
    user = await quick_user("late@eiu.edu.vn")
    start = at(local_day(2), 10)
    await booked(printer, user, start, made_days_ago=0)  # made 3 h ahead, see below
    await Booking.filter(user_id=user.id).update(created_at=start - timedelta(hours=3))
    assert await jobs.send_reminders(start - timedelta(hours=2)) == 0
    assert await jobs.send_reminders(start - timedelta(minutes=55)) == 1


async def test_no_shows_free_the_rest_of_the_slot(client):
    lab = await make_lab()
    printer = await make_equipment(lab)
    absent = await quick_user("absent@eiu.edu.vn")
    present = await quick_user("present@eiu.edu.vn")
    start = at(local_day(2), 10)
    missed = await booked(printer, absent, start)
    other_printer = await make_equipment(lab, "Ultimaker S5")
    attended = await booked(other_printer, present, start)
    await Booking.filter(id=attended.id).update(checked_in_at=start + timedelta(minutes=3))

    assert await jobs.mark_no_shows(start + timedelta(minutes=14)) == 0
    assert await jobs.mark_no_shows(start + timedelta(minutes=16)) == 1
    assert await jobs.mark_no_shows(start + timedelta(minutes=20)) == 0

    missed = await Booking.get(id=missed.id)
    assert missed.status == BookingStatus.NO_SHOW
    assert missed.ends_at == start + timedelta(hours=2)  # history is not shortened
    assert (await Booking.get(id=attended.id)).status == BookingStatus.CONFIRMED
    assert len(await mails_to("absent@eiu.edu.vn")) == 1

    # The rest of the slot is free for someone else.
    response = await client.post(
        "/api/v1/bookings",
        json=booking_json(printer, start + timedelta(hours=1), start + timedelta(hours=2)),
        headers=await bearer(await quick_user("next@eiu.edu.vn")),
    )
    assert response.status_code == 201, response.text


async def test_waitlist_offers_pass_to_the_next_person(client, new_browser):
    lab = await make_lab()
    printer = await make_equipment(lab)
    holder = await quick_user("holder@eiu.edu.vn")
    first = await person("first@eiu.edu.vn")
    second = await person("second@eiu.edu.vn")
    start = at(local_day(3), 10)
    end = start + timedelta(hours=2)
    taken = await booked(printer, holder, start)

    first_browser = new_browser(lang="en")
    await first_browser.login("first@eiu.edu.vn")
    joined = await first_browser.post(
        "/waitlist",
        {"equipment_id": str(printer.id), "start": start.isoformat(), "end": end.isoformat()},
    )
    assert joined.status_code == 303
    await waitlist.join_waitlist(second, printer.id, start, end)

    now = timezone.now()
    assert await jobs.process_waitlists(now) == 0  # the slot is still taken
    cancel = await client.post(f"/api/v1/bookings/{taken.id}/cancel", headers=await bearer(holder))
    assert cancel.status_code == 200
    await kernel_jobs.drain()  # cancelling offered the freed slot at once, by a job
    assert await jobs.process_waitlists(now + timedelta(minutes=5)) == 0
    first_entry = await WaitlistEntry.get(user_id=first.id)
    assert first_entry.status == "offered"
    assert len(await mails_to("first@eiu.edu.vn")) == 1
    assert await mails_to("second@eiu.edu.vn") == []

    # Thirty minutes without an answer: the offer goes to the next person.
    assert await jobs.process_waitlists(now + timedelta(minutes=31)) == 1
    assert (await WaitlistEntry.get(id=first_entry.id)).status == "expired"
    assert len(await mails_to("second@eiu.edu.vn")) == 1

    late = await first_browser.post(f"/waitlist/{first_entry.id}/accept")
    assert late.status_code == 303
    assert not await Booking.filter(user_id=first.id).exists()

    second_browser = new_browser(lang="en")
    await second_browser.login("second@eiu.edu.vn")
    page = await second_browser.get("/waitlist")
    assert "Take this slot" in page.text
    second_entry = await WaitlistEntry.get(user_id=second.id)
    accepted = await second_browser.post(f"/waitlist/{second_entry.id}/accept")
    assert accepted.status_code == 303
    booking = await Booking.get(user_id=second.id)
    assert (booking.starts_at, booking.ends_at, booking.status) == (
        start,
        end,
        BookingStatus.CONFIRMED,
    )
    assert (await WaitlistEntry.get(id=second_entry.id)).status == "taken"


async def test_no_show_job_through_the_inline_backend(app):
    lab = await make_lab()
    printer = await make_equipment(lab)
    user = await quick_user("gone@eiu.edu.vn")
    start = timezone.now() - timedelta(minutes=20)
    booking = await booked(printer, user, start)
    await kernel_jobs.enqueue(jobs.no_shows, job_id="test-no-shows")
    await kernel_jobs.drain()
    assert (await Booking.get(id=booking.id)).status == BookingStatus.NO_SHOW
