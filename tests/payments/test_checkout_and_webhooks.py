"""Card payments end to end over HTTP: the real stripe SDK against the local fake Stripe, and
webhooks signed with Stripe's real scheme.

Happy path; forged, unsigned and stale webhooks; one event delivered twice at the same moment;
completed after expired (slot free: confirmed; slot taken: refunded and told); events out of
order; Stripe unreachable.
"""

from __future__ import annotations

import asyncio
import json
import time

from ecosystem import jobs
from ecosystem.models import OutboxMessage
from ecosystem.payments.models import Payment, PaymentEvent, Refund
from ecosystem.payments.services import checkout
from labs.models import Booking
from tests.labs.conftest import bearer, quick_user
from tests.payments.conftest import RATE, booking_body, post_event, priced_machine, slot
from tests.payments.fake_stripe import sign


async def book(client, headers, equipment, start, end, **extra):
    return await client.post(
        "/api/v1/bookings", json=booking_body(equipment, start, end, **extra), headers=headers
    )


async def hold(client, fake_stripe):
    """A user with a token and a two-hour card hold on a priced machine."""
    machine = await priced_machine()
    user = await quick_user("lan@becamex.com.vn")
    headers = await bearer(user)
    start, end = slot()
    response = await book(client, headers, machine, start, end)
    assert response.status_code == 201, response.text
    return machine, user, headers, response.json()


def session_of(fake_stripe, booking_json):
    session_id = booking_json["checkout_url"].rsplit("/", 1)[-1]
    return fake_stripe.sessions[session_id]


async def test_card_booking_is_a_hold_until_the_signed_webhook_confirms_it(client, fake_stripe):
    machine, user, headers, created = await hold(client, fake_stripe)

    assert created["status"] == "pending_payment"
    assert created["checkout_url"].startswith(fake_stripe.url + "/pay/cs_test_")
    assert created["payment"]["state"] == "pending"
    assert created["payment"]["method"] == "card"
    assert created["payment"]["amount"] == 2 * RATE
    session = session_of(fake_stripe, created)
    assert session["amount_total"] == 2 * RATE and session["currency"] == "vnd"  # zero-decimal
    method, path, form = fake_stripe.requests[0]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert form["client_reference_id"] == str(created["payment"]["id"])
    assert ("/v1/checkout/sessions", f"checkout:labs.booking:{created['id']}") in (
        fake_stripe.idempotent
    )

    # The hold blocks the slot for everybody else.
    other = await bearer(await quick_user("binh@tdmu.edu.vn"))
    start, end = slot()
    taken = await book(client, other, machine, start, end)
    assert taken.status_code == 409

    response = await post_event(client, fake_stripe, fake_stripe.complete(session["id"]))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "paid"

    shown = (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()
    assert shown["status"] == "confirmed"
    assert shown["checkout_url"] is None
    assert shown["payment"]["state"] == "paid"
    assert shown["payment"]["receipt_url"] == f"/payments/{created['payment']['id']}/receipt"
    payment = await Payment.get(id=created["payment"]["id"])
    assert payment.receipt_number == 1
    assert payment.payment_intent_id == session["payment_intent"]


async def test_stripe_is_called_once_per_booking_even_when_retried(client, fake_stripe):
    _machine, _user, _headers, created = await hold(client, fake_stripe)
    payment = await Payment.get(id=created["payment"]["id"])
    again = await checkout.start_checkout(payment, "lan@becamex.com.vn")  # a retry
    assert again == created["checkout_url"]
    assert len(fake_stripe.sessions) == 1


async def test_forged_unsigned_and_stale_webhooks_are_refused(client, fake_stripe):
    _machine, _user, headers, created = await hold(client, fake_stripe)
    completed = fake_stripe.complete(session_of(fake_stripe, created)["id"])
    body, good = fake_stripe.signed(completed)

    unsigned = await client.post("/payments/stripe/webhook", content=body)
    forged_headers = {"Stripe-Signature": good["Stripe-Signature"][:-4] + "beef"}
    forged = await client.post("/payments/stripe/webhook", content=body, headers=forged_headers)
    tampered_body = body.replace('"paid"', '"paid" ', 1)
    tampered = await client.post("/payments/stripe/webhook", content=tampered_body, headers=good)
    wrong_key = await client.post(
        "/payments/stripe/webhook",
        content=body,
        headers={"Stripe-Signature": sign(body, "whsec_someone_else")},
    )
    _stale_body, stale_headers = fake_stripe.signed(completed, timestamp=int(time.time()) - 3600)
    stale = await client.post("/payments/stripe/webhook", content=body, headers=stale_headers)
    garbage = await client.post(
        "/payments/stripe/webhook", content=b"not json", headers={"Stripe-Signature": "t=1,v1=x"}
    )

    for response in (unsigned, forged, tampered, wrong_key, stale, garbage):
        assert response.status_code == 400, response.text
    assert await PaymentEvent.all().count() == 0
    shown = (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()
    assert shown["status"] == "pending_payment"


async def test_unknown_event_types_are_acknowledged_and_ignored(client, fake_stripe):
    from tests.payments.fake_stripe import event

    response = await post_event(client, fake_stripe, event("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"


async def test_the_same_event_delivered_twice_at_once_is_processed_once(client, fake_stripe):
    _machine, _user, headers, created = await hold(client, fake_stripe)
    completed = fake_stripe.complete(session_of(fake_stripe, created)["id"])
    body, signed = fake_stripe.signed(completed)

    responses = await asyncio.gather(
        *[client.post("/payments/stripe/webhook", content=body, headers=signed) for _ in range(4)]
    )
    await jobs.drain()

    assert [r.status_code for r in responses] == [200] * 4
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate", "duplicate", "duplicate", "paid"]
    assert await PaymentEvent.filter(event_id=completed["id"]).count() == 1
    payment = await Payment.get(id=created["payment"]["id"])
    assert (payment.state, payment.receipt_number) == ("paid", 1)


async def test_an_expired_event_after_the_payment_changes_nothing(client, fake_stripe):
    _machine, _user, headers, created = await hold(client, fake_stripe)
    session_id = session_of(fake_stripe, created)["id"]
    await post_event(client, fake_stripe, fake_stripe.complete(session_id))
    from tests.payments.fake_stripe import event

    late = event("checkout.session.expired", fake_stripe.public(fake_stripe.sessions[session_id]))
    response = await post_event(client, fake_stripe, late)
    assert response.json()["outcome"] == "unchanged"
    shown = (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()
    assert (shown["status"], shown["payment"]["state"]) == ("confirmed", "paid")


async def test_completed_after_expired_confirms_when_the_slot_is_still_free(client, fake_stripe):
    _machine, _user, headers, created = await hold(client, fake_stripe)
    session_id = session_of(fake_stripe, created)["id"]
    completed = fake_stripe.complete(session_id)  # paid at Stripe, but the event is late
    expired = fake_stripe.expired_event(session_id)

    assert (await post_event(client, fake_stripe, expired)).json()["outcome"] == "released"
    released = (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()
    assert released["status"] == "cancelled" and released["payment"]["state"] == "expired"

    assert (await post_event(client, fake_stripe, completed)).json()["outcome"] == "paid"
    shown = (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()
    assert (shown["status"], shown["payment"]["state"]) == ("confirmed", "paid")
    assert await Refund.all().count() == 0


async def test_completed_after_the_slot_was_taken_is_refunded_and_the_user_told(
    client, fake_stripe
):
    machine, user, headers, created = await hold(client, fake_stripe)
    session_id = session_of(fake_stripe, created)["id"]
    assert await checkout.release_hold(created["payment"]["id"])  # the hold ran out
    await jobs.drain()
    assert fake_stripe.sessions[session_id]["status"] == "expired"  # the job expired it
    fake_stripe.sessions[session_id]["status"] = "open"  # …but the customer was mid-payment
    start, end = slot()
    other = await bearer(await quick_user("binh@tdmu.edu.vn"))
    taken = await book(client, other, machine, start, end)
    assert taken.status_code == 201  # the freed slot went to someone else

    response = await post_event(client, fake_stripe, fake_stripe.complete(session_id))

    assert response.json()["outcome"] == "refunded"
    shown = (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()
    assert shown["status"] == "cancelled"
    refund = await Refund.get(payment_id=created["payment"]["id"])
    assert (refund.amount, refund.card_amount, refund.state) == (2 * RATE, 2 * RATE, "pending")
    stripe_refund = fake_stripe.refunds[refund.provider_refund_id]
    assert stripe_refund["amount"] == 2 * RATE
    assert stripe_refund["payment_intent"] == fake_stripe.sessions[session_id]["payment_intent"]
    mail = await OutboxMessage.get(to=user.email)
    assert "/payments/" in mail.text_body

    settled = await post_event(
        client, fake_stripe, fake_stripe.refund_event(refund.provider_refund_id)
    )
    assert settled.json()["outcome"] == "refund succeeded"
    payment = await Payment.get(id=created["payment"]["id"])
    assert (payment.state, payment.refunded_amount) == ("refunded", 2 * RATE)


async def test_a_refund_event_before_its_creation_event_still_ends_refunded(client, fake_stripe):
    _machine, _user, headers, created = await hold(client, fake_stripe)
    session_id = session_of(fake_stripe, created)["id"]
    await post_event(client, fake_stripe, fake_stripe.complete(session_id))
    cancelled = await client.post(f"/api/v1/bookings/{created['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    await jobs.drain()  # the Refund API call is a job
    refund = await Refund.get(payment_id=created["payment"]["id"])
    succeeded = fake_stripe.refund_event(refund.provider_refund_id, "succeeded")
    from tests.payments.fake_stripe import event

    created_event = event(
        "refund.created", {**fake_stripe.refunds[refund.provider_refund_id], "status": "pending"}
    )

    await post_event(client, fake_stripe, succeeded)
    await post_event(client, fake_stripe, created_event)  # older news, arriving later

    payment = await Payment.get(id=created["payment"]["id"])
    assert payment.state == "refunded"
    assert (await Refund.get(id=refund.id)).state == "succeeded"


async def test_when_stripe_is_down_nothing_is_held(client, fake_stripe):
    machine = await priced_machine()
    headers = await bearer(await quick_user("lan@becamex.com.vn"))
    fake_stripe.fail_next = 10
    start, end = slot()
    response = await book(client, headers, machine, start, end)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payment_unavailable"
    assert await Booking.filter(status="pending_payment").count() == 0
    fake_stripe.fail_next = 0
    assert (await book(client, headers, machine, start, end)).status_code == 201


async def test_the_webhook_needs_no_csrf_token_but_other_posts_do(client, fake_stripe):
    response = await client.post("/payments/1/mark-paid", data={})
    assert response.status_code in (400, 403)
    body = json.dumps({"id": "evt_x", "type": "x", "data": {"object": {}}})
    response = await client.post("/payments/stripe/webhook", content=body)
    assert response.status_code == 400  # refused for its missing signature, not for CSRF
