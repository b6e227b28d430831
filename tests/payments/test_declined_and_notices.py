"""A paid booking the staff decline is refunded in full; the booker hears of staff changes."""

from __future__ import annotations

from ecosystem import jobs
from ecosystem.models import OutboxMessage
from ecosystem.payments.models import Refund
from labs.models import Booking, BookingStatus, LabStaff
from labs.services import staff as staff_services
from tests.labs.conftest import bearer, make_lab, quick_user
from tests.payments.conftest import RATE, booking_body, post_event, priced_machine, slot


async def test_a_paid_booking_declined_by_the_staff_is_refunded_in_full(client, fake_stripe):
    lab = await make_lab(late_cancellation_refund_percent=0)
    machine = await priced_machine(lab, requires_approval=True)
    user = await quick_user("lan@becamex.com.vn")
    start, end = slot(3)
    created = (
        await client.post(
            "/api/v1/bookings", json=booking_body(machine, start, end), headers=await bearer(user)
        )
    ).json()
    session_id = created["checkout_url"].rsplit("/", 1)[-1]
    await post_event(client, fake_stripe, fake_stripe.complete(session_id))
    assert (await Booking.get(id=created["id"])).status == BookingStatus.PENDING
    staff = await quick_user("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)

    await staff_services.decide_booking(staff, lab, created["id"], False, "The laser is booked")
    await jobs.drain()

    refund = await Refund.get(payment_id=created["payment"]["id"])
    assert (refund.amount, refund.reason) == (2 * RATE, "declined")
    assert fake_stripe.refunds[refund.provider_refund_id]["amount"] == 2 * RATE


async def test_the_booker_is_told_when_the_staff_cancel_their_booking(client, fake_stripe):
    lab = await make_lab()
    machine = await priced_machine(lab, rates={"public": 0})
    user = await quick_user("lan@becamex.com.vn")
    start, end = slot(3)
    created = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end), headers=await bearer(user)
    )
    assert created.status_code == 201, created.text
    staff = await quick_user("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)
    before = await OutboxMessage.filter(to="lan@becamex.com.vn").count()

    cancelled = await client.post(
        f"/api/v1/bookings/{created.json()['id']}/cancel", headers=await bearer(staff)
    )

    assert cancelled.status_code == 200, cancelled.text
    notices = await OutboxMessage.filter(to="lan@becamex.com.vn").order_by("-id")
    assert len(notices) == before + 1
    assert "Laser Trotec" in notices[0].subject
