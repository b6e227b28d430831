"""VNPay beside Stripe, over HTTP, against the local VNPay stand-in (tests/payments/fake_vnpay.py,
which checks and signs with its own implementation of VNPay's rules).

The payment URL (signed, amount ×100, expiry in Vietnam's time); the IPN's answers (00, 97,
01, 04, 02) for paid, cancelled by the person, forged, wrong amount, unknown reference,
duplicate and concurrent deliveries; the return page only shows; a hold at its end is asked
about with `querydr` (paid there → confirmed, else released); a late success is confirmed if
the slot is free, else refunded through VNPay's `refund`; cancelling refunds by the lab's
policy; a lab chooses the providers it accepts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from tortoise import timezone

from ecosystem import jobs
from ecosystem.payments.models import Payment, PaymentEvent, Refund
from ecosystem.payments.services import webhooks
from ecosystem.settings import Settings
from labs.models import Booking, LabStaff
from labs.services.payments import issuer_key
from tests.conftest import person
from tests.labs.conftest import bearer, make_lab, quick_user
from tests.payments.conftest import RATE, booking_body, priced_machine, slot, with_vnpay
from tests.payments.fake_vnpay import FakeVnpay, url_hash

IPN = "/payments/vnpay/ipn"


@pytest.fixture
def settings(settings: Settings, fake_vnpay: FakeVnpay) -> Settings:
    """VNPay only (no Stripe keys): what a lab in Vietnam can open."""
    plain = dataclasses.replace(settings, stripe_secret_key="", stripe_webhook_secret="")
    return with_vnpay(plain, fake_vnpay)


async def vnpay_hold(client, fake: FakeVnpay, email="lan@becamex.com.vn", machine=None, **kw):
    machine = machine or await priced_machine()
    user = await quick_user(email)
    headers = await bearer(user)
    start, end = slot(**kw)
    response = await client.post(
        "/api/v1/bookings",
        json=booking_body(machine, start, end, payer="vnpay"),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    # The person's browser opens the payment URL at VNPay (the stand-in checks its signature).
    async with httpx.AsyncClient() as browser:
        page = await browser.get(created["checkout_url"])
    assert page.status_code == 200, page.text
    ref = dict(parse_qsl(urlsplit(created["checkout_url"]).query))["vnp_TxnRef"]
    return machine, headers, created, ref


async def ipn(client, params: dict[str, str]) -> dict:
    response = await client.get(IPN, params=params)
    await jobs.drain()
    assert response.status_code == 200
    return response.json()


async def booking_of(client, headers, created) -> dict:
    return (await client.get(f"/api/v1/bookings/{created['id']}", headers=headers)).json()


async def test_payment_url_is_signed_and_the_ipn_confirms_once(client, fake_vnpay):
    _machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)

    assert created["status"] == "pending_payment"
    assert created["checkout_url"].startswith(fake_vnpay.payment_url + "?")
    query = dict(parse_qsl(urlsplit(created["checkout_url"]).query))
    assert query["vnp_Amount"] == str(2 * RATE * 100)
    assert query["vnp_SecureHash"] == url_hash(query, fake_vnpay.hash_secret)
    assert query["vnp_TmnCode"] == fake_vnpay.tmn_code and query["vnp_CurrCode"] == "VND"
    assert query["vnp_Version"] == "2.1.0" and query["vnp_Command"] == "pay"
    assert query["vnp_ReturnUrl"].endswith("/payments/vnpay/return")
    payment = await Payment.get(id=created["payment"]["id"])
    assert payment.provider == "vnpay" and payment.checkout_session_id == ref
    expires = payment.hold_expires_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert query["vnp_ExpireDate"] == expires.strftime("%Y%m%d%H%M%S")
    assert created["payment"]["provider"] == "vnpay"

    # The return page only shows: the booking stays a hold until the IPN.
    result = fake_vnpay.result(ref)
    back = await client.get("/payments/vnpay/return", params=result)
    assert back.status_code == 303 and back.headers["location"].endswith(f"/payments/{payment.id}")
    assert (await booking_of(client, headers, created))["status"] == "pending_payment"

    assert await ipn(client, result) == {"RspCode": "00", "Message": "Confirm Success"}
    shown = await booking_of(client, headers, created)
    assert shown["status"] == "confirmed"
    assert shown["payment"]["state"] == "paid" and shown["payment"]["receipt_url"]
    await payment.refresh_from_db()
    assert payment.payment_intent_id == result["vnp_TransactionNo"]

    # Delivered again: already confirmed, nothing changes.
    assert await ipn(client, result) == {"RspCode": "02", "Message": "Order already confirmed"}
    await payment.refresh_from_db()
    assert payment.receipt_number == 1


async def test_cancelled_by_the_person_frees_the_slot(client, fake_vnpay):
    machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)

    assert await ipn(client, fake_vnpay.result(ref, paid=False)) == {
        "RspCode": "00",
        "Message": "Confirm Success",
    }
    shown = await booking_of(client, headers, created)
    assert shown["status"] == "cancelled" and shown["payment"]["state"] == "void"
    # Never backwards: a failure after that, or a later failure IPN, is "already confirmed".
    assert (await ipn(client, fake_vnpay.result(ref, paid=False)))["RspCode"] == "02"
    # The slot is free for somebody else.
    other = await bearer(await quick_user("minh@eiu.edu.vn"))
    start, end = slot()
    again = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end, payer="vnpay"), headers=other
    )
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("case", ["forged", "wrong_secret", "wrong_amount", "unknown_ref"])
async def test_bad_notifications_change_nothing(client, fake_vnpay, case):
    _machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)
    result = fake_vnpay.result(ref)
    if case == "forged":
        result = {**result, "vnp_Amount": "100"}  # changed after signing
        expected = {"RspCode": "97", "Message": "Invalid signature"}
    elif case == "wrong_secret":
        result = {**result, "vnp_SecureHash": url_hash(result, "not-the-secret")}
        expected = {"RspCode": "97", "Message": "Invalid signature"}
    elif case == "wrong_amount":
        result = fake_vnpay.result(ref, amount=RATE)  # signed, but half the price
        expected = {"RspCode": "04", "Message": "Invalid amount"}
    else:
        fake_vnpay.orders["999-20200101000000"] = {**fake_vnpay.orders[ref], "_status": "open"}
        fake_vnpay.orders["999-20200101000000"]["vnp_TxnRef"] = "999-20200101000000"
        result = fake_vnpay.result("999-20200101000000")
        expected = {"RspCode": "01", "Message": "Order not found"}

    assert await ipn(client, result) == expected
    shown = await booking_of(client, headers, created)
    assert shown["status"] == "pending_payment" and shown["payment"]["state"] == "pending"
    assert not await PaymentEvent.filter(provider="vnpay").exists()
    no_hash = {k: v for k, v in result.items() if k != "vnp_SecureHash"}
    assert (await ipn(client, no_hash))["RspCode"] == "97"
    assert (await client.get("/payments/vnpay/return", params=result)).status_code in (303, 422)


async def test_two_deliveries_at_the_same_moment_confirm_once(client, fake_vnpay):
    _machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)
    result = fake_vnpay.result(ref)

    answers = await asyncio.gather(client.get(IPN, params=result), client.get(IPN, params=result))
    await jobs.drain()

    codes = sorted(a.json()["RspCode"] for a in answers)
    assert codes == ["00", "02"]
    assert await PaymentEvent.filter(provider="vnpay").count() == 1
    payment = await Payment.get(id=created["payment"]["id"])
    assert payment.state == "paid" and payment.receipt_number == 1
    assert (await booking_of(client, headers, created))["status"] == "confirmed"


async def _end_hold(created) -> None:
    past = timezone.now() - timedelta(minutes=1)
    await Payment.filter(id=created["payment"]["id"]).update(hold_expires_at=past)


async def test_hold_at_its_end_is_queried_then_released(client, fake_vnpay):
    _machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)
    await _end_hold(created)

    assert await webhooks.settle_due_holds(timezone.now()) == 1

    assert [c["vnp_Command"] for c in fake_vnpay.api_calls] == ["querydr"]
    assert fake_vnpay.api_calls[0]["vnp_TxnRef"] == ref
    shown = await booking_of(client, headers, created)
    assert shown["status"] == "cancelled" and shown["payment"]["state"] == "expired"


async def test_lost_ipn_is_found_by_querydr_and_confirmed(client, fake_vnpay):
    _machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)
    result = fake_vnpay.result(ref)  # paid at VNPay; the IPN never arrived
    await _end_hold(created)

    assert await webhooks.settle_due_holds(timezone.now()) == 1
    await jobs.drain()

    shown = await booking_of(client, headers, created)
    assert shown["status"] == "confirmed" and shown["payment"]["state"] == "paid"
    # The IPN arriving afterwards is a duplicate.
    assert (await ipn(client, result))["RspCode"] == "02"


async def test_late_success_slot_free_is_confirmed(client, fake_vnpay):
    _machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)
    await _end_hold(created)
    fake_vnpay.orders[ref]["_status"] = "open"
    await webhooks.settle_due_holds(timezone.now())
    assert (await booking_of(client, headers, created))["status"] == "cancelled"

    assert (await ipn(client, fake_vnpay.result(ref)))["RspCode"] == "00"

    shown = await booking_of(client, headers, created)
    assert shown["status"] == "confirmed" and shown["payment"]["state"] == "paid"
    assert not fake_vnpay.refunds


async def test_late_success_slot_taken_is_refunded_through_vnpay(client, fake_vnpay):
    machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)
    await _end_hold(created)
    await webhooks.settle_due_holds(timezone.now())
    _m, _h, other, _ref = await vnpay_hold(client, fake_vnpay, "minh@eiu.edu.vn", machine)
    assert other["status"] == "pending_payment"  # the freed slot was taken

    assert (await ipn(client, fake_vnpay.result(ref)))["RspCode"] == "00"

    assert fake_vnpay.refunds == [{"ref": ref, "amount": 2 * RATE * 100, "type": "02"}]
    shown = await booking_of(client, headers, created)
    assert shown["status"] == "cancelled" and shown["payment"]["state"] == "refunded"
    refund = await Refund.get(payment_id=created["payment"]["id"])
    assert refund.state == "succeeded" and refund.reason == "late_payment"


async def test_cancelling_a_paid_booking_refunds_by_the_lab_policy(client, fake_vnpay):
    lab = await make_lab(late_cancellation_refund_percent=50)
    machine = await priced_machine(lab)
    _m, headers, created, ref = await vnpay_hold(client, fake_vnpay, machine=machine)
    assert (await ipn(client, fake_vnpay.result(ref)))["RspCode"] == "00"
    start = timezone.now() + timedelta(hours=5)  # past the cancellation deadline
    await Booking.filter(id=created["id"]).update(
        starts_at=start, ends_at=start + timedelta(hours=2)
    )

    response = await client.post(f"/api/v1/bookings/{created['id']}/cancel", headers=headers)
    await jobs.drain()

    assert response.status_code == 200, response.text
    assert fake_vnpay.refunds == [{"ref": ref, "amount": RATE * 100, "type": "03"}]
    refund = await Refund.get(payment_id=created["payment"]["id"])
    assert refund.state == "succeeded" and refund.provider_refund_id.startswith("vnpay:")
    shown = await booking_of(client, headers, created)
    assert shown["payment"]["state"] == "partially_refunded"
    assert shown["payment"]["refunded_amount"] == RATE


async def test_a_refused_refund_stays_pending_and_is_sent_again(client, fake_vnpay):
    _machine, headers, created, ref = await vnpay_hold(client, fake_vnpay)
    assert (await ipn(client, fake_vnpay.result(ref)))["RspCode"] == "00"
    fake_vnpay.refuse_refunds = True

    await client.post(f"/api/v1/bookings/{created['id']}/cancel", headers=headers)
    await jobs.drain()
    refund = await Refund.get(payment_id=created["payment"]["id"])
    assert refund.state == "pending" and refund.provider_refund_id is None

    fake_vnpay.refuse_refunds = False
    from ecosystem.payments.services import refunds

    assert await refunds.send_card_refund(refund.id) == "sent"
    await refund.refresh_from_db()
    assert refund.state == "succeeded"
    assert len(fake_vnpay.refunds) == 1


async def test_a_lab_chooses_its_providers(client, settings, new_browser, fake_vnpay):
    lab = await make_lab()
    machine = await priced_machine(lab)
    staff = await person("staff@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    staff_browser = new_browser()
    await staff_browser.login(staff.email)
    page = await staff_browser.get(f"/labs/{lab.slug}/payments")
    assert 'id="f-provider-vnpay"' in page.text and "checked" in page.text

    # Nothing ticked: this lab's priced bookings are paid at the lab.
    saved = await staff_browser.post(f"/labs/{lab.slug}/payments", {"action": "providers"})
    assert saved.status_code == 303
    user = await quick_user("lan@becamex.com.vn")
    headers = await bearer(user)
    start, end = slot()
    refused = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end, payer="vnpay"), headers=headers
    )
    assert refused.status_code == 422 and "payer" in refused.text
    at_lab = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
    )
    assert at_lab.status_code == 201 and at_lab.json()["payment"]["method"] == "at_lab"

    # An unknown provider is refused, what was ticked is kept.
    bad = await staff_browser.post(
        f"/labs/{lab.slug}/payments", {"action": "providers", "providers": "stripe"}
    )
    assert bad.status_code == 422
    ok = await staff_browser.post(
        f"/labs/{lab.slug}/payments", {"action": "providers", "providers": "vnpay"}
    )
    assert ok.status_code == 303
    from ecosystem.payments.services.common import accepted_providers

    assert await accepted_providers(issuer_key(lab.id)) == ("vnpay",)

    # Unverified staff, or staff of another lab, cannot choose.
    unverified = await person("new@becamex.vn", verified=False)
    await LabStaff.create(lab=lab, user=unverified)
    other_browser = new_browser()
    await other_browser.login(unverified.email)
    denied = await other_browser.post(
        f"/labs/{lab.slug}/payments", {"action": "providers", "providers": "vnpay"}
    )
    assert denied.status_code in (403, 404)
    stranger = await person("x@eiu.edu.vn")
    stranger_browser = new_browser()
    await stranger_browser.login(stranger.email)
    assert (
        await stranger_browser.post(f"/labs/{lab.slug}/payments", {"action": "providers"})
    ).status_code == 404


async def test_the_booking_form_offers_vnpay(client, new_browser, fake_vnpay):
    machine = await priced_machine()
    student = await person("lan@eiu.edu.vn")
    browser = new_browser()
    await browser.login(student.email)
    start, end = slot()
    page = await browser.get(
        f"/equipment/{machine.id}/book", params={"start": start.isoformat(), "end": end.isoformat()}
    )
    assert page.status_code == 200
    assert 'id="payer-choice"' in page.text and "VNPay" in page.text
