"""Payments tests: the real stripe SDK against a local fake Stripe (tests/payments/fake_stripe.py).

`settings` here is the shared one with Stripe keys and STRIPE_API_BASE pointing at the fake,
so every app in this folder takes card payments; `no_stripe_settings` is the same without keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest

from ecosystem import jobs
from ecosystem.settings import Settings
from tests.labs.conftest import at, local_day, make_equipment, make_lab
from tests.payments.fake_stripe import FakeStripe
from tests.payments.fake_vnpay import FakeVnpay

SECRET_KEY = "sk_test_" + "k" * 24
RATE = 100_000  # VND per hour for the public
STUDENT_RATE = 20_000


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[FakeStripe]:
    server = FakeStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(stripe_server: FakeStripe) -> Iterator[FakeStripe]:
    stripe_server.reset()
    yield stripe_server
    stripe_server.reset()


@pytest.fixture(scope="session")
def vnpay_server() -> Iterator[FakeVnpay]:
    server = FakeVnpay()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_vnpay(vnpay_server: FakeVnpay) -> Iterator[FakeVnpay]:
    vnpay_server.reset()
    yield vnpay_server
    vnpay_server.reset()


def with_vnpay(settings: Settings, fake: FakeVnpay) -> Settings:
    """These settings with VNPay's terminal code and secret, and its URLs at the stand-in."""
    return dataclasses.replace(
        settings,
        vnpay_tmn_code=fake.tmn_code,
        vnpay_hash_secret=fake.hash_secret,
        vnpay_payment_url=fake.payment_url,
        vnpay_api_url=fake.api_url,
    )


@pytest.fixture
def settings(settings: Settings, fake_stripe: FakeStripe) -> Settings:
    return dataclasses.replace(
        settings,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_api_base=fake_stripe.url,
    )


async def priced_machine(lab=None, rates: dict[str, int] | None = None, **rules):
    lab = lab or await make_lab()
    return await make_equipment(lab, "Laser Trotec", rates=rates or {"public": RATE}, **rules)


def slot(days: int = 3, hour: int = 9, hours: int = 2):
    start = at(local_day(days), hour)
    end = at(local_day(days), hour + hours)
    return start, end


def booking_body(equipment, start, end, **extra) -> dict:
    return {
        "equipment_id": equipment.id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "purpose": "Enclosure",
        **extra,
    }


async def post_event(client: httpx.AsyncClient, fake: FakeStripe, event: dict, **kw):
    body, headers = fake.signed(event, **kw)
    response = await client.post("/payments/stripe/webhook", content=body, headers=headers)
    await jobs.drain()
    return response
