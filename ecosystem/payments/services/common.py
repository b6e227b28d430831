"""What every payment service shares: states, the packages' hooks, Stripe, receipt numbers.

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
from typing import Any

import stripe
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from ecosystem.db import atomic
from ecosystem.errors import DomainError
from ecosystem.models import Membership, MembershipStatus, Role, User
from ecosystem.packages import PaymentHandler, mounted_packages, resolve
from ecosystem.payments.models import IssuerProviders, Payment, PaymentState, ReceiptCounter
from ecosystem.payments.services import ledger
from ecosystem.settings import get_settings

logger = logging.getLogger("ecosystem.payments")

PROVIDER = "stripe"
PROVIDERS = ("stripe", "vnpay")  # every online provider this code speaks, in default order
PROVIDER_NAMES = {"stripe": "Stripe", "vnpay": "VNPay"}

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

# Services start the payment jobs by name, as they cannot import ecosystem.payments.jobs (it
# imports them). arq finds a job by its name, `module.function` (ecosystem.jobs.job_name): the
# jobs keep the names they had in the kernel's former payments service, so jobs queued in Redis
# before payments became a room of their own still run. ecosystem.payments.jobs names its
# functions after JOB_MODULE.
JOB_MODULE = "ecosystem.services.payments"
RELEASE_EXPIRED_HOLD_JOB = f"{JOB_MODULE}.release_expired_hold"
EXPIRE_CHECKOUT_JOB = f"{JOB_MODULE}.expire_checkout"
SEND_REFUND_JOB = f"{JOB_MODULE}.send_refund"


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


async def is_org_admin(user: User, organisation_id: int | None) -> bool:
    if organisation_id is None:
        return False
    membership = await Membership.get_or_none(
        user_id=user.id, organisation_id=organisation_id, status=MembershipStatus.ACTIVE
    )
    return membership is not None and membership.role.rank >= Role.ADMIN.rank


# --- Stripe ------------------------------------------------------------------------------------


def online_payments() -> bool:
    return get_settings().online_payments


def configured_providers() -> tuple[str, ...]:
    """The online providers this deployment has keys for (settings), in default order."""
    return get_settings().payment_providers


async def chosen_providers(issuer_key: str) -> tuple[str, ...] | None:
    """What the issuer chose to accept (None: it never chose, so whatever is configured)."""
    row = await IssuerProviders.get_or_none(issuer_key=issuer_key)
    if row is None:
        return None
    return tuple(p for p in row.providers.split(",") if p in PROVIDERS)


async def accepted_providers(issuer_key: str) -> tuple[str, ...]:
    """The online providers a payer of this issuer may use: configured and chosen by it."""
    configured = configured_providers()
    if not configured:
        return ()  # (no query: nothing to choose from)
    chosen = await chosen_providers(issuer_key)
    if chosen is None:
        return configured
    return tuple(p for p in chosen if p in configured)


async def set_providers(issuer_key: str, providers: list[str]) -> tuple[str, ...]:
    """Record which providers the issuer accepts (unknown names are dropped)."""
    kept = tuple(dict.fromkeys(p for p in providers if p in PROVIDERS))
    updated = await IssuerProviders.filter(issuer_key=issuer_key).update(providers=",".join(kept))
    if not updated:
        try:
            async with atomic():
                await IssuerProviders.create(issuer_key=issuer_key, providers=",".join(kept))
        except IntegrityError:  # a concurrent first choice: the last one wins
            await IssuerProviders.filter(issuer_key=issuer_key).update(providers=",".join(kept))
    return kept


class StripeClient:
    """A StripeClient for one call, on this event loop (async httpx, closed afterwards):
    `async with StripeClient() as client: ...`."""

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


def stripe_value(obj: Any, key: str, default: Any = None) -> Any:
    """A field of a StripeObject or of a plain dict (webhook payloads)."""
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


# --- the books of a payment ----------------------------------------------------------------------


async def next_receipt_number(issuer_key: str) -> int:
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


async def give_back_credit(payment: Payment, amount: int, kind: str, reference: str) -> None:
    """Credit the payment used goes back from the issuer's revenue to the payer."""
    await ledger.give_back(
        payment.id, amount, kind=kind, reference=reference, reason=payment.description
    )
