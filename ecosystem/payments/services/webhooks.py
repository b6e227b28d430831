"""Stripe's webhook events (verified on the raw body) and VNPay's IPNs (verified by their
`vnp_SecureHash`), each applied at most once.

The event id is inserted in the same transaction as the change it causes (unique
`(provider, event_id)`), and states only move forward (common.STATE_RANK), so a repeated or
late event changes nothing it should not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem import jobs, mail
from ecosystem.db import atomic
from ecosystem.inputs import whole_number
from ecosystem.models import User
from ecosystem.payments.models import (
    Payment,
    PaymentEvent,
    PaymentMethod,
    PaymentState,
    Refund,
    RefundState,
)
from ecosystem.payments.services import ledger, vnpay
from ecosystem.payments.services.checkout import release_hold, release_hold_if_due
from ecosystem.payments.services.common import (
    PROVIDER,
    SEND_REFUND_JOB,
    handler_for,
    logger,
    next_receipt_number,
)
from ecosystem.payments.services.refunds import add_refunded, refund_payment
from ecosystem.settings import get_settings


class BadSignature(Exception):
    pass


def verify_event(payload: bytes, signature: str) -> dict[str, Any]:
    """The event of a webhook request whose signature is valid (BadSignature otherwise)."""
    secret = get_settings().stripe_webhook_secret
    if not secret or not signature:
        raise BadSignature("missing")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise BadSignature(str(exc)) from exc
    return event.to_dict() if hasattr(event, "to_dict") else dict(event)


async def process_event(event: dict[str, Any]) -> str:
    """Apply one verified event, at most once. Returns what happened (for logs and tests)."""
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    if not event_id:
        return "ignored"
    obj = (event.get("data") or {}).get("object") or {}
    try:
        async with atomic():
            await PaymentEvent.create(provider=PROVIDER, event_id=event_id, event_type=event_type)
            return await _apply(event_type, obj)
    except IntegrityError:
        if await PaymentEvent.exists(provider=PROVIDER, event_id=event_id):
            return "duplicate"
        raise


async def _apply(event_type: str, obj: dict[str, Any]) -> str:
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            return "awaiting payment"
        payment = await _payment_of_session(obj)
        if payment is None:
            return "unknown session"
        return await _paid(payment, obj)
    if event_type in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        payment = await _payment_of_session(obj)
        if payment is None:
            return "unknown session"
        return "released" if await release_hold(payment.id) else "unchanged"
    if event_type in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        return await _refund_changed(obj)
    if event_type == "charge.refunded":
        results = [await _refund_changed(r) for r in (obj.get("refunds") or {}).get("data") or []]
        return ",".join(results) or "unchanged"
    return "ignored"


async def _payment_of_session(obj: dict[str, Any]) -> Payment | None:
    session_id = obj.get("id") or ""
    payment = await Payment.get_or_none(checkout_session_id=session_id) if session_id else None
    if payment is None:
        reference = str(obj.get("client_reference_id") or "")
        metadata = obj.get("metadata") or {}
        reference = reference or str(metadata.get("payment_id") or "")
        if (payment_id := whole_number(reference)) is not None:
            payment = await Payment.get_or_none(id=payment_id, method=PaymentMethod.CARD)
    return payment


async def _paid(payment: Payment, session: dict[str, Any]) -> str:
    """The card payment arrived: confirm the subject, or refund if it cannot take it now."""
    before = payment.state
    if before not in (PaymentState.PENDING, PaymentState.EXPIRED, PaymentState.VOID):
        return "unchanged"
    now = timezone.now()
    moved = await Payment.filter(id=payment.id, state=before).update(
        state=PaymentState.PAID,
        paid_at=now,
        payment_intent_id=str(session.get("payment_intent") or "")[:255],
        checkout_session_id=session.get("id") or payment.checkout_session_id,
        updated_at=now,
    )
    if not moved:
        return "unchanged"
    await Payment.filter(id=payment.id).update(
        receipt_number=await next_receipt_number(payment.issuer_key)
    )
    payment = await Payment.get(id=payment.id)
    accepted = False
    if before == PaymentState.PENDING:
        handler = handler_for(payment.subject_kind)
        accepted = handler is None or await handler.paid(payment)
    elif before == PaymentState.EXPIRED:
        # Late: the hold was released and its credit part given back. Take the credit again
        # and let the subject decide whether its slot is still free.
        try:
            async with atomic():
                await _take_credit_again(payment)
                handler = handler_for(payment.subject_kind)
                accepted = handler is None or await handler.paid(payment)
                if not accepted:
                    raise _Declined
        except (_Declined, ledger.InsufficientCredit):
            accepted = False
    if accepted:
        return "paid"
    if before == PaymentState.PENDING:  # the subject refused it: everything back
        await refund_payment(payment, 100, "not_accepted")
    else:  # its credit part went back when the hold ended: only the card part remains
        if payment.credit_amount:
            await add_refunded(payment.id, payment.credit_amount)
        refund = await Refund.create(
            payment_id=payment.id,
            amount=payment.card_amount,
            card_amount=payment.card_amount,
            reason="late_payment",
        )
        await jobs.enqueue(SEND_REFUND_JOB, refund.id, job_id=f"refund:{refund.id}")
    user = await User.get(id=payment.user_id)  # type: ignore[attr-defined]
    await mail.send_mail(
        user.email,
        "payments_late_refund",
        {"payment": payment, "user": user},
        user.locale,
        timezone=user.timezone,
    )
    return "refunded"


class _Declined(Exception):
    pass


async def _take_credit_again(payment: Payment) -> None:
    await ledger.take_again(payment.id, payment.credit_amount, reason=payment.description)


async def _refund_changed(obj: dict[str, Any]) -> str:
    """A refund moved on at Stripe: settle ours (pending → succeeded or failed, never back)."""
    metadata = obj.get("metadata") or {}
    refund = None
    if (refund_id := whole_number(metadata.get("refund_id"))) is not None:
        refund = await Refund.get_or_none(id=refund_id)
    if refund is None and obj.get("id"):
        refund = await Refund.get_or_none(provider_refund_id=obj["id"])
    if refund is None:
        return "unknown refund"
    status = obj.get("status")
    if obj.get("id") and not refund.provider_refund_id:
        await Refund.filter(id=refund.id, provider_refund_id__isnull=True).update(
            provider_refund_id=obj["id"]
        )
    if status == "succeeded":
        moved = await Refund.filter(id=refund.id, state=RefundState.PENDING).update(
            state=RefundState.SUCCEEDED, settled_at=timezone.now()
        )
        if moved:
            await add_refunded(refund.payment_id, refund.card_amount)  # type: ignore[attr-defined]
            return "refund succeeded"
    elif status in ("failed", "canceled"):
        moved = await Refund.filter(id=refund.id, state=RefundState.PENDING).update(
            state=RefundState.FAILED, settled_at=timezone.now()
        )
        if moved:
            logger.error("refund %s failed at Stripe: staff must settle it", refund.id)
            return "refund failed"
    return "unchanged"


# --- VNPay's IPN ----------------------------------------------------------------------------------

# VNPay's answers to an IPN (RspCode → Message), as its integration guide spells them.
IPN_ANSWERS = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid signature",
    "99": "Unknown error",
}
VNPAY_CANCELLED = "24"  # the payer cancelled on VNPay's page


def vnpay_succeeded(params: Mapping[str, Any]) -> bool:
    return params.get("vnp_ResponseCode") == "00" and params.get("vnp_TransactionStatus") == "00"


async def process_vnpay_ipn(params: Mapping[str, Any]) -> tuple[str, str]:
    """One IPN: (VNPay's RspCode, what happened). Checks in VNPay's order: signature (97),
    reference (01), amount (04), already settled (02). A success confirms the payment once
    (a late one for a released hold: confirmed if the subject takes it, else refunded); a
    failure releases the hold. The notification's key is inserted with the change, so of
    two deliveries at the same moment one applies it and the other answers 02."""
    if not vnpay.configured() or not vnpay.verify(params):
        return "97", "invalid signature"
    ref = str(params.get("vnp_TxnRef") or "")
    if params.get("vnp_TmnCode") != get_settings().vnpay_tmn_code or not ref:
        return "01", "unknown order"
    payment = await Payment.get_or_none(checkout_session_id=ref, provider=vnpay.PROVIDER)
    if payment is None:
        return "01", "unknown order"
    if whole_number(str(params.get("vnp_Amount") or "")) != payment.card_amount * 100:
        return "04", "invalid amount"
    return await _apply_vnpay(payment.id, params)


async def _apply_vnpay(payment_id: int, params: Mapping[str, Any]) -> tuple[str, str]:
    succeeded = vnpay_succeeded(params)
    payment = await Payment.get(id=payment_id)
    open_states = (PaymentState.PENDING, PaymentState.EXPIRED, PaymentState.VOID)
    if payment.state not in (open_states if succeeded else (PaymentState.PENDING,)):
        return "02", "already settled"
    code = str(params.get("vnp_ResponseCode") or "")
    status = str(params.get("vnp_TransactionStatus") or "")
    transaction_no = str(params.get("vnp_TransactionNo") or "")
    event_id = f"{payment.checkout_session_id}:{'paid' if succeeded else 'failed'}"
    try:
        async with atomic():
            await PaymentEvent.create(
                provider=vnpay.PROVIDER, event_id=event_id[:255], event_type=f"ipn:{code}:{status}"
            )
            if succeeded:
                session = {"id": payment.checkout_session_id, "payment_intent": transaction_no}
                outcome = await _paid(payment, session)
            else:
                to_state = PaymentState.VOID if code == VNPAY_CANCELLED else PaymentState.EXPIRED
                outcome = "released" if await release_hold(payment.id, to_state) else "unchanged"
    except IntegrityError:
        if await PaymentEvent.exists(provider=vnpay.PROVIDER, event_id=event_id[:255]):
            return "02", "duplicate"
        raise
    if outcome == "unchanged":
        return "02", outcome
    return "00", outcome


async def vnpay_return_outcome(params: Mapping[str, Any]) -> tuple[Payment | None, bool]:
    """Where VNPay sends the payer back: (their payment, did VNPay say paid). Shows only: the
    IPN confirms. (None, False) for a forged or unknown return."""
    if not vnpay.configured() or not vnpay.verify(params):
        return None, False
    ref = str(params.get("vnp_TxnRef") or "")
    payment = await Payment.get_or_none(checkout_session_id=ref, provider=vnpay.PROVIDER)
    return payment, payment is not None and vnpay_succeeded(params)


# --- holds at their end: ask VNPay first ---------------------------------------------------------


async def settle_due_hold(payment_id: int) -> str:
    """A hold whose time is up. A VNPay attempt is asked about first (`querydr`): paid there
    (its IPN was lost) → applied like its IPN; otherwise, or if VNPay cannot be reached,
    released (a success arriving later is confirmed or refunded like any late payment)."""
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or payment.state != PaymentState.PENDING:
        return "unchanged"
    if payment.provider == vnpay.PROVIDER and payment.checkout_session_id and vnpay.configured():
        now = timezone.now()
        if payment.hold_expires_at and payment.hold_expires_at > now:
            return "not due"
        try:
            answer = await vnpay.query(payment.checkout_session_id, now)
        except vnpay.VnpayError as exc:
            logger.warning("querydr of payment %s failed: %r", payment.id, exc)
            answer = {}
        paid_there = (
            vnpay_succeeded(answer)  # the query answered (00) and the payment succeeded (00)
            and answer.get("vnp_TxnRef") == payment.checkout_session_id
            and whole_number(str(answer.get("vnp_Amount") or "")) == payment.card_amount * 100
        )
        if paid_there:
            _code, outcome = await _apply_vnpay(payment.id, answer)
            return f"queried: {outcome}"
    return "released" if await release_hold_if_due(payment.id) else "unchanged"


async def settle_due_holds(now: datetime) -> int:
    """Cron sweep: every hold whose time is up, VNPay's asked first. Returns how many ended."""
    due = await Payment.filter(
        state=PaymentState.PENDING,
        method=PaymentMethod.CARD,
        hold_expires_at__lte=now.astimezone(UTC),
    ).values_list("id", flat=True)
    ended = 0
    for payment_id in due:
        ended += (await settle_due_hold(payment_id)) != "unchanged"
    return ended
