"""Background jobs and cron entries of payments: holds released, sessions expired, refunds sent.

Each job is a thin wrapper around a service; all are idempotent (conditional UPDATEs, Stripe
idempotency keys). The services start them by name (`common.*_JOB`): the functions carry the
module name the jobs always had (`common.JOB_MODULE`), so arq's names do not change.
"""

from __future__ import annotations

from typing import Any

from tortoise import timezone

from ecosystem.jobs import JobFunction, cron
from ecosystem.payments.services import checkout, common, refunds, webhooks


def _named(function: JobFunction) -> JobFunction:
    function.__module__ = common.JOB_MODULE
    return function


@_named
async def release_expired_hold(ctx: dict[str, Any], payment_id: int) -> bool:
    """The hold of one payment, at its end (deferred when the hold starts); VNPay is asked
    first whether it was paid there (`querydr`)."""
    return await webhooks.settle_due_hold(payment_id) not in ("unchanged", "not due")


@_named
async def expire_holds(ctx: dict[str, Any]) -> int:
    """Cron sweep: end every online hold whose time is up (also after a lost deferred job):
    released, or confirmed when VNPay's `querydr` says it was paid (a lost IPN)."""
    return await webhooks.settle_due_holds(timezone.now())


@_named
async def expire_checkout(ctx: dict[str, Any], payment_id: int) -> str:
    """Expire the open Checkout Session of a released hold, so it cannot be paid any more."""
    return await checkout.expire_checkout_session(payment_id)


@_named
async def send_refund(ctx: dict[str, Any], refund_id: int) -> str:
    """Ask Stripe to refund the card part, exactly once; the webhook settles it."""
    return await refunds.send_card_refund(refund_id)


@_named
async def send_stalled_refunds(ctx: dict[str, Any]) -> int:
    """Cron sweep (and once when a worker starts): send card refunds whose job was lost."""
    return await refunds.send_stalled_refunds()


jobs = [release_expired_hold, expire_holds, expire_checkout, send_refund, send_stalled_refunds]

cron_jobs = [
    cron(expire_holds, minute=None, second=30),  # every minute
    # Refunds whose job was lost (Redis restarted): every 5 minutes and at worker start.
    cron(send_stalled_refunds, minute=set(range(3, 60, 5)), second=15, run_at_startup=True),
]
