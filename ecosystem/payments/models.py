"""Payment and credit models of the kernel (tortoise app label `ecosystem`, like ecosystem.models).

Generic over what is paid for: the rules are in ecosystem.payments.services (checkout,
webhooks, refunds, statements, billing, ledger, budgets).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:  # tortoise would find them here too: relations name them as ecosystem.User
    from ecosystem.models import Organisation, User


class PaymentMethod(StrEnum):
    CARD = "card"  # Stripe Checkout
    CREDIT = "credit"  # entirely from a credit balance
    ORGANISATION = "organisation"  # on the organisation's monthly statement
    AT_LAB = "at_lab"  # no online payment configured: paid on site, marked by staff


class PaymentState(StrEnum):
    PENDING = "pending"  # waiting for the card payment (a hold) or for payment on site
    EXPIRED = "expired"  # the hold was released unpaid
    VOID = "void"  # cancelled before any money moved
    BILLED = "billed"  # on an organisation's statement, not yet settled
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"


class Payment(Model):
    """What one subject (e.g. a lab booking) costs and how it is paid.

    `amount` = `credit_amount` (from a credit balance) + the rest by `method`. States only move
    forward (see ecosystem.payments.services.common.STATE_RANK), so events arriving out of order
    leave the right final state.
    """

    id = fields.IntField(primary_key=True)
    subject_kind = fields.CharField(max_length=40)  # e.g. labs.booking
    subject_id = fields.IntField()
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    organisation: fields.ForeignKeyNullableRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    method = fields.CharEnumField(PaymentMethod, max_length=16)
    state = fields.CharEnumField(PaymentState, max_length=20, default=PaymentState.PENDING)
    amount = fields.BigIntField()
    credit_amount = fields.BigIntField(default=0)
    currency = fields.CharField(max_length=3, default="VND")
    refunded_amount = fields.BigIntField(default=0)
    description = fields.CharField(max_length=300, default="")
    # Who is paid: receipts are numbered per issuer (e.g. labs.lab:3), details snapshotted.
    issuer_key = fields.CharField(max_length=60)
    issuer = fields.JSONField(default=dict)
    period = fields.CharField(max_length=7, default="")  # YYYY-MM of the service, statements
    return_path = fields.CharField(max_length=300, default="/")
    provider = fields.CharField(max_length=16, default="")
    checkout_session_id = fields.CharField(max_length=255, null=True, unique=True)
    checkout_url = fields.CharField(max_length=2000, default="")
    payment_intent_id = fields.CharField(max_length=255, default="")
    hold_expires_at = fields.DatetimeField(null=True)
    receipt_number = fields.IntField(null=True)
    paid_at = fields.DatetimeField(null=True)
    marked_paid_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payment"
        unique_together = (("subject_kind", "subject_id"), ("issuer_key", "receipt_number"))
        indexes = (
            ("state", "hold_expires_at"),
            ("organisation_id", "issuer_key", "period"),
            ("user_id", "created_at"),
        )

    @property
    def card_amount(self) -> int:
        return self.amount - self.credit_amount

    @property
    def net_amount(self) -> int:
        return self.amount - self.refunded_amount


class RefundState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(Model):
    """Money going back: the credit part at once, the card part through Stripe's Refund API."""

    id = fields.IntField(primary_key=True)
    payment: fields.ForeignKeyRelation[Payment] = fields.ForeignKeyField(
        "ecosystem.Payment", related_name="refunds", on_delete=fields.CASCADE
    )
    amount = fields.BigIntField()
    credit_amount = fields.BigIntField(default=0)
    card_amount = fields.BigIntField(default=0)
    reason = fields.CharField(max_length=40)
    state = fields.CharEnumField(RefundState, max_length=16, default=RefundState.PENDING)
    provider_refund_id = fields.CharField(max_length=255, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    settled_at = fields.DatetimeField(null=True)
    # The card part is being sent to Stripe since then (a claim, so one sender at a time;
    # a claim older than refunds.REFUND_CLAIM_MINUTES is taken over) and how often it was.
    claimed_at = fields.DatetimeField(null=True)
    send_attempts = fields.IntField(default=0)

    class Meta:
        table = "payment_refund"


class PaymentEvent(Model):
    """A provider event already processed: the unique key makes processing at-most-once."""

    id = fields.BigIntField(primary_key=True)
    provider = fields.CharField(max_length=16)
    event_id = fields.CharField(max_length=255)
    event_type = fields.CharField(max_length=100)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_event"
        unique_together = (("provider", "event_id"),)


class ReceiptCounter(Model):
    """The last receipt number of one issuer (sequential, no gaps, no duplicates)."""

    id = fields.IntField(primary_key=True)
    issuer_key = fields.CharField(max_length=60, unique=True)
    last_number = fields.IntField(default=0)

    class Meta:
        table = "payment_receipt_counter"


class BillingPermit(Model):
    """An organisation's admins allow one member to bill bookings to the organisation."""

    id = fields.IntField(primary_key=True)
    organisation: fields.ForeignKeyRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, on_delete=fields.CASCADE
    )
    granted_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_billing_permit"
        unique_together = (("organisation", "user"),)


class StatementMark(Model):
    """An organisation's monthly statement of one issuer, marked as paid by the issuer's staff."""

    id = fields.IntField(primary_key=True)
    issuer_key = fields.CharField(max_length=60)
    organisation: fields.ForeignKeyRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, on_delete=fields.CASCADE
    )
    period = fields.CharField(max_length=7)
    amount = fields.BigIntField()
    marked_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    paid_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_statement_mark"
        unique_together = (("issuer_key", "organisation", "period"),)


class AccountKind(StrEnum):
    """Where credit rests (see ecosystem.payments.services.ledger for how it moves)."""

    FUNDING = "funding"  # the platform's source: minus everything admins put into budgets
    BUDGET = "budget"  # an issuer's budget (`issuer_key`: incubator.programme:3, labs.lab:5)
    USER = "user"  # a person's balance
    ORGANISATION = "organisation"  # an organisation's balance
    REVENUE = "revenue"  # an issuer's takings from credit spent on it (refunds go back out)


class CreditAccount(Model):
    """One account of the double-entry credit ledger, in VND.

    `balance` is the sum of the account's entries: both change in one transaction, the balance
    by a conditional UPDATE that never lets it go below zero. The funding account alone goes
    below zero (a CHECK constraint holds it): its balance is minus all the credit put into
    issuers' budgets, so the balances of all accounts add up to zero.
    """

    id = fields.IntField(primary_key=True)
    # (A SQL default too: accounts of an older database get a kind when the column is added.)
    kind = fields.CharEnumField(
        AccountKind, max_length=16, default=AccountKind.USER, db_default=AccountKind.USER
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.CASCADE
    )
    organisation: fields.ForeignKeyNullableRelation[Organisation] = fields.ForeignKeyField(
        "ecosystem.Organisation", related_name=False, null=True, on_delete=fields.CASCADE
    )
    # A budget's or a revenue account's issuer (`funding` for the funding account).
    issuer_key = fields.CharField(max_length=60, null=True)
    currency = fields.CharField(max_length=3, default="VND")
    balance = fields.BigIntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "credit_account"
        # (A unique=True foreign key gets no UNIQUE constraint from tortoise's migrations.)
        unique_together = (("user",), ("organisation",), ("kind", "issuer_key"))


class CreditTransfer(Model):
    """One movement of credit: `amount` leaves `debit_account` and arrives on `credit_account`.

    Each transfer has exactly two entries (-amount and +amount), so the entries of the whole
    ledger add up to zero. Once per `(source, reference)` when a reference is given.
    """

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=16)  # fund|grant|reversal|consume|release|refund|opening
    amount = fields.BigIntField()
    debit_account: fields.ForeignKeyRelation[CreditAccount] = fields.ForeignKeyField(
        "ecosystem.CreditAccount", related_name=False, on_delete=fields.RESTRICT
    )
    credit_account: fields.ForeignKeyRelation[CreditAccount] = fields.ForeignKeyField(
        "ecosystem.CreditAccount", related_name=False, on_delete=fields.RESTRICT
    )
    reason = fields.CharField(max_length=300, default="")
    source = fields.CharField(max_length=40)
    reference = fields.CharField(max_length=120, null=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    payment_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "credit_transfer"
        unique_together = (("source", "reference"),)
        indexes = (("payment_id",),)


class CreditEntry(Model):
    """One side of a transfer on one account (positive: credit in, negative: out).

    `reference` is kept for entries written before the double-entry ledger (migration 0004);
    newer entries leave it empty and their transfer holds it.
    """

    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[CreditAccount] = fields.ForeignKeyField(
        "ecosystem.CreditAccount", related_name="entries", on_delete=fields.CASCADE
    )
    transfer: fields.ForeignKeyNullableRelation[CreditTransfer] = fields.ForeignKeyField(
        "ecosystem.CreditTransfer", related_name="entries", null=True, on_delete=fields.CASCADE
    )
    amount = fields.BigIntField()
    balance_after = fields.BigIntField()
    kind = fields.CharField(max_length=16)  # the transfer's kind
    reason = fields.CharField(max_length=300, default="")
    source = fields.CharField(max_length=40)
    reference = fields.CharField(max_length=120, null=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "ecosystem.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    payment_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "credit_entry"
        unique_together = (("source", "reference"),)
        indexes = (("account_id", "id"),)


class IssuerProviders(Model):
    """The online payment providers an issuer (e.g. a lab) accepts, in its order of preference.

    `providers` is a comma-separated list (`stripe,vnpay`); no row: every configured provider.
    Only configured providers are ever offered (ecosystem.payments.services.common).
    """

    id = fields.IntField(primary_key=True)
    issuer_key = fields.CharField(max_length=60, unique=True)
    providers = fields.CharField(max_length=100, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payment_issuer_providers"
