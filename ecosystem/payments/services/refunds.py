"""Money going back: a cancelled subject's payment voided or refunded, card refunds sent once.

The credit part goes back to credit at once, the statement or on-site part is settled at once,
the card part goes through the provider: Stripe's Refund API (a job; the webhook settles it)
or VNPay's `refund` (a job; settled by VNPay's answer). Each card
refund is claimed before it is sent and carries an idempotency key: sent exactly once, also
by the sweep that picks up refunds whose job was lost.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise import timezone
from tortoise.expressions import F, Q

from ecosystem import jobs
from ecosystem.payments.models import (
    Payment,
    PaymentMethod,
    PaymentState,
    Refund,
    RefundState,
)
from ecosystem.payments.services import vnpay
from ecosystem.payments.services.common import (
    EXPIRE_CHECKOUT_JOB,
    SEND_REFUND_JOB,
    STATE_RANK,
    StripeClient,
    give_back_credit,
    logger,
    stripe_value,
)


async def cancel_payment(
    payment_id: int, percent: int, reason: str, share: int | None = None
) -> Refund | None:
    """The subject was cancelled: end or refund its payment. Call inside that transaction.

    Unpaid: void (a card hold's session is expired by a job). Paid or billed: `percent` of it
    goes back, the credit part to credit at once, the card part through the Refund API (a
    job; the webhook settles it), the statement or on-site part at once.
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None:
        return None
    if payment.state == PaymentState.PENDING:
        moved = await Payment.filter(id=payment.id, state=PaymentState.PENDING).update(
            state=PaymentState.VOID, updated_at=timezone.now()
        )
        if moved:
            await give_back_credit(
                payment, payment.credit_amount, "release", f"payment:{payment.id}:release"
            )
            if payment.checkout_session_id:
                await jobs.enqueue(
                    EXPIRE_CHECKOUT_JOB, payment.id, job_id=f"checkout-expire:{payment.id}"
                )
        return None
    if payment.state not in (
        PaymentState.PAID,
        PaymentState.BILLED,
        PaymentState.PARTIALLY_REFUNDED,
    ):
        return None
    return await refund_payment(payment, percent, reason, share)


async def refund_payment(
    payment: Payment, percent: int, reason: str, share: int | None = None
) -> Refund | None:
    """`percent` of what remains of the payment goes back; with `share` (one subject of a
    payment that paid for several, e.g. one booking of a basket), `percent` of that share."""
    pending = await Refund.filter(payment_id=payment.id).exclude(state=RefundState.FAILED)
    already = sum(r.amount for r in pending)
    credit_done = sum(r.credit_amount for r in pending)
    remaining = payment.amount - already
    if remaining <= 0 or percent <= 0:
        return None
    total = remaining * min(percent, 100) // 100
    credit_left = payment.credit_amount - credit_done
    credit_back = credit_left if percent >= 100 else min(credit_left, credit_left * percent // 100)
    if share is not None:  # the credit part in proportion to the share of what remains
        total = min(remaining, max(0, share)) * min(percent, 100) // 100
        credit_back = credit_left * total // remaining
    credit_back = min(credit_back, total)
    rest = total - credit_back
    if total <= 0:
        return None
    by_card = payment.method == PaymentMethod.CARD and rest > 0
    refund = await Refund.create(
        payment_id=payment.id,
        amount=total,
        credit_amount=credit_back,
        card_amount=rest if by_card else 0,
        reason=reason[:40],
        state=RefundState.PENDING if by_card else RefundState.SUCCEEDED,
        settled_at=None if by_card else timezone.now(),
    )
    await give_back_credit(payment, credit_back, "refund", f"refund:{refund.id}:credit")
    settled_now = total - (rest if by_card else 0)
    if settled_now:
        await add_refunded(payment.id, settled_now)
    if by_card:
        await jobs.enqueue(SEND_REFUND_JOB, refund.id, job_id=f"refund:{refund.id}")
    return refund


async def add_refunded(payment_id: int, amount: int) -> None:
    await Payment.filter(id=payment_id).update(refunded_amount=F("refunded_amount") + amount)
    payment = await Payment.get(id=payment_id)
    state = (
        PaymentState.REFUNDED
        if payment.refunded_amount >= payment.amount
        else PaymentState.PARTIALLY_REFUNDED
    )
    if STATE_RANK[state] > STATE_RANK[payment.state]:
        await Payment.filter(id=payment_id).update(state=state, updated_at=timezone.now())


# --- sending card refunds ---------------------------------------------------------------------


REFUND_CLAIM_MINUTES = 10  # a send not finished by then (a worker died) is taken over
REFUND_SWEEP_AFTER_MINUTES = 2  # the job sends a refund at once; the sweep only what it left
MAX_REFUND_SENDS = 20  # then the refund stays pending for a person to look at


async def _claim_refund(refund_id: int) -> bool:
    """Take the refund for sending: one conditional UPDATE, so of two senders at the same
    moment (the job and the sweep, or two workers) exactly one gets it. A claim older than
    REFUND_CLAIM_MINUTES belongs to a sender that died and is taken over."""
    now = timezone.now()
    stale = now - timedelta(minutes=REFUND_CLAIM_MINUTES)
    taken = await Refund.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale),
        id=refund_id,
        state=RefundState.PENDING,
        provider_refund_id__isnull=True,
        card_amount__gt=0,
    ).update(claimed_at=now, send_attempts=F("send_attempts") + 1)
    return bool(taken)


async def send_card_refund(refund_id: int) -> str:
    """Ask Stripe to refund the card part, exactly once; the webhook settles it.

    The refund row is claimed first (`_claim_refund`), so only one sender calls Stripe at a
    time, and the call carries the idempotency key `refund:<id>`, so a sender that died after
    Stripe answered and before we wrote the answer down is repeated by Stripe, not doubled.
    Returns "sent", "skipped" (nothing to send), or "claimed" (another sender has it).
    """
    refund = await Refund.get_or_none(id=refund_id).select_related("payment")
    if refund is None or refund.state != RefundState.PENDING or refund.card_amount <= 0:
        return "skipped"
    if refund.provider_refund_id:
        return "sent"
    if not await _claim_refund(refund.id):
        return "claimed"
    try:
        if refund.payment.provider == vnpay.PROVIDER:
            created_id = await _send_vnpay_refund(refund)
        else:
            created_id = await _create_stripe_refund(refund)
    except BaseException:
        # Let the next try (a retry of this job, or the sweep) have it at once.
        await Refund.filter(id=refund.id, provider_refund_id__isnull=True).update(claimed_at=None)
        raise
    await Refund.filter(id=refund.id, provider_refund_id__isnull=True).update(
        provider_refund_id=created_id
    )
    return "sent"


async def _create_stripe_refund(refund: Refund) -> str:
    payment = refund.payment
    params: dict[str, Any] = {
        "amount": refund.card_amount,
        "metadata": {"refund_id": str(refund.id), "payment_id": str(payment.id)},
    }
    if payment.payment_intent_id:
        params["payment_intent"] = payment.payment_intent_id
    else:
        async with StripeClient() as client:
            session = await client.v1.checkout.sessions.retrieve_async(
                payment.checkout_session_id or ""
            )
        params["payment_intent"] = stripe_value(session, "payment_intent", "")
    async with StripeClient() as client:
        created = await client.v1.refunds.create_async(
            params=params, options={"idempotency_key": f"refund:{refund.id}"}
        )
    return created.id


async def _send_vnpay_refund(refund: Refund) -> str:
    """VNPay's `refund` of the card part; its answer settles the refund at once (00), any
    other answer raises VnpayError, so the job's retry or the sweep sends it again (claimed,
    at most MAX_REFUND_SENDS times; then a person looks at it)."""
    payment = refund.payment
    earlier = await Refund.filter(
        payment_id=payment.id, state=RefundState.SUCCEEDED, card_amount__gt=0
    ).exists()
    answer = await vnpay.refund(
        ref=payment.checkout_session_id or "",
        amount=refund.card_amount,
        full=refund.card_amount >= payment.card_amount and not earlier,
        transaction_no=payment.payment_intent_id,
        created_by=f"refund:{refund.id}",
        now=timezone.now(),
    )
    if answer.get("vnp_ResponseCode") != "00":
        raise vnpay.VnpayError(
            f"refund {refund.id}: {answer.get('vnp_ResponseCode')} {answer.get('vnp_Message')}"
        )
    moved = await Refund.filter(id=refund.id, state=RefundState.PENDING).update(
        state=RefundState.SUCCEEDED, settled_at=timezone.now()
    )
    if moved:
        await add_refunded(payment.id, refund.card_amount)
    return f"vnpay:{refund.id}:{answer.get('vnp_TransactionNo') or ''}"[:255]


async def send_stalled_refunds() -> int:
    """Cron sweep (and once when a worker starts): send every card refund left pending
    without a Stripe refund, e.g. its job was lost when Redis restarted with nothing kept.

    Each one goes through `send_card_refund` (claim + idempotency key), so a refund whose job is
    running at the same moment is still sent once. Returns how many were sent.
    """
    cutoff = timezone.now() - timedelta(minutes=REFUND_SWEEP_AFTER_MINUTES)
    stalled = (
        await Refund.filter(
            state=RefundState.PENDING,
            provider_refund_id__isnull=True,
            card_amount__gt=0,
            created_at__lt=cutoff,
            send_attempts__lt=MAX_REFUND_SENDS,
        )
        .order_by("id")
        .limit(100)
        .values_list("id", flat=True)
    )
    sent = 0
    for refund_id in stalled:
        try:
            sent += await send_card_refund(refund_id) == "sent"
        except Exception:  # Stripe down or refusing: the next sweep tries again
            logger.exception("refund %s could not be sent", refund_id)
    if stalled:
        logger.info("refund sweep: %s stalled, %s sent", len(stalled), sent)
    return sent
