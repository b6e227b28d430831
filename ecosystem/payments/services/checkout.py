"""A payment is created with its subject, its online part held until the provider says it is
paid.

- `create_payment` runs inside the subject's transaction: credit first, then online (a hold
  of `payment_hold_minutes`, by a provider the issuer accepts: Stripe or VNPay), the
  organisation's statement, or payment at the lab.
- `start_checkout` is the provider seam: once that transaction committed, it opens the Stripe
  Checkout Session or signs the VNPay payment URL, and returns where the payer goes to pay.
- `release_hold` ends an unpaid hold (the job at its end, the cron sweep, the webhook of an
  expired session): `expired`, the credit part back, the subject freed by its package.
"""

from __future__ import annotations

import unicodedata
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
from ecosystem.payments.services import ledger, vnpay
from ecosystem.payments.services.billing import may_bill
from ecosystem.payments.services.common import (
    EXPIRE_CHECKOUT_JOB,
    PROVIDER,
    RELEASE_EXPIRED_HOLD_JOB,
    PaymentUnavailable,
    StripeClient,
    accepted_providers,
    give_back_credit,
    handler_for,
    logger,
    next_receipt_number,
)
from ecosystem.settings import get_settings

CHECKOUT_MIN_LIFETIME = timedelta(minutes=31)  # Stripe: expires_at is 30 min to 24 h ahead
# `auto`/`card`: credit first, the rest online by the issuer's first accepted provider (or at
# the lab); `stripe`/`vnpay`: that provider (422 if the issuer does not accept it).
PAYERS = ("auto", "card", "stripe", "vnpay", "credit", "organisation")


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

    `payer`: `auto`/`card` (credit first, the rest online by the issuer's first accepted
    provider, or at the lab), `stripe`/`vnpay` (that provider; 422 if the issuer does not
    accept it), `credit` (all from the user's credit, 409 insufficient_credit otherwise),
    `organisation` (the organisation's credit first, the rest on its statement; 403 without
    billing permission).
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
    accepted = await accepted_providers(subject.issuer_key)
    provider = accepted[0] if accepted else ""
    if payer in ("stripe", "vnpay"):
        if payer not in accepted:
            message = _("This way to pay is not accepted here.")
            raise Invalid(message, fields={"payer": message})
        provider = payer
    now = timezone.now()
    hold_until = None
    if rest == 0:
        method, state = PaymentMethod.CREDIT, PaymentState.PAID
    elif organisation is not None:
        method, state = PaymentMethod.ORGANISATION, PaymentState.BILLED
    elif provider:
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
        provider=provider if method == PaymentMethod.CARD else "",
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


async def start_checkout(
    payment: Payment, customer_email: str, locale: str = "vi", ip_address: str = "127.0.0.1"
) -> str:
    """Where the payer pays the held online part: the provider seam.

    Call after the subject's transaction committed. Stripe: a Checkout Session (idempotent
    per subject by Stripe's idempotency key; if Stripe cannot be reached the hold is released
    at once and PaymentUnavailable (503) raised). VNPay: the signed payment URL of one attempt
    (`vnp_TxnRef`), nothing to call.
    """
    if payment.provider == vnpay.PROVIDER:
        return await _start_vnpay(payment, locale, ip_address)
    return await _start_stripe(payment, customer_email)


def ascii_text(text: str) -> str:
    """VNPay's order information: Vietnamese without accents, printable ASCII only."""
    text = text.replace("đ", "d").replace("Đ", "D").replace("–", "-")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain if c.isprintable()) or "Payment"


async def _start_vnpay(payment: Payment, locale: str, ip_address: str) -> str:
    if payment.checkout_session_id and payment.checkout_url:
        return payment.checkout_url  # one attempt per hold
    now = timezone.now()
    ref = vnpay.txn_ref(payment.id, now)
    expires = payment.hold_expires_at or now + timedelta(
        minutes=get_settings().payment_hold_minutes
    )
    url = vnpay.payment_url(
        ref=ref,
        amount=payment.card_amount,
        order_info=ascii_text(payment.description),
        return_url=f"{get_settings().base_url}/payments/vnpay/return",
        created=now,
        expires=expires,
        locale=locale,
        ip_address=ip_address,
    )
    moved = await Payment.filter(id=payment.id, checkout_session_id__isnull=True).update(
        checkout_session_id=ref, checkout_url=url
    )
    if not moved:  # a concurrent start won: use its attempt
        return (await Payment.get(id=payment.id)).checkout_url
    payment.checkout_session_id = ref
    payment.checkout_url = url
    return url


async def _start_stripe(payment: Payment, customer_email: str) -> str:
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
    if payment is None or not payment.checkout_session_id or payment.provider != PROVIDER:
        return "skipped"  # (VNPay's page closes by itself at the attempt's vnp_ExpireDate)
    if PROVIDER not in get_settings().payment_providers:
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
