"""Credit balances of users and organisations, in VND, with an append-only ledger.

Invariants, held under concurrency on SQLite and PostgreSQL:
- the balance is the sum of the account's ledger entries: an entry and the balance change are
  written in one transaction;
- a balance never goes below zero: money leaves by a conditional UPDATE
  (`balance = balance - x WHERE balance >= x`), which row-locks the account on PostgreSQL and
  runs under the database write lock on SQLite;
- a grant with a non-empty `reference` happens once per `(source, reference)` (a unique key):
  a second call returns the first entry.

Callers check the actor's authority (lab staff, an incubator programme's manager…) before
granting; this module only keeps the books.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid
from ecosystem.i18n import _
from ecosystem.models import CreditAccount, CreditEntry, Organisation, User

CURRENCY = "VND"
MAX_AMOUNT = 10**12  # one thousand billion dong: anything above is a typing mistake


class InsufficientCredit(Conflict):
    code = "insufficient_credit"


def _owner(user: User | None, organisation: Organisation | None) -> dict[str, int]:
    if (user is None) == (organisation is None):
        raise ValueError("exactly one of user and organisation")
    return {"user_id": user.id} if user is not None else {"organisation_id": organisation.id}  # type: ignore[union-attr]


async def account_for(
    user: User | None = None, organisation: Organisation | None = None
) -> CreditAccount:
    """The owner's account, created on first use (safe against a concurrent creation)."""
    owner = _owner(user, organisation)
    account = await CreditAccount.get_or_none(**owner)
    if account is not None:
        return account
    try:
        return await CreditAccount.create(currency=CURRENCY, **owner)
    except IntegrityError:
        return await CreditAccount.get(**owner)


async def balance(user: User | None = None, organisation: Organisation | None = None) -> int:
    """The current balance in VND (0 without an account)."""
    owner = _owner(user, organisation)
    found = await CreditAccount.filter(**owner).values_list("balance", flat=True)
    return int(found[0]) if found else 0


async def ledger(
    user: User | None = None, organisation: Organisation | None = None, limit: int = 200
) -> list[CreditEntry]:
    """The account's ledger, newest first."""
    owner = _owner(user, organisation)
    return (
        await CreditEntry.filter(**{f"account__{k}": v for k, v in owner.items()})
        .order_by("-id")
        .limit(limit)
    )


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or amount <= 0 or amount > MAX_AMOUNT:
        message = _("Give a whole amount of dong greater than zero.")
        raise Invalid(message, fields={"amount": message})


async def _post(
    account: CreditAccount,
    amount: int,
    *,
    kind: str,
    reason: str,
    source: str,
    reference: str,
    actor: User | None,
    payment_id: int | None,
) -> CreditEntry:
    """Write one entry and move the balance, inside the caller's transaction.

    Money out first takes it from the balance conditionally (InsufficientCredit if short).
    """
    if amount < 0:
        taken = await CreditAccount.filter(id=account.id, balance__gte=-amount).update(
            balance=F("balance") + amount
        )
        if not taken:
            raise InsufficientCredit(_("Your credit balance is not enough for this."))
    else:
        await CreditAccount.filter(id=account.id).update(balance=F("balance") + amount)
    after = await CreditAccount.filter(id=account.id).values_list("balance", flat=True)
    return await CreditEntry.create(
        account_id=account.id,
        amount=amount,
        balance_after=int(after[0]),
        kind=kind,
        reason=reason[:300],
        source=source[:40],
        reference=reference[:120] or None,
        actor_id=actor.id if actor else None,
        payment_id=payment_id,
    )


async def grant_credit(
    *,
    actor: User | None,
    amount: int,
    reason: str,
    source: str,
    user: User | None = None,
    organisation: Organisation | None = None,
    reference: str = "",
    currency: str = CURRENCY,
) -> CreditEntry:
    """Add `amount` VND of credit to a user's or an organisation's balance.

    Idempotent on `(source, reference)` when `reference` is given: a second call (also a
    concurrent one) returns the entry of the first. The caller checks `actor`'s authority.
    """
    _check_amount(amount)
    if currency != CURRENCY:
        raise Invalid(_("Credit is kept in VND only."), fields={"currency": "VND"})
    reason = reason.strip()
    if not reason:
        message = _("Say why the credit is granted.")
        raise Invalid(message, fields={"reason": message})
    if reference:
        existing = await CreditEntry.get_or_none(source=source, reference=reference)
        if existing is not None:
            return existing
    account = await account_for(user, organisation)
    try:
        async with atomic():
            return await _post(
                account,
                amount,
                kind="grant",
                reason=reason,
                source=source,
                reference=reference,
                actor=actor,
                payment_id=None,
            )
    except IntegrityError:
        if reference:
            existing = await CreditEntry.get_or_none(source=source, reference=reference)
            if existing is not None:
                return existing
        raise


async def consume(
    account: CreditAccount, amount: int, *, payment_id: int, reason: str = ""
) -> CreditEntry:
    """Pay `amount` from the account for a payment. Call inside the payment's transaction.

    InsufficientCredit (409) if the balance is short: nothing is taken.
    """
    _check_amount(amount)
    return await _post(
        account,
        -amount,
        kind="consume",
        reason=reason,
        source="payment",
        reference=f"payment:{payment_id}:consume",
        actor=None,
        payment_id=payment_id,
    )


async def give_back(
    account_id: int, amount: int, *, payment_id: int, kind: str, reference: str, reason: str = ""
) -> CreditEntry | None:
    """Return credit used by a payment (`kind`: refund or release). Once per reference.

    Call inside the transaction that decides it; None if this reference was already posted.
    """
    _check_amount(amount)
    if await CreditEntry.exists(source="payment", reference=reference):
        return None
    account = await CreditAccount.get(id=account_id)
    return await _post(
        account,
        amount,
        kind=kind,
        reason=reason,
        source="payment",
        reference=reference,
        actor=None,
        payment_id=payment_id,
    )


async def ledger_sum(account_id: int) -> int:
    """The sum of an account's entries (what `balance` must equal)."""
    amounts = await CreditEntry.filter(account_id=account_id).values_list("amount", flat=True)
    return sum(int(a) for a in amounts)
