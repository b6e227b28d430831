"""Refunds follow the cancellation policy; credit is used before the card and goes back to
credit; the balance is always the sum of the append-only ledger, also under concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tortoise import timezone

from ecosystem import jobs
from ecosystem.errors import Invalid
from ecosystem.payments.models import AccountKind, CreditAccount, CreditEntry, Payment, Refund
from ecosystem.payments.services import ledger as credits
from labs.models import Booking, LabStaff
from tests.labs.conftest import bearer, make_lab, quick_user
from tests.payments.conftest import RATE, booking_body, post_event, priced_machine, slot


async def paid_booking(client, fake_stripe, lab=None, email="lan@becamex.com.vn", days=3):
    machine = await priced_machine(lab)
    user = await quick_user(email)
    headers = await bearer(user)
    start, end = slot(days)
    created = (
        await client.post(
            "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
        )
    ).json()
    session_id = created["checkout_url"].rsplit("/", 1)[-1]
    await post_event(client, fake_stripe, fake_stripe.complete(session_id))
    return machine, user, headers, created


async def move_close_to_start(booking_id: int, hours: int = 5) -> None:
    """The booking now starts in `hours` hours: past the 24-hour cancellation deadline."""
    start = timezone.now() + timedelta(hours=hours)
    await Booking.filter(id=booking_id).update(starts_at=start, ends_at=start + timedelta(hours=2))


async def cancel(client, headers, booking_id: int):
    response = await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=headers)
    await jobs.drain()
    return response


async def test_cancelling_before_the_deadline_refunds_in_full_through_stripe(client, fake_stripe):
    _machine, _user, headers, created = await paid_booking(client, fake_stripe)

    response = await cancel(client, headers, created["id"])

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["payment"]["state"] == "paid"  # until Stripe says the refund went through
    assert [r["amount"] for r in body["payment"]["refunds"]] == [2 * RATE]
    refund = await Refund.get(payment_id=created["payment"]["id"])
    assert fake_stripe.refunds[refund.provider_refund_id]["amount"] == 2 * RATE
    assert ("/v1/refunds", f"refund:{refund.id}") in fake_stripe.idempotent
    await post_event(client, fake_stripe, fake_stripe.refund_event(refund.provider_refund_id))
    shown = (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()
    assert shown["payment"]["state"] == "refunded"
    assert shown["payment"]["refunded_amount"] == 2 * RATE


@pytest.mark.parametrize(("percent", "refunded"), [(50, RATE), (0, 0)])
async def test_after_the_deadline_the_lab_policy_decides(client, fake_stripe, percent, refunded):
    lab = await make_lab(late_cancellation_refund_percent=percent)
    _machine, _user, headers, created = await paid_booking(client, fake_stripe, lab)
    await move_close_to_start(created["id"])

    response = await cancel(client, headers, created["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    refunds = await Refund.filter(payment_id=created["payment"]["id"])
    assert sum(r.amount for r in refunds) == refunded
    assert sum(r["amount"] for r in fake_stripe.refunds.values()) == refunded
    for refund in refunds:
        await post_event(client, fake_stripe, fake_stripe.refund_event(refund.provider_refund_id))
    payment = await Payment.get(id=created["payment"]["id"])
    assert payment.state == ("partially_refunded" if refunded else "paid")
    assert payment.refunded_amount == refunded


async def test_staff_cancelling_late_refunds_in_full(client, fake_stripe):
    lab = await make_lab(late_cancellation_refund_percent=0)
    _machine, _user, _headers, created = await paid_booking(client, fake_stripe, lab)
    await move_close_to_start(created["id"])
    staff = await quick_user("staff@becamex.com.vn")
    await LabStaff.create(lab=lab, user=staff)

    response = await cancel(client, await bearer(staff), created["id"])

    assert response.status_code == 200
    refund = await Refund.get(payment_id=created["payment"]["id"])
    assert (refund.amount, refund.reason) == (2 * RATE, "cancelled_by_staff")


async def test_a_free_booking_past_its_deadline_still_cannot_be_cancelled(client, fake_stripe):
    from tests.labs.conftest import make_equipment

    machine = await make_equipment(await make_lab())
    user = await quick_user("lan@becamex.com.vn")
    headers = await bearer(user)
    start, end = slot()
    created = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
    )
    assert created.json()["status"] == "confirmed" and created.json()["payment"] is None
    await move_close_to_start(created.json()["id"])
    response = await cancel(client, headers, created.json()["id"])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "cancellation_deadline"


# --- credits ----------------------------------------------------------------------------------


async def assert_ledger_holds() -> None:
    """Double entry: every balance is its entries, none but the funding one below zero, and
    the entries of the whole ledger add up to zero."""
    for account in await CreditAccount.all():
        assert account.balance >= 0 or account.kind == AccountKind.FUNDING
        assert account.balance == await credits.ledger_sum(account.id)
    assert sum(await CreditEntry.all().values_list("amount", flat=True)) == 0


async def test_credit_pays_first_and_goes_back_to_credit(client, fake_stripe):
    machine = await priced_machine()
    user = await quick_user("lan@becamex.com.vn")
    headers = await bearer(user)
    await credits.fund("test", 3 * RATE)
    await credits.grant_credit(
        actor=None, amount=3 * RATE, reason="Welcome", source="test", user=user
    )
    start, end = slot()

    response = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
    )

    body = response.json()
    assert response.status_code == 201
    assert body["status"] == "confirmed" and body["checkout_url"] is None
    assert body["payment"]["method"] == "credit" and body["payment"]["state"] == "paid"
    assert body["payment"]["receipt_url"]
    assert fake_stripe.sessions == {}  # no card involved
    assert await credits.balance(user=user) == RATE
    await assert_ledger_holds()

    await cancel(client, headers, body["id"])
    assert await credits.balance(user=user) == 3 * RATE
    assert fake_stripe.refunds == {}
    kinds = [e.kind for e in await credits.ledger(user=user)]
    assert kinds == ["refund", "consume", "grant"]
    await assert_ledger_holds()

    api = (await client.get("/api/v1/credits", headers=headers)).json()
    mine = api["balances"][0]
    assert (mine["owner"], mine["balance"]) == ("user", 3 * RATE)
    assert [e["amount"] for e in mine["ledger"]] == [2 * RATE, -2 * RATE, 3 * RATE]


async def test_credit_short_of_the_price_leaves_the_rest_to_the_card(client, fake_stripe):
    machine = await priced_machine()
    user = await quick_user("lan@becamex.com.vn")
    headers = await bearer(user)
    await credits.fund("test", 50_000)
    await credits.grant_credit(actor=None, amount=50_000, reason="Perk", source="test", user=user)
    start, end = slot()

    body = (
        await client.post(
            "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
        )
    ).json()

    assert body["status"] == "pending_payment"
    assert body["payment"]["credit_amount"] == 50_000
    session = fake_stripe.sessions[body["checkout_url"].rsplit("/", 1)[-1]]
    assert session["amount_total"] == 2 * RATE - 50_000
    assert await credits.balance(user=user) == 0
    # The hold runs out unpaid: the credit comes back, nothing is lost.
    from ecosystem.payments.services import checkout

    assert await checkout.release_hold(body["payment"]["id"])
    assert await credits.balance(user=user) == 50_000
    await assert_ledger_holds()


async def test_paying_all_by_credit_needs_enough_credit(client, fake_stripe):
    machine = await priced_machine()
    user = await quick_user("lan@becamex.com.vn")
    headers = await bearer(user)
    start, end = slot()
    response = await client.post(
        "/api/v1/bookings",
        json=booking_body(machine, start, end, payer="credit"),
        headers=headers,
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_credit"
    assert await Booking.all().count() == 0


async def test_grants_are_idempotent_per_reference_even_at_once(app):
    user = await quick_user("founder@startup.vn")
    await credits.fund("incubator", 500_000)  # one grant's worth: a repeat would be refused
    entries = await asyncio.gather(
        *[
            credits.grant_credit(
                actor=None,
                amount=500_000,
                reason="Cohort 2026 lab perk",
                source="incubator",
                reference="programme:1:startup:7",
                user=user,
            )
            for _ in range(5)
        ]
    )
    assert len({e.id for e in entries}) == 1
    assert await credits.balance(user=user) == 500_000
    await assert_ledger_holds()
    with pytest.raises(Invalid):
        await credits.grant_credit(actor=None, amount=0, reason="x", source="s", user=user)
    with pytest.raises(ValueError):
        await credits.grant_credit(actor=None, amount=1, reason="x", source="s")


async def test_the_ledger_sum_holds_under_concurrent_bookings(client, fake_stripe):
    lab = await make_lab()
    machines = [await priced_machine(lab) for _ in range(8)]
    user = await quick_user("lan@becamex.com.vn")
    headers = await bearer(user)
    await credits.fund("test", 5 * 2 * RATE)
    await credits.grant_credit(
        actor=None, amount=5 * 2 * RATE, reason="Perk", source="test", user=user
    )
    start, end = slot()

    responses = await asyncio.gather(
        *[
            client.post(
                "/api/v1/bookings",
                json=booking_body(machine, start, end, payer="credit"),
                headers=headers,
            )
            for machine in machines
        ]
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 5 + [409] * 3
    assert await credits.balance(user=user) == 0
    assert await Booking.all().count() == 5
    await assert_ledger_holds()
    entries = await CreditEntry.filter(account__user_id=user.id)
    assert sum(e.amount for e in entries) == 0
    assert len([e for e in entries if e.kind == "consume"]) == 5
    revenue = await CreditAccount.get(kind=AccountKind.REVENUE, issuer_key=f"labs.lab:{lab.id}")
    assert revenue.balance == 5 * 2 * RATE  # what was spent went to the lab's revenue
