"""Without Stripe keys, priced bookings are confirmed to be paid at the lab, the pages say so
plainly, and the lab's staff mark them paid (which numbers the receipt)."""

from __future__ import annotations

import dataclasses

import pytest

from ecosystem.payments.models import Payment
from ecosystem.settings import Settings
from labs.models import LabStaff
from tests.conftest import person
from tests.labs.conftest import bearer, make_lab
from tests.payments.conftest import RATE, booking_body, priced_machine, slot


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, stripe_secret_key="", stripe_webhook_secret="")


async def test_without_stripe_keys_bookings_are_paid_at_the_lab(client, new_browser, fake_stripe):
    lab = await make_lab()
    machine = await priced_machine(lab)
    staff = await person("staff@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    payer = await person("lan@becamex.com.vn")
    start, end = slot()

    mine = new_browser(lang="en")
    await mine.login(payer.email)
    query = {"start": start.isoformat(), "end": end.isoformat()}
    form = await mine.get(f"/equipment/{machine.id}/book", params=query)
    assert form.status_code == 200, form.text[-3000:]
    assert 'id="pay-at-lab"' in form.text
    response = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end), headers=await bearer(payer)
    )

    body = response.json()
    assert response.status_code == 201
    assert body["status"] == "confirmed" and body["checkout_url"] is None
    assert (body["payment"]["method"], body["payment"]["state"]) == ("at_lab", "pending")
    assert body["payment"]["amount"] == 2 * RATE
    assert fake_stripe.requests == []
    page = await mine.get(f"/payments/{body['payment']['id']}")
    assert "pay at the lab" in page.text
    assert "Mark as paid" not in page.text
    refused = await mine.post(f"/payments/{body['payment']['id']}/mark-paid")
    assert refused.status_code == 404

    staff_browser = new_browser(lang="en")
    await staff_browser.login(staff.email)
    lab_page = await staff_browser.get(f"/labs/{lab.slug}/payments")
    assert 'id="no-online-payment"' in lab_page.text
    assert f'id="due-{body["payment"]["id"]}"' in lab_page.text
    marked = await staff_browser.post(
        f"/payments/{body['payment']['id']}/mark-paid", {"next": f"/labs/{lab.slug}/payments"}
    )
    assert marked.status_code == 303
    assert marked.headers["location"] == f"/labs/{lab.slug}/payments"
    payment = await Payment.get(id=body["payment"]["id"])
    assert (payment.state, payment.receipt_number, payment.marked_paid_by_id) == (
        "paid",
        1,
        staff.id,
    )
