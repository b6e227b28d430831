"""Payments, receipts and monthly statements as their readers may see them, and settling them.

A payment is seen by its payer, the billed organisation's admins and the issuer's staff (404
for anyone else). The issuer's staff mark a payment made at the lab as paid and settle an
organisation's monthly statement; each settled payment gets the issuer's next receipt number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tortoise import timezone
from tortoise.exceptions import IntegrityError

from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotFound, NotPermitted
from ecosystem.i18n import _
from ecosystem.inputs import whole_number
from ecosystem.models import Organisation, User
from ecosystem.payments.models import (
    Payment,
    PaymentMethod,
    PaymentState,
    RefundState,
    StatementMark,
)
from ecosystem.payments.services.common import (
    SETTLED_STATES,
    is_org_admin,
    manages_issuer,
    next_receipt_number,
)
from ecosystem.services import audit

# --- staff: settling at the lab -----------------------------------------------------------------


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
                receipt_number=await next_receipt_number(payment.issuer_key)
            )
            await audit.record("payment.marked_paid", actor=actor, target=payment)
    return await Payment.get(id=payment.id)


def statement_of(payments: Iterable[Payment]) -> int:
    return sum(p.amount - p.credit_amount - p.refunded_amount for p in payments)


# --- reading payments, receipts and statements ------------------------------------------------


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
        or await is_org_admin(actor, payment.organisation_id)  # type: ignore[attr-defined]
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
        await manages_issuer(actor, issuer_key) or await is_org_admin(actor, organisation_id)
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
                        receipt_number=await next_receipt_number(issuer_key)
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
