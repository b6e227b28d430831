"""Stripe and VNPay both configured: the payer chooses among the providers the lab accepts,
each payment goes to its own provider, and Stripe's flow is unchanged."""

from __future__ import annotations

import pytest

from ecosystem.payments.models import Payment
from ecosystem.payments.services.common import set_providers
from ecosystem.settings import Settings
from labs.services.payments import issuer_key
from tests.conftest import person
from tests.labs.conftest import bearer, quick_user
from tests.payments.conftest import booking_body, priced_machine, slot, with_vnpay
from tests.payments.fake_vnpay import FakeVnpay


@pytest.fixture
def settings(settings: Settings, fake_vnpay: FakeVnpay) -> Settings:
    return with_vnpay(settings, fake_vnpay)  # Stripe's keys (tests/payments/conftest.py) too


async def test_each_payer_goes_to_its_provider(client, fake_stripe, fake_vnpay):
    machine = await priced_machine()
    headers = await bearer(await quick_user("lan@becamex.com.vn"))
    made = {}
    for days, payer in ((3, "auto"), (4, "stripe"), (5, "vnpay")):
        start, end = slot(days)
        response = await client.post(
            "/api/v1/bookings", json=booking_body(machine, start, end, payer=payer), headers=headers
        )
        assert response.status_code == 201, response.text
        made[payer] = response.json()
    assert made["auto"]["checkout_url"].startswith(fake_stripe.url + "/pay/cs_test_")
    assert made["stripe"]["checkout_url"].startswith(fake_stripe.url + "/pay/cs_test_")
    assert made["vnpay"]["checkout_url"].startswith(fake_vnpay.payment_url + "?")
    providers = {p.subject_id: p.provider for p in await Payment.all()}
    assert sorted(providers.values()) == ["stripe", "stripe", "vnpay"]
    assert len(fake_stripe.sessions) == 2

    # The lab prefers VNPay: `auto` goes there, and Stripe is no longer offered.
    await set_providers(issuer_key(machine.lab_id), ["vnpay"])
    start, end = slot(6)
    auto = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
    )
    assert auto.json()["checkout_url"].startswith(fake_vnpay.payment_url)
    start, end = slot(7)
    refused = await client.post(
        "/api/v1/bookings", json=booking_body(machine, start, end, payer="stripe"), headers=headers
    )
    assert refused.status_code == 422


async def test_the_booking_form_offers_both(client, new_browser, fake_stripe, fake_vnpay):
    machine = await priced_machine()
    student = await person("lan@eiu.edu.vn")
    browser = new_browser()
    await browser.login(student.email)
    start, end = slot()
    page = await browser.get(
        f"/equipment/{machine.id}/book", params={"start": start.isoformat(), "end": end.isoformat()}
    )
    assert page.status_code == 200
    assert '<option value="auto" selected>' in page.text and '<option value="vnpay"' in page.text
