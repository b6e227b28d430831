"""The hold-expiry job on a real arq worker over Redis: an unpaid card hold is released when
its time is up, the slot is free again, and the Stripe session is expired.

Needs TEST_REDIS_URL (its database is flushed)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from ecosystem.payments.models import Payment
from ecosystem.settings import Settings
from ecosystem.worker import build_worker
from labs.models import Booking
from tests.conftest import TEST_REDIS_URL, running_app
from tests.labs.conftest import bearer, quick_user
from tests.payments.conftest import booking_body, priced_machine, slot

pytestmark = [
    pytest.mark.redis,
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(TEST_REDIS_URL)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


async def test_an_unpaid_hold_is_released_by_the_worker(settings: Settings, redis, fake_stripe):
    settings = dataclasses.replace(settings, redis_url=TEST_REDIS_URL, payment_hold_minutes=0)
    async with running_app(settings) as new_browser:
        machine = await priced_machine()
        headers = await bearer(await quick_user("lan@becamex.com.vn"))
        start, end = slot()
        http = new_browser().http
        created = await http.post(
            "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
        )
        assert created.status_code == 201
        body = created.json()
        assert body["status"] == "pending_payment"
        assert await redis.zcard("arq:queue") == 1  # the release, deferred to the hold's end
        session_id = body["checkout_url"].rsplit("/", 1)[-1]

        worker = build_worker(settings, burst=True, poll_delay=0.05, handle_signals=False)
        try:
            await asyncio.wait_for(worker.async_run(), timeout=30)
        finally:
            await worker.close()

        assert worker.jobs_complete >= 2  # the release, then the session's expiry
        booking = await Booking.get(id=body["id"])
        payment = await Payment.get(id=body["payment"]["id"])
        assert (booking.status, payment.state) == ("cancelled", "expired")
        assert fake_stripe.sessions[session_id]["status"] == "expired"
        other = await bearer(await quick_user("binh@tdmu.edu.vn"))
        again = await http.post(
            "/api/v1/bookings", json=booking_body(machine, start, end), headers=other
        )
        assert again.status_code == 201  # the slot is free again
