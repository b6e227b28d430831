"""Mail that people keep: each thing that happens to a booking is an e-mail with an .ics.

Booked (confirmed or waiting for approval), approved, declined with the reason, moved and
cancelled: one outbox message each, to the booker, in their language, with `booking.ics`
attached – METHOD:REQUEST while the booking stands, METHOD:CANCEL once withdrawn, the feed's
UID and the booking's SEQUENCE.
"""

from __future__ import annotations

from datetime import timedelta

from icalendar import Calendar

from ecosystem import jobs
from ecosystem.models import OutboxAttachment, OutboxMessage
from labs.models import Booking, BookingStatus, LabStaff
from labs.services.calendar import UID_DOMAIN
from tests.conftest import person
from tests.labs.conftest import at, local_day, make_equipment, make_lab


async def mails_to(email: str) -> list[OutboxMessage]:
    return await OutboxMessage.filter(to=email).order_by("id")


async def invitation_of(message: OutboxMessage):
    """The message's one attachment, parsed: (content type, the VCALENDAR, its VEVENT)."""
    attachments = await OutboxAttachment.filter(message_id=message.id)
    assert len(attachments) == 1
    attachment = attachments[0]
    assert attachment.filename == "booking.ics"
    calendar = Calendar.from_ical(bytes(attachment.content))
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return attachment.content_type, calendar, events[0]


def local(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


async def test_book_move_cancel_each_send_a_mail_with_the_same_event(browser, client):
    lab = await make_lab(address="Hòa Phú, Thủ Dầu Một")
    machine = await make_equipment(lab, "Trotec Speedy 400", rates={"public": 60_000})
    maker = await person("maker@example.org", locale="en")
    await browser.login("maker@example.org")
    day = local_day(6)

    booked = await browser.post(
        f"/equipment/{machine.id}/book",
        {"start": at(day, 9).isoformat(), "end": at(day, 11).isoformat(), "purpose": "Sign"},
    )
    assert booked.status_code == 303, booked.text[:500]
    booking = await Booking.get(user_id=maker.id)
    assert booking.status == BookingStatus.CONFIRMED
    [confirmation] = await mails_to("maker@example.org")
    assert confirmation.subject == "Your booking of Trotec Speedy 400 is confirmed"
    assert "120,000" in confirmation.text_body and "Hòa Phú" in confirmation.text_body
    assert "puts this in your calendar" in confirmation.text_body
    content_type, calendar, event = await invitation_of(confirmation)
    assert content_type == "text/calendar; method=REQUEST; charset=UTF-8"
    assert str(calendar["method"]) == "REQUEST"
    uid = f"booking-{booking.id}@{UID_DOMAIN}"
    assert str(event["uid"]) == uid
    assert event["sequence"] == 0 and str(event["status"]) == "CONFIRMED"
    assert event.decoded("dtstart") == at(day, 9) and event.decoded("dtend") == at(day, 11)
    assert "mailto:maker@example.org" in str(event["attendee"])

    moved = await browser.post(
        f"/bookings/{booking.id}/reschedule",
        {"start": local(at(day, 14)), "end": local(at(day, 16))},
    )
    assert moved.status_code == 303, moved.text[:500]
    move_mail = (await mails_to("maker@example.org"))[-1]
    assert move_mail.subject == "Your booking of Trotec Speedy 400 has moved"
    assert "(it was" in move_mail.text_body
    content_type, _calendar, event = await invitation_of(move_mail)
    assert "method=REQUEST" in content_type
    assert str(event["uid"]) == uid and event["sequence"] == 1
    assert event.decoded("dtstart") == at(day, 14)

    cancelled = await browser.post(f"/bookings/{booking.id}/cancel")
    assert cancelled.status_code == 303
    cancel_mail = (await mails_to("maker@example.org"))[-1]
    assert cancel_mail.subject == "Your booking of Trotec Speedy 400 is cancelled"
    assert "takes it out of your calendar" in cancel_mail.text_body
    content_type, calendar, event = await invitation_of(cancel_mail)
    assert "method=CANCEL" in content_type and str(calendar["method"]) == "CANCEL"
    assert str(event["uid"]) == uid and event["sequence"] == 1
    assert str(event["status"]) == "CANCELLED"
    assert len(await mails_to("maker@example.org")) == 3

    # Cancelling again changes nothing and sends nothing.
    assert (await browser.post(f"/bookings/{booking.id}/cancel")).status_code == 303
    assert len(await mails_to("maker@example.org")) == 3
    await jobs.drain()
    assert {m.status for m in await mails_to("maker@example.org")} == {"logged"}


async def test_a_refused_booking_sends_nothing(browser):
    lab = await make_lab()
    machine = await make_equipment(lab, "Prusa MK4")
    await person("maker@example.org")
    await browser.login("maker@example.org")
    day = local_day(3)
    ok = {"start": at(day, 9).isoformat(), "end": at(day, 10).isoformat()}
    assert (await browser.post(f"/equipment/{machine.id}/book", ok)).status_code == 303
    taken = await browser.post(f"/equipment/{machine.id}/book", ok)
    assert taken.status_code == 409
    closed = {"start": at(day, 20).isoformat(), "end": at(day, 21).isoformat()}
    assert (await browser.post(f"/equipment/{machine.id}/book", closed)).status_code == 422
    assert len(await mails_to("maker@example.org")) == 1


async def test_pending_approved_and_declined_mails_in_the_bookers_language(new_browser):
    lab = await make_lab()
    machine = await make_equipment(lab, "Epilog Fusion", requires_approval=True)
    await person("lan@example.org", locale="vi")
    await person("jan@example.org", locale="en")
    await LabStaff.create(lab=lab, user=await person("staff@example.org"))
    day = local_day(4)
    made = {}
    for email, hour in (("lan@example.org", 9), ("jan@example.org", 13)):
        booker = new_browser()
        await booker.login(email)
        answer = await booker.post(
            f"/equipment/{machine.id}/book",
            {"start": at(day, hour).isoformat(), "end": at(day, hour + 1).isoformat()},
        )
        assert answer.status_code == 303, answer.text[:300]
        made[email] = await Booking.get(user__email=email)
        assert made[email].status == BookingStatus.PENDING

    [pending_vi] = await mails_to("lan@example.org")
    assert pending_vi.subject == "Lượt đặt Epilog Fusion của bạn đang chờ duyệt"
    [pending_en] = await mails_to("jan@example.org")
    assert pending_en.subject == "Your booking of Epilog Fusion is waiting for approval"
    assert "you will get an e-mail when they decide" in pending_en.text_body
    _type, _calendar, event = await invitation_of(pending_en)
    assert str(event["status"]) == "TENTATIVE"

    staff = new_browser(lang="en")
    await staff.login("staff@example.org")
    url = f"/labs/{lab.slug}/approvals"
    htmx = {"HX-Request": "true"}
    no_reason = await staff.post(
        f"{url}/{made['jan@example.org'].id}", {"action": "decline"}, headers=htmx
    )
    # htmx is told to swap this 422 in (data-swap-invalid) and the message is marked for the
    # page's error banner too: the staff member sees why, next to the reason field.
    assert no_reason.status_code == 422
    assert "data-error-message>Give the booker a reason for declining.<" in no_reason.text
    assert "data-swap-invalid" in no_reason.text and 'aria-invalid="true"' in no_reason.text
    assert len(await mails_to("jan@example.org")) == 1

    declined = await staff.post(
        f"{url}/{made['jan@example.org'].id}",
        {"action": "decline", "reason": "Laser tube replacement"},
        headers=htmx,
    )
    assert declined.status_code == 200
    decline_mail = (await mails_to("jan@example.org"))[-1]
    assert decline_mail.subject == "Your booking of Epilog Fusion was declined"
    assert "Reason: Laser tube replacement" in decline_mail.text_body
    content_type, calendar, event = await invitation_of(decline_mail)
    assert "method=CANCEL" in content_type and str(event["status"]) == "CANCELLED"

    approved = await staff.post(f"{url}/{made['lan@example.org'].id}", {"action": "approve"})
    assert approved.status_code == 303
    approve_mail = (await mails_to("lan@example.org"))[-1]
    assert approve_mail.subject == "Lượt đặt Epilog Fusion của bạn đã được xác nhận"
    content_type, _calendar, event = await invitation_of(approve_mail)
    assert "method=REQUEST" in content_type and str(event["status"]) == "CONFIRMED"
    booking_id = made["lan@example.org"].id
    assert str(event["uid"]) == f"booking-{booking_id}@{UID_DOMAIN}"
    assert event.decoded("dtstart") == at(day, 9)
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=1)
