"""A payment is created with its subject, its card part held until Stripe says it is paid.

- `create_payment` runs inside the subject's transaction: credit first, then the card (a hold
  of `payment_hold_minutes`), the organisation's statement, or payment at the lab.
- `start_checkout` opens the Stripe Checkout Session once that transaction committed.
- `release_hold` ends an unpaid hold (the job at its end, the cron sweep, the webhook of an
  expired session): `expired`, the credit part back, the subject freed by its package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from tortoise import timezone

from ecosystem import jobs
from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import Organisation, User
from ecosystem.payments.models import Payment, PaymentMethod, PaymentState
from ecosystem.payments.services import ledger
from ecosystem.payments.services.billing import may_bill
from ecosystem.payments.services.common import (
    EXPIRE_CHECKOUT_JOB,
    PROVIDER,
    RELEASE_EXPIRED_HOLD_JOB,
    PaymentUnavailable,
    StripeClient,
    give_back_credit,
    handler_for,
    logger,
    next_receipt_number,
    online_payments,
)
from ecosystem.settings import get_settings

CHECKOUT_MIN_LIFETIME = timedelta(minutes=31)  # Stripe: expires_at is 30 min to 24 h ahead
PAYERS = ("auto", "card", "credit", "organisation")


@dataclass(frozen=True)
class Subject:
    kind: str  # e.g. labs.booking
    id: int
    description: str
    issuer_key: str  # receipts are numbered per issuer, e.g. labs.lab:3
    issuer: dict[str, str]  # name, host, address, email, phone: printed on receipts
    period: str  # YYYY-MM: the statement month
    return_path: str  # where the payer goes back to


async def create_payment(
    user: User,
    subject: Subject,
    amount: int,
    currency: str = "VND",
    payer: str = "auto",
    organisation_id: int | None = None,
) -> Payment:
    """The payment of a priced subject. Call inside the subject's `atomic()` transaction.

    `payer`: `auto`/`card` (credit first, the rest by card or at the lab), `credit` (all from
    the user's credit, 409 insufficient_credit otherwise), `organisation` (the organisation's
    credit first, the rest on its statement; 403 without billing permission).
    """
    if payer not in PAYERS:
        raise Invalid(_("Unknown way to pay."), fields={"payer": _("Unknown way to pay.")})
    settings = get_settings()
    organisation: Organisation | None = None
    if payer == "organisation":
        if organisation_id is None:
            message = _("Choose the organisation to bill.")
            raise Invalid(message, fields={"organisation_id": message})
        organisation = await Organisation.get_or_none(id=organisation_id)
        if organisation is None or not await may_bill(user, organisation_id):
            raise NotPermitted(
                _("This organisation does not allow you to bill bookings to it."),
                code="billing_not_allowed",
            )
        available = await ledger.balance(organisation=organisation)
    else:
        available = await ledger.balance(user=user)
    credit_part = min(available, amount)
    rest = amount - credit_part
    if payer == "credit" and rest:
        raise ledger.InsufficientCredit(_("Your credit balance is not enough for this."))
    now = timezone.now()
    hold_until = None
    if rest == 0:
        method, state = PaymentMethod.CREDIT, PaymentState.PAID
    elif organisation is not None:
        method, state = PaymentMethod.ORGANISATION, PaymentState.BILLED
    elif settings.online_payments:
        method, state = PaymentMethod.CARD, PaymentState.PENDING
        hold_until = now + timedelta(minutes=settings.payment_hold_minutes)
    else:
        method, state = PaymentMethod.AT_LAB, PaymentState.PENDING
    payment = await Payment.create(
        subject_kind=subject.kind,
        subject_id=subject.id,
        user_id=user.id,
        organisation_id=organisation.id if organisation else None,
        method=method,
        state=state,
        amount=amount,
        credit_amount=credit_part,
        currency=currency,
        description=subject.description[:300],
        issuer_key=subject.issuer_key,
        issuer=subject.issuer,
        period=subject.period,
        return_path=subject.return_path,
        provider=PROVIDER if method == PaymentMethod.CARD else "",
        hold_expires_at=hold_until,
        paid_at=now if state == PaymentState.PAID else None,
    )
    if credit_part:
        account = await ledger.account_for(
            user=None if organisation else user, organisation=organisation
        )
        await ledger.consume(
            account,
            credit_part,
            payment_id=payment.id,
            issuer_key=subject.issuer_key,
            reason=subject.description,
        )
    if state == PaymentState.PAID:
        payment.receipt_number = await next_receipt_number(subject.issuer_key)
        await Payment.filter(id=payment.id).update(receipt_number=payment.receipt_number)
    if hold_until is not None:
        await jobs.enqueue(
            RELEASE_EXPIRED_HOLD_JOB,
            payment.id,
            job_id=f"payment-hold:{payment.id}",
            defer_until=hold_until + timedelta(seconds=5),
        )
    return payment


async def start_checkout(payment: Payment, customer_email: str) -> str:
    """Create the Stripe Checkout Session of a card payment and return its URL.

    Call after the subject's transaction committed. Idempotent per subject (Stripe's
    idempotency key). If Stripe cannot be reached the hold is released at once and
    PaymentUnavailable (503) raised.
    """
    settings = get_settings()
    base = settings.base_url
    expires_at = timezone.now() + CHECKOUT_MIN_LIFETIME
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": payment.currency.lower(),
                    "unit_amount": payment.card_amount,  # VND is zero-decimal
                    "product_data": {"name": payment.description or "Booking"},
                },
            }
        ],
        "success_url": f"{base}/payments/{payment.id}/return?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}/payments/{payment.id}/return?cancelled=1",
        "client_reference_id": str(payment.id),
        "customer_email": customer_email,
        "expires_at": int(expires_at.timestamp()),
        "metadata": {
            "payment_id": str(payment.id),
            "subject": f"{payment.subject_kind}:{payment.subject_id}",
        },
        "payment_intent_data": {"metadata": {"payment_id": str(payment.id)}},
    }
    key = f"checkout:{payment.subject_kind}:{payment.subject_id}"
    try:
        async with StripeClient() as client:
            session = await client.v1.checkout.sessions.create_async(
                params=params, options={"idempotency_key": key}
            )
    except stripe.StripeError as exc:
        logger.warning("checkout session for payment %s failed: %r", payment.id, exc)
        await release_hold(payment.id, PaymentState.VOID)
        raise PaymentUnavailable(
            _("Online payment is not available right now. Nothing was booked: please try again.")
        ) from exc
    payment.checkout_session_id = session.id
    payment.checkout_url = session.url or ""
    await Payment.filter(id=payment.id).update(
        checkout_session_id=session.id, checkout_url=payment.checkout_url
    )
    return payment.checkout_url


# --- holds -------------------------------------------------------------------------------------


async def release_hold(payment_id: int, to_state: PaymentState = PaymentState.EXPIRED) -> bool:
    """End an unpaid card payment: `expired` (or `void`), credit back, the subject freed.

    One transaction; False if it was not pending any more (paid meanwhile: nothing changes).
    The open Checkout Session is expired by a job afterwards.
    """
    async with atomic():
        moved = await Payment.filter(id=payment_id, state=PaymentState.PENDING).update(
            state=to_state, updated_at=timezone.now()
        )
        if not moved:
            return False
        payment = await Payment.get(id=payment_id)
        await give_back_credit(
            payment, payment.credit_amount, "release", f"payment:{payment.id}:release"
        )
        handler = handler_for(payment.subject_kind)
        if handler is not None:
            await handler.released(payment)
        if payment.checkout_session_id:
            await jobs.enqueue(
                EXPIRE_CHECKOUT_JOB, payment.id, job_id=f"checkout-expire:{payment.id}"
            )
    return True


async def release_due_holds(now: datetime) -> int:
    """Release every card hold whose time is up. Returns how many were released."""
    due = await Payment.filter(
        state=PaymentState.PENDING,
        method=PaymentMethod.CARD,
        hold_expires_at__lte=now.astimezone(UTC),
    ).values_list("id", flat=True)
    released = 0
    for payment_id in due:
        released += await release_hold(payment_id)
    return released


async def release_hold_if_due(payment_id: int) -> bool:
    """The hold of one payment, at its end (the job deferred when the hold starts)."""
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or payment.state != PaymentState.PENDING:
        return False
    if payment.hold_expires_at and payment.hold_expires_at > timezone.now():
        return False  # the sweep picks it up later
    return await release_hold(payment_id)


async def expire_checkout_session(payment_id: int) -> str:
    """Expire the open Checkout Session of a released hold, so it cannot be paid any more.

    Stripe refuses a session that is already complete or expired: nothing to do then (a
    payment that completed meanwhile arrives by webhook and is confirmed or refunded).
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or not payment.checkout_session_id or not online_payments():
        return "skipped"
    try:
        async with StripeClient() as client:
            await client.v1.checkout.sessions.expire_async(
                payment.checkout_session_id,
                options={"idempotency_key": f"checkout-expire:{payment.id}"},
            )
    except stripe.InvalidRequestError as exc:
        logger.info("session of payment %s not expired: %s", payment.id, exc)
        return "not open"
    return "expired"
