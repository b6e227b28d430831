"""A card refund is sent exactly once, even when its job is lost.

- Over a real arq worker and a private `redis-server` (skipped without it on PATH): with the
  worker stopped, a paid card booking is cancelled (the refund job waits in Redis); Redis
  restarts with nothing kept; the worker starts and its sweep sends the refund to Stripe,
  once, and a second run sends nothing more.
- In-process: the refund row is claimed by one conditional UPDATE, so the job and the sweep
  at the same moment call Stripe once; a sender that died leaves a claim that is taken over
  later with the same idempotency key; a failed call gives the claim back.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from tortoise import timezone

from ecosystem import jobs
from ecosystem.payments import jobs as payment_jobs
from ecosystem.payments.models import Refund, RefundState
from ecosystem.payments.services import refunds
from ecosystem.settings import Settings
from ecosystem.worker import build_worker
from tests.conftest import running_app
from tests.labs.conftest import bearer, quick_user
from tests.payments.conftest import RATE, booking_body, post_event, priced_machine, slot
from tests.production.shape import PrivateRedis

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


def refund_calls(fake_stripe) -> list[dict]:
    return [form for method, path, form in fake_stripe.requests if path == "/v1/refunds"]


async def paid_card_booking(http, fake_stripe) -> tuple[dict, dict[str, str]]:
    machine = await priced_machine()
    headers = await bearer(await quick_user("lan@becamex.com.vn"))
    start, end = slot(days=5)
    created = await http.post(
        "/api/v1/bookings", json=booking_body(machine, start, end), headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    session_id = body["checkout_url"].rsplit("/", 1)[-1]
    paid = await post_event(http, fake_stripe, fake_stripe.complete(session_id))
    assert paid.status_code == 200
    return body, headers


async def waited(minutes: int = 10) -> None:
    """The pending refunds were created `minutes` ago (the sweep leaves fresh ones to their job)."""
    await Refund.all().update(created_at=timezone.now() - timedelta(minutes=minutes))


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    if not PrivateRedis.available():
        pytest.skip("redis-server is not on PATH")
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def run_worker(settings: Settings):
    worker = build_worker(settings, burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await asyncio.wait_for(worker.async_run(), timeout=60)
    finally:
        await worker.close()
    return worker


async def test_a_refund_lost_with_redis_is_sent_once_by_the_worker_after_the_restart(
    settings: Settings, private_redis: PrivateRedis, fake_stripe
):
    settings = dataclasses.replace(settings, redis_url=private_redis.url())
    async with running_app(settings) as new_browser:
        http = new_browser().http
        booking, headers = await paid_card_booking(http, fake_stripe)

        # The worker is stopped: cancelling queues the refund job in Redis.
        cancelled = await http.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        refund = await Refund.get(payment_id=booking["payment"]["id"])
        assert (refund.state, refund.card_amount) == (RefundState.PENDING, 2 * RATE)
        redis = Redis.from_url(private_redis.url())
        queued = await redis.zrange("arq:queue", 0, -1)
        await redis.aclose()
        assert f"refund:{refund.id}".encode() in queued
        assert refund_calls(fake_stripe) == []

        # Redis restarts and keeps nothing: the job is gone.
        private_redis.restart()
        redis = Redis.from_url(private_redis.url())
        assert await redis.zcard("arq:queue") == 0
        await redis.aclose()
        await waited()

        # The worker starts: its sweep finds the refund and sends it, once.
        worker = await run_worker(settings)
        assert worker.jobs_complete >= 1
        await refund.refresh_from_db()
        assert refund.provider_refund_id in fake_stripe.refunds
        assert refund.state == RefundState.PENDING  # until Stripe's webhook settles it
        assert len(fake_stripe.refunds) == 1
        [call] = refund_calls(fake_stripe)
        assert call["amount"] == str(2 * RATE)
        assert call["metadata"]["refund_id"] == str(refund.id)

        # The worker starts again (another restart, another sweep): nothing more is sent.
        await run_worker(settings)
        assert len(refund_calls(fake_stripe)) == 1 and len(fake_stripe.refunds) == 1

        # Stripe's webhook settles it; the payment ends refunded.
        event = fake_stripe.refund_event(refund.provider_refund_id)
        assert (await post_event(http, fake_stripe, event)).status_code == 200
        await refund.refresh_from_db()
        assert refund.state == RefundState.SUCCEEDED


async def stalled_refund(client, fake_stripe, monkeypatch) -> Refund:
    """A cancelled paid card booking whose refund job never ran."""
    sent: list[int] = []

    async def lost(ctx, refund_id):  # the job disappears with Redis
        sent.append(refund_id)
        return "lost"

    booking, headers = await paid_card_booking(client, fake_stripe)
    monkeypatch.setitem(jobs._registry, jobs.job_name(payment_jobs.send_refund), lost)
    cancelled = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=headers)
    await jobs.drain()
    monkeypatch.undo()
    assert cancelled.status_code == 200 and len(sent) == 1
    refund = await Refund.get(payment_id=booking["payment"]["id"])
    assert refund.provider_refund_id is None and refund_calls(fake_stripe) == []
    return refund


async def test_the_sweep_leaves_fresh_refunds_to_their_job_and_sends_stalled_ones(
    client, fake_stripe, monkeypatch
):
    refund = await stalled_refund(client, fake_stripe, monkeypatch)
    assert await payment_jobs.send_stalled_refunds({}) == 0  # a minute old: its job may be running
    assert refund_calls(fake_stripe) == []
    await waited()
    assert await payment_jobs.send_stalled_refunds({}) == 1
    assert await payment_jobs.send_stalled_refunds({}) == 0
    await refund.refresh_from_db()
    assert refund.provider_refund_id in fake_stripe.refunds
    assert len(refund_calls(fake_stripe)) == 1
    assert await payment_jobs.send_refund({}, refund.id) == "sent"  # the late job: nothing more
    assert len(refund_calls(fake_stripe)) == 1


async def test_the_job_and_the_sweep_at_the_same_moment_send_once(client, fake_stripe, monkeypatch):
    refund = await stalled_refund(client, fake_stripe, monkeypatch)
    await waited()
    outcomes = await asyncio.gather(
        payment_jobs.send_refund({}, refund.id),
        payment_jobs.send_stalled_refunds({}),
        payment_jobs.send_refund({}, refund.id),
    )
    assert len(refund_calls(fake_stripe)) == 1, outcomes
    assert len(fake_stripe.refunds) == 1
    await refund.refresh_from_db()
    assert refund.send_attempts == 1


async def test_a_dead_senders_claim_is_taken_over_with_the_same_idempotency_key(
    client, fake_stripe, monkeypatch
):
    refund = await stalled_refund(client, fake_stripe, monkeypatch)
    await waited()
    # A sender claimed it, Stripe made the refund, and the sender died before writing it down.
    await Refund.filter(id=refund.id).update(claimed_at=timezone.now(), send_attempts=1)
    made = await refunds._create_stripe_refund(
        await Refund.get(id=refund.id).select_related("payment")
    )
    assert list(fake_stripe.refunds) == [made]
    assert await payment_jobs.send_stalled_refunds({}) == 0  # claimed a moment ago: left alone
    await Refund.filter(id=refund.id).update(
        claimed_at=timezone.now() - timedelta(minutes=refunds.REFUND_CLAIM_MINUTES + 1)
    )
    assert await payment_jobs.send_stalled_refunds({}) == 1
    await refund.refresh_from_db()
    assert refund.send_attempts == 2 and refund.provider_refund_id == made
    assert list(fake_stripe.refunds) == [made]  # Stripe answered the same key with the same refund
    assert [key for path, key in fake_stripe.idempotent if path == "/v1/refunds"] == [
        f"refund:{refund.id}"
    ]


async def test_a_failed_send_gives_the_claim_back_for_the_next_try(
    client, fake_stripe, monkeypatch
):
    refund = await stalled_refund(client, fake_stripe, monkeypatch)
    await waited()
    fake_stripe.fail_next = 10  # Stripe is down (the SDK retries a few times)
    assert await payment_jobs.send_stalled_refunds({}) == 0
    await refund.refresh_from_db()
    assert refund.claimed_at is None and refund.provider_refund_id is None
    fake_stripe.fail_next = 0
    assert await payment_jobs.send_stalled_refunds({}) == 1
    await refund.refresh_from_db()
    assert refund.provider_refund_id in fake_stripe.refunds and len(fake_stripe.refunds) == 1
