"""JSON shapes of payments and credits (shared by the kernel's and the packages' APIs)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from ecosystem.payments.models import Payment, PaymentMethod, PaymentState
from ecosystem.payments.services.ledger import CURRENCY
from ecosystem.schemas import Output

if TYPE_CHECKING:
    from ecosystem.payments.services.billing import CreditHolder


class RefundOut(Output):
    id: int
    amount: int
    credit_amount: int = Field(description="The part returned to the credit balance")
    state: str = Field(description="pending | succeeded | failed")
    reason: str
    created_at: datetime


class PaymentOut(Output):
    id: int
    method: PaymentMethod = Field(
        description="card | credit | organisation | at_lab (what pays the part not from credit)"
    )
    state: PaymentState = Field(
        description="pending | expired | void | billed | paid | partially_refunded | refunded"
    )
    amount: int = Field(description="Whole VND (zero-decimal)")
    credit_amount: int = Field(description="Paid from a credit balance")
    refunded_amount: int
    currency: str
    organisation_id: int | None = Field(description="The billed organisation, if any")
    provider: str | None = Field(
        default=None, description="stripe | vnpay: who takes the online part (null: none)"
    )
    checkout_url: str | None = Field(
        description="Where to pay online (Stripe Checkout or VNPay) while a card hold is open"
    )
    hold_expires_at: datetime | None = Field(description="When an unpaid card hold is released")
    paid_at: datetime | None
    receipt_url: str | None
    refunds: list[RefundOut]


def payment_out(payment: Payment, refunds: list | None = None) -> PaymentOut:
    open_hold = payment.state == PaymentState.PENDING and payment.method == PaymentMethod.CARD
    return PaymentOut(
        id=payment.id,
        method=payment.method,
        state=payment.state,
        amount=payment.amount,
        credit_amount=payment.credit_amount,
        refunded_amount=payment.refunded_amount,
        currency=payment.currency,
        organisation_id=payment.organisation_id,  # type: ignore[attr-defined]
        provider=payment.provider or None,
        checkout_url=(payment.checkout_url or None) if open_hold else None,
        hold_expires_at=payment.hold_expires_at if open_hold else None,
        paid_at=payment.paid_at,
        receipt_url=(
            f"/payments/{payment.id}/receipt" if payment.receipt_number is not None else None
        ),
        refunds=[
            RefundOut(
                id=r.id,
                amount=r.amount,
                credit_amount=r.credit_amount,
                state=r.state.value,
                reason=r.reason,
                created_at=r.created_at,
            )
            for r in (refunds or [])
        ],
    )


class CreditEntryOut(Output):
    id: int
    amount: int = Field(description="Positive: credit in; negative: used")
    balance_after: int
    kind: str = Field(description="grant | consume | refund | release | reversal | opening")
    reason: str
    source: str
    created_at: datetime


class CreditBalanceOut(Output):
    owner: str = Field(description="user | organisation")
    organisation_id: int | None
    organisation_name: str | None
    balance: int = Field(description="Whole VND; always the sum of the ledger")
    currency: str
    ledger: list[CreditEntryOut] = Field(description="Newest first (at most 200)")


class CreditsOut(Output):
    balances: list[CreditBalanceOut]


def credit_balances(holders: Iterable[CreditHolder]) -> list[CreditBalanceOut]:
    """The balances a person may spend (`billing.credit_holders`), as the API and page show them."""
    return [
        CreditBalanceOut(
            owner="organisation" if holder.organisation else "user",
            organisation_id=holder.organisation.id if holder.organisation else None,
            organisation_name=holder.organisation.name if holder.organisation else None,
            balance=holder.balance,
            currency=CURRENCY,
            ledger=[
                CreditEntryOut(
                    id=e.id,
                    amount=e.amount,
                    balance_after=e.balance_after,
                    kind=e.kind,
                    reason=e.reason,
                    source=e.source,
                    created_at=e.created_at,
                )
                for e in holder.entries
            ],
        )
        for holder in holders
    ]
