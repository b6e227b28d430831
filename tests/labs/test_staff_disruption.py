"""A blackout or closure over existing bookings, through HTTP: the staff first see the list,
then in one step every booker is cancelled with a full refund or moved, and told by e-mail.
Nothing is written before the confirmation, nor when the list changed meanwhile."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ecosystem.models import AuditEvent, OutboxMessage, User
from ecosystem.payments.models import Payment, PaymentMethod, PaymentState, Refund
from labs.models import Blackout, Booking, BookingStatus, Closure, Equipment
from tests.conftest import person
from tests.labs.conftest import at, local_day, make_equipment
from tests.labs.test_staff import World, make_world, signed_in

DAY_AHEAD = 4


async def book(
    world: World, email: str, start: datetime, hours: int = 1, paid: int = 0, machine=None
) -> Booking:
    """A confirmed booking made directly (a paid one with an on-site payment marked paid)."""
    booker = await person(email, locale="en")
    machine = machine or world.machine
    booking = await Booking.create(
        equipment=machine,
        user=booker,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        status=BookingStatus.CONFIRMED,
        price_amount=paid,
        check_in_code=f"code-{email}",
    )
    if paid:
        payment = await Payment.create(
            subject_kind="labs.booking",
            subject_id=booking.id,
            user_id=booker.id,
            method=PaymentMethod.AT_LAB,
            state=PaymentState.PAID,
            amount=paid,
            issuer_key=f"labs.lab:{world.lab.id}",
        )
        await Booking.filter(id=booking.id).update(payment_id=payment.id)
    return booking


def blackout_url(world: World) -> str:
    return f"/labs/{world.lab.slug}/equipment/{world.machine.id}/blackouts"


def blackout_form(day, start="09:00", end="12:00", reason="Laser tube replacement") -> dict:
    return {"starts_at": f"{day}T{start}", "ends_at": f"{day}T{end}", "reason": reason}


async def nothing_written(world: World, *bookings: Booking) -> None:
    assert not await Blackout.exists()
    assert not await Closure.exists()
    assert not await OutboxMessage.exists()
    assert not await Refund.exists()
    for booking in bookings:
        stored = await Booking.get(id=booking.id)
        assert stored.status == BookingStatus.CONFIRMED
        assert (stored.starts_at, stored.ends_at) == (booking.starts_at, booking.ends_at)


async def test_a_blackout_over_bookings_lists_them_and_writes_nothing(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    paid = await book(world, "an@example.org", at(day, 10), paid=150_000)
    unpaid = await book(world, "binh@example.org", at(day, 11))
    await book(world, "later@example.org", at(day, 14))  # after the blackout: untouched
    staff = await signed_in(new_browser, "staff")
    page = await staff.post(blackout_url(world), blackout_form(day))
    assert page.status_code == 200
    assert "Bookings in this period" in page.text
    assert "an@example.org" in page.text and "binh@example.org" in page.text
    assert "later@example.org" not in page.text
    assert f'id="affected-{paid.id}"' in page.text and f'id="affected-{unpaid.id}"' in page.text
    assert "150.000" in page.text or "150,000" in page.text
    # The first free slots after the blackout: 12:00 is free, 13:00 after the first move.
    assert "Free slot" in page.text
    await nothing_written(world, paid, unpaid)


async def test_confirming_cancels_refunds_in_full_and_tells_each_booker(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    paid = await book(world, "an@example.org", at(day, 10), paid=150_000)
    unpaid = await book(world, "binh@example.org", at(day, 11))
    staff = await signed_in(new_browser, "staff")
    confirm = {
        **blackout_form(day),
        "confirm": "1",
        "booking_ids": [str(paid.id), str(unpaid.id)],
        "all": "cancel",
    }
    done = await staff.post(blackout_url(world), confirm)
    assert done.status_code == 303, done.text[:500]
    blackout = await Blackout.get(equipment_id=world.machine.id)
    assert (blackout.starts_at, blackout.ends_at) == (at(day, 9), at(day, 12))
    for booking in (paid, unpaid):
        stored = await Booking.get(id=booking.id)
        assert stored.status == BookingStatus.CANCELLED
        assert stored.decision_reason == "Laser tube replacement"
    payment = await Payment.get(subject_id=paid.id)
    assert payment.state == PaymentState.REFUNDED and payment.refunded_amount == 150_000
    refund = await Refund.get(payment_id=payment.id)
    assert (refund.amount, refund.reason) == (150_000, "blackout")
    told = await OutboxMessage.get(to="an@example.org")
    assert "cancelled your booking of Prusa MK4" in told.subject
    assert "Laser tube replacement" in told.text_body
    assert "refunded in full" in told.text_body and "150" in told.text_body
    told = await OutboxMessage.get(to="binh@example.org")
    assert "refunded" not in told.text_body  # nothing was paid
    assert await AuditEvent.filter(action="booking.cancelled").count() == 2
    # Repeating the same confirmation changes nothing more: the bookings are gone.
    again = await staff.post(blackout_url(world), confirm)
    assert again.status_code == 409
    assert await Blackout.filter(equipment_id=world.machine.id).count() == 1
    assert await Refund.all().count() == 1


async def test_moving_per_booking_takes_the_first_free_slots_and_keeps_the_payment(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    first = await book(world, "an@example.org", at(day, 10), paid=150_000)
    second = await book(world, "binh@example.org", at(day, 11))
    third = await book(world, "chi@example.org", at(day, 11), machine=await other_machine(world))
    await book(world, "busy@example.org", at(day, 13))  # 13:00-14:00 is taken
    staff = await signed_in(new_browser, "staff")
    confirm = {
        **blackout_form(day),
        "confirm": "1",
        "booking_ids": [str(first.id), str(second.id)],
        f"choice_{first.id}": "move",
        f"choice_{second.id}": "cancel",
    }
    done = await staff.post(blackout_url(world), confirm)
    assert done.status_code == 303, done.text[:500]
    moved = await Booking.get(id=first.id)
    assert moved.status == BookingStatus.CONFIRMED
    assert (moved.starts_at, moved.ends_at) == (at(day, 12), at(day, 13))
    assert moved.sequence == 1 and moved.payment_id is not None
    assert (await Payment.get(subject_id=first.id)).state == PaymentState.PAID
    assert (await Booking.get(id=second.id)).status == BookingStatus.CANCELLED
    assert (await Booking.get(id=third.id)).status == BookingStatus.CONFIRMED  # other machine
    told = await OutboxMessage.get(to="an@example.org")
    assert "moved your booking" in told.subject
    assert "check-in code stay the same" in told.text_body
    assert not await Refund.exists()


async def test_move_all_skips_every_other_booking_and_each_other(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    first = await book(world, "an@example.org", at(day, 9), hours=2)  # 09-11
    second = await book(world, "binh@example.org", at(day, 11), hours=2)  # 11-13, past the end
    await book(world, "busy@example.org", at(day, 14))  # 14-15 taken
    staff = await signed_in(new_browser, "staff")
    form = blackout_form(day, "08:00", "12:00")
    page = await staff.post(blackout_url(world), form)
    assert "Move all to their free slots" in page.text
    done = await staff.post(
        blackout_url(world),
        {**form, "confirm": "1", "booking_ids": [str(first.id), str(second.id)], "all": "move"},
    )
    assert done.status_code == 303, done.text[:500]
    one, two = await Booking.get(id=first.id), await Booking.get(id=second.id)
    # 12-13 is too short (the second booking still holds 11-13), 15-17 and 17... : no overlap.
    spans = sorted([(one.starts_at, one.ends_at), (two.starts_at, two.ends_at)])
    assert spans[0][1] <= spans[1][0]
    for start, end in spans:
        assert start >= at(day, 12) and end <= at(day, 18)
        assert not (start < at(day, 15) and end > at(day, 14))
    assert await Booking.filter(status=BookingStatus.CONFIRMED).count() == 3


async def other_machine(world: World) -> Equipment:
    return await make_equipment(world.lab, "Epilog Fusion")


async def test_a_choice_missing_or_a_changed_list_writes_nothing(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    first = await book(world, "an@example.org", at(day, 10), paid=150_000)
    staff = await signed_in(new_browser, "staff")
    form = blackout_form(day)
    missing = await staff.post(
        blackout_url(world), {**form, "confirm": "1", "booking_ids": [str(first.id)]}
    )
    assert missing.status_code == 422
    assert "Choose to cancel or to move this booking." in missing.text
    assert "an@example.org" in missing.text  # the list again
    await nothing_written(world, first)

    # A booking made after the staff saw the list: the confirmation no longer matches.
    second = await book(world, "binh@example.org", at(day, 11))
    stale = await staff.post(
        blackout_url(world),
        {**form, "confirm": "1", "booking_ids": [str(first.id)], "all": "cancel"},
    )
    assert stale.status_code == 409
    assert "changed meanwhile" in stale.text and "binh@example.org" in stale.text
    await nothing_written(world, first, second)

    bad_id = await staff.post(
        blackout_url(world), {**form, "confirm": "1", "booking_ids": ["x"], "all": "cancel"}
    )
    assert bad_id.status_code == 422
    await nothing_written(world, first, second)


async def test_a_closure_over_bookings_of_several_machines(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    first = await book(world, "an@example.org", at(day, 10), paid=200_000)
    second = await book(world, "binh@example.org", at(day, 15), machine=await other_machine(world))
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/manage/closures"
    form = {"first_day": str(day), "last_day": str(day), "reason": "Tết"}
    page = await staff.post(url, form)
    assert page.status_code == 200
    assert "an@example.org" in page.text and "binh@example.org" in page.text
    await nothing_written(world, first, second)
    done = await staff.post(
        url,
        {
            **form,
            "confirm": "1",
            "booking_ids": [str(first.id), str(second.id)],
            f"choice_{first.id}": "cancel",
            f"choice_{second.id}": "move",
        },
    )
    assert done.status_code == 303, done.text[:500]
    closure = await Closure.get(lab_id=world.lab.id)
    assert (closure.first_day, closure.reason) == (day, "Tết")
    assert (await Booking.get(id=first.id)).status == BookingStatus.CANCELLED
    moved = await Booking.get(id=second.id)
    assert moved.status == BookingStatus.CONFIRMED
    assert moved.starts_at == at(day + timedelta(days=1), 8)  # the next opening
    assert (await Payment.get(subject_id=first.id)).state == PaymentState.REFUNDED
    mail = await OutboxMessage.get(to="an@example.org")
    assert "will be closed during your booking" in mail.text_body


async def test_a_blackout_without_bookings_is_added_at_once(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    await book(world, "an@example.org", at(day, 13))  # touching is fine: half-open
    staff = await signed_in(new_browser, "staff")
    done = await staff.post(blackout_url(world), blackout_form(day, "09:00", "13:00"))
    assert done.status_code == 303
    assert await Blackout.exists()
    assert not await OutboxMessage.exists()


@pytest.mark.parametrize(
    "role", ["plain", "member", "org_admin", "other_staff", "unverified_staff", "unverified_admin"]
)
async def test_only_the_labs_verified_staff_may_preview_or_confirm(new_browser, role):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    booking = await book(world, "an@example.org", at(day, 10), paid=150_000)
    browser = await signed_in(new_browser, role)
    form = blackout_form(day)
    preview = await browser.post(blackout_url(world), form)
    assert preview.status_code == 403
    assert "an@example.org" not in preview.text
    confirm = {**form, "confirm": "1", "booking_ids": [str(booking.id)], "all": "cancel"}
    assert (await browser.post(blackout_url(world), confirm)).status_code == 403
    closure = {"first_day": str(day), "confirm": "1", "booking_ids": [str(booking.id)]}
    closure["all"] = "cancel"
    url = f"/labs/{world.lab.slug}/manage/closures"
    assert (await browser.post(url, closure)).status_code == 403
    await nothing_written(world, booking)


async def test_the_confirmation_page_in_vietnamese(new_browser):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    await book(world, "an@example.org", at(day, 10), paid=150_000)
    await User.filter(email="staff@example.org").update(locale="vi")
    staff = new_browser(lang="vi")
    await staff.login("staff@example.org")
    page = await staff.post(blackout_url(world), blackout_form(day))
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text
    assert "Các lượt đặt trong khoảng thời gian này" in page.text
    assert "Huỷ và hoàn tiền toàn bộ" in page.text and "Giờ trống:" in page.text


async def test_the_list_of_a_closure_runs_a_constant_number_of_queries(new_browser, count_queries):
    world = await make_world()
    day = local_day(DAY_AHEAD)
    staff = await signed_in(new_browser, "staff")
    url = f"/labs/{world.lab.slug}/manage/closures"
    form = {"first_day": str(day), "last_day": str(day), "reason": "Tết"}
    await book(world, "an@example.org", at(day, 10))
    await staff.post(url, form)  # warm: the session's first request touches it
    with count_queries() as small:
        page = await staff.post(url, form)
    assert page.status_code == 200 and page.text.count('id="affected-') == 1
    for index in range(6):
        machine = await make_equipment(world.lab, f"Machine {index}")
        for hour in (9, 13):
            await book(world, f"m{index}-{hour}@example.org", at(day, hour), machine=machine)
    with count_queries() as large:
        page = await staff.post(url, form)
    assert page.status_code == 200 and page.text.count('id="affected-') == 13
    assert len(large.statements) == len(small.statements)
    await nothing_written(world)
