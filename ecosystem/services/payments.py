"""Payments, generic over what is paid for (a lab booking today): every money rule lives here.

How money moves (see the README, "Payments"):
- Credit first: a payer's credit balance pays what it can, inside the subject's transaction.
- The rest by card (Stripe Checkout, when STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are set):
  the subject is a hold, the payment `pending` until the verified webhook says `paid`. A hold
  not paid within `payment_hold_minutes` (or whose session expired) is released: `expired`,
  its credit part given back, the subject freed by its package's `released` hook.
- Or on an organisation's monthly statement (`billed`, `paid` when lab staff settle it).
- Or, without Stripe keys, at the lab (`pending` until staff mark it paid).

States only move forward along STATE_RANK: an event that would move a payment back (an
`expired` after `paid`) changes nothing, so events arriving out of order leave the right final
state. A provider event is processed at most once: its id is inserted in the same transaction
as the change it causes (unique `(provider, event_id)`).

Packages react through `ecosystem.packages.PaymentHandler` hooks, registered by subject kind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from ecosystem import jobs, mail, permissions
from ecosystem.db import atomic
from ecosystem.errors import DomainError, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.models import (
    BillingPermit,
    Membership,
    MembershipStatus,
    Organisation,
    Payment,
    PaymentEvent,
    PaymentMethod,
    PaymentState,
    ReceiptCounter,
    Refund,
    RefundState,
    Role,
    StatementMark,
    User,
    Verification,
)
from ecosystem.packages import PaymentHandler, mounted_packages, resolve
from ecosystem.services import audit, credits
from ecosystem.settings import get_settings

logger = logging.getLogger("ecosystem.payments")

PROVIDER = "stripe"
CHECKOUT_MIN_LIFETIME = timedelta(minutes=31)  # Stripe: expires_at is 30 min to 24 h ahead

STATE_RANK = {
    PaymentState.PENDING: 0,
    PaymentState.EXPIRED: 1,
    PaymentState.VOID: 1,
    PaymentState.BILLED: 2,
    PaymentState.PAID: 3,
    PaymentState.PARTIALLY_REFUNDED: 4,
    PaymentState.REFUNDED: 5,
}
SETTLED_STATES = (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED)
REFUNDABLE_STATES = (PaymentState.PAID, PaymentState.BILLED, PaymentState.PARTIALLY_REFUNDED)
PAYERS = ("auto", "card", "credit", "organisation")


class PaymentUnavailable(DomainError):
    """The payment provider could not be reached: nothing is held, try again later."""

    status_code = 503
    code = "payment_unavailable"


# --- packages' hooks ---------------------------------------------------------------------------


def handlers() -> dict[str, PaymentHandler]:
    found: dict[str, PaymentHandler] = {}
    for package in mounted_packages():
        for kind, handler in package.payment_handlers.items():
            found[kind] = resolve(handler)
    return found


def handler_for(subject_kind: str) -> PaymentHandler | None:
    return handlers().get(subject_kind)


async def manages_issuer(user: User | None, issuer_key: str) -> bool:
    """May this user settle the issuer's payments (e.g. staff of the lab)?"""
    if user is None or not user.is_active:
        return False
    for handler in handlers().values():
        if issuer_key.startswith(handler.issuer_prefix + ":"):
            return await handler.manages(user, issuer_key)
    return False


# --- Stripe ------------------------------------------------------------------------------------


def online_payments() -> bool:
    return get_settings().online_payments


class _Stripe:
    """A StripeClient for one call, on this event loop (async httpx, closed afterwards)."""

    async def __aenter__(self) -> stripe.StripeClient:
        settings = get_settings()
        self.http = stripe.HTTPXClient(timeout=20)
        return stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses={"api": settings.stripe_api_base},
            http_client=self.http,
            max_network_retries=2,
        )

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close_async()


def _value(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a StripeObject or of a plain dict (webhook payloads)."""
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


# --- creating a payment (inside the subject's transaction) ------------------------------------


@dataclass(frozen=True)
class Subject:
    kind: str  # e.g. labs.booking
    id: int
    description: str
    issuer_key: str  # receipts are numbered per issuer, e.g. labs.lab:3
    issuer: dict[str, str]  # name, host, address, email, phone: printed on receipts
    period: str  # YYYY-MM: the statement month
    return_path: str  # where the payer goes back to


async def may_bill(user: User, organisation_id: int) -> bool:
    """Billing to an organisation: its owners and admins, and members they allowed.

    Only a verified account may bill, and only an organisation a platform admin has verified
    (DESIGN.md §3): a pending organisation is never a recipient of anyone's bookings.
    """
    if not permissions.has_verified_identity(user):
        return False
    membership = await Membership.get_or_none(
        user_id=user.id,
        organisation_id=organisation_id,
        status=MembershipStatus.ACTIVE,
        organisation__verification=Verification.VERIFIED,
    )
    if membership is None:
        return False
    if membership.role.rank >= Role.ADMIN.rank:
        return True
    return await BillingPermit.exists(organisation_id=organisation_id, user_id=user.id)


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
        available = await credits.balance(organisation=organisation)
    else:
        available = await credits.balance(user=user)
    credit_part = min(available, amount)
    rest = amount - credit_part
    if payer == "credit" and rest:
        raise credits.InsufficientCredit(_("Your credit balance is not enough for this."))
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
        account = await credits.account_for(
            user=None if organisation else user, organisation=organisation
        )
        await credits.consume(
            account,
            credit_part,
            payment_id=payment.id,
            issuer_key=subject.issuer_key,
            reason=subject.description,
        )
    if state == PaymentState.PAID:
        payment.receipt_number = await _next_receipt_number(subject.issuer_key)
        await Payment.filter(id=payment.id).update(receipt_number=payment.receipt_number)
    if hold_until is not None:
        await jobs.enqueue(
            release_expired_hold,
            payment.id,
            job_id=f"payment-hold:{payment.id}",
            defer_until=hold_until + timedelta(seconds=5),
        )
    return payment


async def _next_receipt_number(issuer_key: str) -> int:
    """The issuer's next receipt number (row-locked counter: sequential, never twice)."""
    bumped = await ReceiptCounter.filter(issuer_key=issuer_key).update(
        last_number=F("last_number") + 1
    )
    if not bumped:
        try:
            async with atomic():  # a savepoint: a concurrent first receipt may win
                await ReceiptCounter.create(issuer_key=issuer_key, last_number=1)
            return 1
        except IntegrityError:
            await ReceiptCounter.filter(issuer_key=issuer_key).update(
                last_number=F("last_number") + 1
            )
    found = await ReceiptCounter.filter(issuer_key=issuer_key).values_list("last_number", flat=True)
    return int(found[0])


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
        async with _Stripe() as client:
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


async def _give_back_credit(payment: Payment, amount: int, kind: str, reference: str) -> None:
    """Credit the payment used goes back from the issuer's revenue to the payer."""
    await credits.give_back(
        payment.id, amount, kind=kind, reference=reference, reason=payment.description
    )


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
        await _give_back_credit(
            payment, payment.credit_amount, "release", f"payment:{payment.id}:release"
        )
        handler = handler_for(payment.subject_kind)
        if handler is not None:
            await handler.released(payment)
        if payment.checkout_session_id:
            await jobs.enqueue(expire_checkout, payment.id, job_id=f"checkout-expire:{payment.id}")
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


# --- refunds -----------------------------------------------------------------------------------


async def cancel_payment(payment_id: int, percent: int, reason: str) -> Refund | None:
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
            await _give_back_credit(
                payment, payment.credit_amount, "release", f"payment:{payment.id}:release"
            )
            if payment.checkout_session_id:
                await jobs.enqueue(
                    expire_checkout, payment.id, job_id=f"checkout-expire:{payment.id}"
                )
        return None
    if payment.state not in (
        PaymentState.PAID,
        PaymentState.BILLED,
        PaymentState.PARTIALLY_REFUNDED,
    ):
        return None
    return await _refund(payment, percent, reason)


async def _refund(payment: Payment, percent: int, reason: str) -> Refund | None:
    pending = await Refund.filter(payment_id=payment.id).exclude(state=RefundState.FAILED)
    already = sum(r.amount for r in pending)
    credit_done = sum(r.credit_amount for r in pending)
    remaining = payment.amount - already
    if remaining <= 0 or percent <= 0:
        return None
    total = remaining * min(percent, 100) // 100
    credit_left = payment.credit_amount - credit_done
    credit_back = credit_left if percent >= 100 else min(credit_left, credit_left * percent // 100)
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
    await _give_back_credit(payment, credit_back, "refund", f"refund:{refund.id}:credit")
    settled_now = total - (rest if by_card else 0)
    if settled_now:
        await _add_refunded(payment.id, settled_now)
    if by_card:
        await jobs.enqueue(send_refund, refund.id, job_id=f"refund:{refund.id}")
    return refund


async def _add_refunded(payment_id: int, amount: int) -> None:
    await Payment.filter(id=payment_id).update(refunded_amount=F("refunded_amount") + amount)
    payment = await Payment.get(id=payment_id)
    state = (
        PaymentState.REFUNDED
        if payment.refunded_amount >= payment.amount
        else PaymentState.PARTIALLY_REFUNDED
    )
    if STATE_RANK[state] > STATE_RANK[payment.state]:
        await Payment.filter(id=payment_id).update(state=state, updated_at=timezone.now())


# --- jobs --------------------------------------------------------------------------------------


async def release_expired_hold(ctx: dict[str, Any], payment_id: int) -> bool:
    """The hold of one payment, at its end (deferred when the hold starts)."""
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or payment.state != PaymentState.PENDING:
        return False
    if payment.hold_expires_at and payment.hold_expires_at > timezone.now():
        return False  # the sweep picks it up later
    return await release_hold(payment_id)


async def expire_holds(ctx: dict[str, Any]) -> int:
    """Cron sweep: release every card hold whose time is up (also after a lost deferred job)."""
    return await release_due_holds(timezone.now())


async def expire_checkout(ctx: dict[str, Any], payment_id: int) -> str:
    """Expire the open Checkout Session of a released hold, so it cannot be paid any more.

    Stripe refuses a session that is already complete or expired: nothing to do then (a
    payment that completed meanwhile arrives by webhook and is confirmed or refunded).
    """
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or not payment.checkout_session_id or not online_payments():
        return "skipped"
    try:
        async with _Stripe() as client:
            await client.v1.checkout.sessions.expire_async(
                payment.checkout_session_id,
                options={"idempotency_key": f"checkout-expire:{payment.id}"},
            )
    except stripe.InvalidRequestError as exc:
        logger.info("session of payment %s not expired: %s", payment.id, exc)
        return "not open"
    return "expired"


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


async def send_refund(ctx: dict[str, Any], refund_id: int) -> str:
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
        async with _Stripe() as client:
            session = await client.v1.checkout.sessions.retrieve_async(
                payment.checkout_session_id or ""
            )
        params["payment_intent"] = _value(session, "payment_intent", "")
    async with _Stripe() as client:
        created = await client.v1.refunds.create_async(
            params=params, options={"idempotency_key": f"refund:{refund.id}"}
        )
    return created.id


async def send_stalled_refunds(ctx: dict[str, Any]) -> int:
    """Cron sweep (and once when a worker starts): send every card refund left pending
    without a Stripe refund, e.g. its job was lost when Redis restarted with nothing kept.

    Each one goes through `send_refund` (claim + idempotency key), so a refund whose job is
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
            sent += await send_refund(ctx, refund_id) == "sent"
        except Exception:  # Stripe down or refusing: the next sweep tries again
            logger.exception("refund %s could not be sent", refund_id)
    if stalled:
        logger.info("refund sweep: %s stalled, %s sent", len(stalled), sent)
    return sent


# --- webhook events ----------------------------------------------------------------------------


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
        receipt_number=await _next_receipt_number(payment.issuer_key)
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
        except (_Declined, credits.InsufficientCredit):
            accepted = False
    if accepted:
        return "paid"
    if before == PaymentState.PENDING:  # the subject refused it: everything back
        await _refund(payment, 100, "not_accepted")
    else:  # its credit part went back when the hold ended: only the card part remains
        if payment.credit_amount:
            await _add_refunded(payment.id, payment.credit_amount)
        refund = await Refund.create(
            payment_id=payment.id,
            amount=payment.card_amount,
            card_amount=payment.card_amount,
            reason="late_payment",
        )
        await jobs.enqueue(send_refund, refund.id, job_id=f"refund:{refund.id}")
    user = await User.get(id=payment.user_id)  # type: ignore[attr-defined]
    await mail.send_mail(
        user.email, "payments_late_refund", {"payment": payment, "user": user}, user.locale
    )
    return "refunded"


class _Declined(Exception):
    pass


async def _take_credit_again(payment: Payment) -> None:
    await credits.take_again(payment.id, payment.credit_amount, reason=payment.description)


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
            await _add_refunded(refund.payment_id, refund.card_amount)  # type: ignore[attr-defined]
            return "refund succeeded"
    elif status in ("failed", "canceled"):
        moved = await Refund.filter(id=refund.id, state=RefundState.PENDING).update(
            state=RefundState.FAILED, settled_at=timezone.now()
        )
        if moved:
            logger.error("refund %s failed at Stripe: staff must settle it", refund.id)
            return "refund failed"
    return "unchanged"


# --- staff: settling at the lab and statements --------------------------------------------------


async def mark_paid(actor: User, payment_id: int) -> Payment:
    """Lab staff record a payment made at the lab (no online payment configured)."""
    payment = await Payment.get_or_none(id=payment_id)
    if payment is None or not await manages_issuer(actor, payment.issuer_key):
        raise NotFound(_("No such payment."))
    if payment.method != PaymentMethod.AT_LAB:
        raise Invalid(
            _("Only payments due at the lab are marked paid by staff."), code="not_at_lab"
        )
    if payment.state in SETTLED_STATES:
        return payment
    if payment.state != PaymentState.PENDING:
        raise Invalid(_("This payment was cancelled."), code="not_payable")
    now = timezone.now()
    async with atomic():
        moved = await Payment.filter(id=payment.id, state=PaymentState.PENDING).update(
            state=PaymentState.PAID, paid_at=now, marked_paid_by_id=actor.id, updated_at=now
        )
        if moved:
            await Payment.filter(id=payment.id).update(
                receipt_number=await _next_receipt_number(payment.issuer_key)
            )
            await audit.record("payment.marked_paid", actor=actor, target=payment)
    return await Payment.get(id=payment.id)


def statement_of(payments: Iterable[Payment]) -> int:
    return sum(p.amount - p.credit_amount - p.refunded_amount for p in payments)


# --- reading payments, receipts and statements ------------------------------------------------


async def _is_org_admin(user: User, organisation_id: int | None) -> bool:
    if organisation_id is None:
        return False
    membership = await Membership.get_or_none(
        user_id=user.id, organisation_id=organisation_id, status=MembershipStatus.ACTIVE
    )
    return membership is not None and membership.role.rank >= Role.ADMIN.rank


async def payment_for(actor: User, payment_id: int) -> tuple[Payment, bool]:
    """A payment its payer, the billed organisation's admins or the issuer's staff may see.

    Returns (payment with refunds, whether the actor manages the issuer). 404 for others.
    """
    payment = await Payment.get_or_none(id=payment_id).prefetch_related("refunds")
    if payment is None:
        raise NotFound(_("No such payment."))
    manages = await manages_issuer(actor, payment.issuer_key)
    if not (
        manages
        or payment.user_id == actor.id  # type: ignore[attr-defined]
        or await _is_org_admin(actor, payment.organisation_id)  # type: ignore[attr-defined]
    ):
        raise NotFound(_("No such payment."))
    return payment, manages


def has_receipt(payment: Payment) -> bool:
    return payment.receipt_number is not None


@dataclass
class Statement:
    issuer_key: str
    issuer: dict[str, str]
    organisation: Organisation
    period: str
    payments: list[Payment]
    paid_at: datetime | None
    paid_amount: int | None

    @property
    def total(self) -> int:
        return sum(billed_due(p) for p in self.payments)


def billed_due(payment: Payment) -> int:
    """What the organisation owes for one payment: the billed part less what was refunded."""
    billed = payment.amount - payment.credit_amount
    refunded = sum(
        r.amount - r.credit_amount
        for r in payment.refunds  # prefetched
        if r.state == RefundState.SUCCEEDED
    )
    return max(0, billed - refunded)


def _check_period(period: str) -> str:
    year, _sep, month = period.partition("-")
    number = whole_number(month, 1, 12)
    if len(year) != 4 or whole_number(year) is None or number is None:
        raise NotFound(_("No such statement."))
    return f"{year}-{number:02d}"


async def statement(actor: User, issuer_key: str, organisation_id: int, period: str) -> Statement:
    """One organisation's monthly statement of one issuer: its staff and the org's admins."""
    period = _check_period(period)
    organisation = await Organisation.get_or_none(id=organisation_id)
    if organisation is None or not (
        await manages_issuer(actor, issuer_key) or await _is_org_admin(actor, organisation_id)
    ):
        raise NotFound(_("No such statement."))
    payments = (
        await Payment.filter(
            issuer_key=issuer_key,
            organisation_id=organisation_id,
            period=period,
            method=PaymentMethod.ORGANISATION,
        )
        .select_related("user")
        .prefetch_related("refunds")
        .order_by("created_at", "id")
    )
    issuer = payments[0].issuer if payments else {}
    mark = await StatementMark.get_or_none(
        issuer_key=issuer_key, organisation_id=organisation_id, period=period
    )
    return Statement(
        issuer_key,
        issuer,
        organisation,
        period,
        payments,
        mark.paid_at if mark else None,
        mark.amount if mark else None,
    )


async def mark_statement_paid(
    actor: User, issuer_key: str, organisation_id: int, period: str
) -> Statement:
    """The issuer's staff record that the organisation paid the month (once)."""
    if not await manages_issuer(actor, issuer_key):
        raise NotPermitted(_("Only the lab's staff may mark a statement as paid."))
    found = await statement(actor, issuer_key, organisation_id, period)
    if not found.payments:
        raise Invalid(_("This statement is empty."), code="empty_statement")
    if found.paid_at is not None:
        return found
    now = timezone.now()
    try:
        async with atomic():
            await StatementMark.create(
                issuer_key=issuer_key,
                organisation_id=organisation_id,
                period=found.period,
                amount=found.total,
                marked_by_id=actor.id,
            )
            for payment in found.payments:
                moved = await Payment.filter(id=payment.id, state=PaymentState.BILLED).update(
                    state=PaymentState.PAID, paid_at=now, marked_paid_by_id=actor.id
                )
                if moved:
                    await Payment.filter(id=payment.id).update(
                        receipt_number=await _next_receipt_number(issuer_key)
                    )
            await audit.record(
                "statement.marked_paid",
                actor=actor,
                target=found.organisation,
                issuer=issuer_key,
                period=found.period,
            )
    except IntegrityError:
        pass  # marked by someone else at the same moment
    return await statement(actor, issuer_key, organisation_id, found.period)


@dataclass(frozen=True)
class StatementSummary:
    organisation: Organisation
    period: str
    total: int
    paid: bool


async def statements_of_issuer(actor: User, issuer_key: str) -> list[StatementSummary]:
    """Every organisation-month with billed bookings of the issuer, newest month first."""
    if not await manages_issuer(actor, issuer_key):
        raise NotPermitted(_("You do not have permission to do this."))
    payments = (
        await Payment.filter(issuer_key=issuer_key, method=PaymentMethod.ORGANISATION)
        .select_related("organisation")
        .prefetch_related("refunds")
    )
    marks = set(
        await StatementMark.filter(issuer_key=issuer_key).values_list("organisation_id", "period")
    )
    totals: dict[tuple[int, str], int] = {}
    organisations: dict[int, Organisation] = {}
    for payment in payments:
        org = payment.organisation
        organisations[org.id] = org
        key = (org.id, payment.period)
        totals[key] = totals.get(key, 0) + billed_due(payment)
    return [
        StatementSummary(organisations[org_id], period, total, (org_id, period) in marks)
        for (org_id, period), total in sorted(
            totals.items(),
            key=lambda item: (item[0][1], organisations[item[0][0]].name),
            reverse=True,
        )
    ]


async def payments_due_at_issuer(actor: User, issuer_key: str) -> list[Payment]:
    """Payments to collect at the lab (no online payment), oldest first."""
    if not await manages_issuer(actor, issuer_key):
        raise NotPermitted(_("You do not have permission to do this."))
    return (
        await Payment.filter(
            issuer_key=issuer_key, method=PaymentMethod.AT_LAB, state=PaymentState.PENDING
        )
        .select_related("user")
        .order_by("created_at", "id")
        .limit(500)
    )


# --- billing permits ---------------------------------------------------------------------------


async def billing_permits(actor: User, organisation: Organisation) -> list[BillingPermit]:
    if not await _is_org_admin(actor, organisation.id):
        raise NotPermitted(_("Only the organisation's administrators may do this."))
    return (
        await BillingPermit.filter(organisation_id=organisation.id)
        .select_related("user")
        .order_by("user__full_name")
    )


async def allow_billing(actor: User, organisation: Organisation, email: str) -> BillingPermit:
    """An organisation admin lets an active member bill bookings to the organisation."""
    if not await _is_org_admin(actor, organisation.id):
        raise NotPermitted(_("Only the organisation's administrators may do this."))
    member = await User.get_or_none(email=email.strip().lower())
    active = member is not None and await Membership.exists(
        user_id=member.id, organisation_id=organisation.id, status=MembershipStatus.ACTIVE
    )
    if not active:
        message = _("This person is not an active member of the organisation.")
        raise Invalid(message, fields={"email": message})
    permit, _created = await BillingPermit.get_or_create(
        organisation_id=organisation.id,
        user_id=member.id,  # type: ignore[union-attr]
        defaults={"granted_by_id": actor.id},
    )
    await audit.record("billing.allowed", actor=actor, target=organisation, member=member.id)  # type: ignore[union-attr]
    return permit


async def revoke_billing(actor: User, organisation: Organisation, user_id: int) -> None:
    if not await _is_org_admin(actor, organisation.id):
        raise NotPermitted(_("Only the organisation's administrators may do this."))
    await BillingPermit.filter(organisation_id=organisation.id, user_id=user_id).delete()
    await audit.record("billing.revoked", actor=actor, target=organisation, member=user_id)


async def billable_organisations(user: User) -> list[Organisation]:
    """Organisations this user may bill bookings to: verified ones, for a verified account."""
    if not permissions.has_verified_identity(user):
        return []
    memberships = await Membership.filter(
        user_id=user.id,
        status=MembershipStatus.ACTIVE,
        organisation__verification=Verification.VERIFIED,
    ).select_related("organisation")
    permitted = set(
        await BillingPermit.filter(user_id=user.id).values_list("organisation_id", flat=True)
    )
    return [
        m.organisation
        for m in memberships
        if m.role.rank >= Role.ADMIN.rank or m.organisation_id in permitted  # type: ignore[attr-defined]
    ]
