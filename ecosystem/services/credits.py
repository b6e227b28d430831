"""Credit in VND, kept in a double-entry ledger: credit is issued only out of a funded budget.

Accounts (`ecosystem.models.AccountKind`):
- `funding`: the platform's source. Platform admins move credit from it into issuers' budgets;
  it is the one account that goes below zero (its balance is minus all funding), so that the
  balances of all accounts add up to zero. Modelled as an account of its own kind rather than a
  budget allowed an overdraft: every other account is held at zero or above, by the service
  and, on PostgreSQL, by a CHECK constraint.
- `budget`: an issuer's budget (`incubator.programme:3`, `labs.lab:5`): perks and lab credit
  grants draw from it and are refused past it (BudgetExceeded, 409).
- `user`, `organisation`: the holders' balances, spent on bookings.
- `revenue`: an issuer's takings from credit spent on it (`labs.lab:5` for a booking paid with
  credit). A refund or a released hold is a transfer from there back to the payer: refunds are
  movements, not a place where credit rests.

Invariants, held under concurrency on SQLite and PostgreSQL:
- every movement is a `CreditTransfer` with two entries, -amount on the account it leaves and
  +amount on the one it reaches: the sum over all entries is zero;
- each balance is the sum of its account's entries: entries and balances change in one
  transaction;
- no balance but the funding account's goes below zero: credit leaves an account by a
  conditional UPDATE (`balance = balance - x WHERE balance >= x`), which row-locks the account
  on PostgreSQL and runs under the database write lock on SQLite (the transfer's first
  statement is a write). The two accounts are updated in the order of their ids, so two
  transfers between the same accounts cannot deadlock;
- a transfer with a non-empty `reference` happens once per `(source, reference)` (a unique
  key): a second call, also a concurrent one, returns the first transfer.

`grant_credit` and the payment functions keep the books only: callers check the actor's
authority (a programme's manager, a lab's staff) and the issuer's verification first.
`top_up_budget` and `set_budget` are the platform admins' acts: checked and audited here.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from ecosystem.db import atomic
from ecosystem.errors import Conflict, Invalid, NotFound, NotPermitted
from ecosystem.i18n import _, format_money
from ecosystem.models import (
    AccountKind,
    CreditAccount,
    CreditEntry,
    CreditTransfer,
    Organisation,
    User,
)
from ecosystem.packages import CreditIssuer, mounted_packages
from ecosystem.permissions import has_verified_identity, is_verified_organisation

CURRENCY = "VND"
MAX_AMOUNT = 10**12  # one thousand billion dong: anything above is a typing mistake
FUNDING_KEY = "funding"


class InsufficientCredit(Conflict):
    code = "insufficient_credit"


class BudgetExceeded(Conflict):
    code = "budget_exceeded"


# --- accounts ------------------------------------------------------------------------------------


def _owner(user: User | None, organisation: Organisation | None) -> dict[str, int]:
    if (user is None) == (organisation is None):
        raise ValueError("exactly one of user and organisation")
    return {"user_id": user.id} if user is not None else {"organisation_id": organisation.id}  # type: ignore[union-attr]


async def _get_or_create(lookup: dict, defaults: dict) -> CreditAccount:
    account = await CreditAccount.get_or_none(**lookup)
    if account is not None:
        return account
    try:
        async with atomic():  # a savepoint: a concurrent creation may win
            return await CreditAccount.create(currency=CURRENCY, **lookup, **defaults)
    except IntegrityError:
        return await CreditAccount.get(**lookup)


async def account_for(
    user: User | None = None, organisation: Organisation | None = None
) -> CreditAccount:
    """The holder's account, created on first use (safe against a concurrent creation)."""
    owner = _owner(user, organisation)
    kind = AccountKind.USER if user is not None else AccountKind.ORGANISATION
    return await _get_or_create(owner, {"kind": kind})


async def issuer_account(kind: AccountKind, issuer_key: str) -> CreditAccount:
    """An issuer's budget or revenue account (or the funding account), created on first use."""
    if kind not in (AccountKind.BUDGET, AccountKind.REVENUE, AccountKind.FUNDING):
        raise ValueError(kind)
    issuer_key = issuer_key[:60]
    return await _get_or_create({"kind": kind, "issuer_key": issuer_key}, {})


async def funding_account() -> CreditAccount:
    return await issuer_account(AccountKind.FUNDING, FUNDING_KEY)


async def balance(user: User | None = None, organisation: Organisation | None = None) -> int:
    """The current balance in VND (0 without an account)."""
    owner = _owner(user, organisation)
    found = await CreditAccount.filter(**owner).values_list("balance", flat=True)
    return int(found[0]) if found else 0


async def budget_balances(issuer_keys: list[str]) -> dict[str, int]:
    """What is left in each issuer's budget (0 for an issuer never funded)."""
    rows = await CreditAccount.filter(
        kind=AccountKind.BUDGET, issuer_key__in=list(issuer_keys)
    ).values_list("issuer_key", "balance")
    found = {key: int(value) for key, value in rows}
    return {key: found.get(key, 0) for key in issuer_keys}


async def budget_balance(issuer_key: str) -> int:
    return (await budget_balances([issuer_key]))[issuer_key]


async def ledger(
    user: User | None = None, organisation: Organisation | None = None, limit: int = 200
) -> list[CreditEntry]:
    """The holder's entries, newest first."""
    owner = _owner(user, organisation)
    return (
        await CreditEntry.filter(**{f"account__{k}": v for k, v in owner.items()})
        .order_by("-id")
        .limit(limit)
    )


async def ledger_sum(account_id: int) -> int:
    """The sum of an account's entries (what `balance` must equal)."""
    amounts = await CreditEntry.filter(account_id=account_id).values_list("amount", flat=True)
    return sum(int(a) for a in amounts)


# --- the one writer ------------------------------------------------------------------------------


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT:
        message = _("Give a whole amount of dong greater than zero.")
        raise Invalid(message, fields={"amount": message})


async def lock_account(account: CreditAccount) -> None:
    """Serialise on an account: a write that changes nothing (SQLite: the database write
    lock; PostgreSQL: the row lock). Call it FIRST inside `atomic()` when a rule reads the
    balance before moving credit (e.g. a perk for a whole cohort), as bookings lock a machine."""
    await CreditAccount.filter(id=account.id).update(balance=F("balance"))


def _short(account: CreditAccount, amount: int, available: int) -> Conflict:
    if account.kind == AccountKind.BUDGET:
        message = _(
            "The budget has %(left)s left, not enough for %(amount)s. A platform "
            "administrator can top it up.",
            left=format_money(available),
            amount=format_money(amount),
        )
        return BudgetExceeded(message, fields={"amount": message})
    return InsufficientCredit(_("Your credit balance is not enough for this."))


async def transfer(
    debit: CreditAccount,
    credit: CreditAccount,
    amount: int,
    *,
    kind: str,
    reason: str,
    source: str,
    reference: str = "",
    actor: User | None = None,
    payment_id: int | None = None,
) -> CreditTransfer:
    """Move `amount` from `debit` to `credit`: one transfer, two entries, both balances.

    Inside the caller's transaction when there is one (as a savepoint), else in its own.
    BudgetExceeded / InsufficientCredit (409) if `debit` is short: nothing is written. With a
    `reference`, once per `(source, reference)`: a repeated call returns the first transfer.
    """
    _check_amount(amount)
    if debit.id == credit.id:
        raise ValueError("a transfer needs two accounts")
    try:
        async with atomic():
            # 1. The transfer row first: a write (SQLite takes its write lock here) that also
            #    claims the reference, so a concurrent duplicate waits and then fails.
            moved = await CreditTransfer.create(
                kind=kind,
                amount=amount,
                debit_account_id=debit.id,
                credit_account_id=credit.id,
                reason=reason[:300],
                source=source[:40],
                reference=reference[:120] or None,
                actor_id=actor.id if actor else None,
                payment_id=payment_id,
            )
            # 2. Both balances, in the order of the accounts' ids (no deadlock between two
            #    transfers of one pair); credit leaves only if it is there.
            for account in sorted((debit, credit), key=lambda a: a.id):
                if account is credit:
                    await CreditAccount.filter(id=credit.id).update(balance=F("balance") + amount)
                elif debit.kind == AccountKind.FUNDING:
                    await CreditAccount.filter(id=debit.id).update(balance=F("balance") - amount)
                elif not await CreditAccount.filter(id=debit.id, balance__gte=amount).update(
                    balance=F("balance") - amount
                ):
                    left = await CreditAccount.filter(id=debit.id).values_list("balance", flat=True)
                    raise _short(debit, amount, int(left[0]) if left else 0)
            # 3. The two entries, with the balances they left (rows locked: exact).
            after = dict(
                await CreditAccount.filter(id__in=[debit.id, credit.id]).values_list(
                    "id", "balance"
                )
            )
            common = {
                "transfer_id": moved.id,
                "kind": kind,
                "reason": reason[:300],
                "source": source[:40],
                "actor_id": actor.id if actor else None,
                "payment_id": payment_id,
            }
            await CreditEntry.bulk_create(
                [
                    CreditEntry(
                        account_id=debit.id,
                        amount=-amount,
                        balance_after=int(after[debit.id]),
                        **common,
                    ),
                    CreditEntry(
                        account_id=credit.id,
                        amount=amount,
                        balance_after=int(after[credit.id]),
                        **common,
                    ),
                ]
            )
            return moved
    except IntegrityError:
        if reference:
            existing = await CreditTransfer.get_or_none(source=source[:40], reference=reference)
            if existing is not None:
                return existing
        raise


async def entry_of(moved: CreditTransfer, account_id: int) -> CreditEntry:
    """The entry a transfer wrote on one of its accounts."""
    return await CreditEntry.get(transfer_id=moved.id, account_id=account_id)


# --- budgets: the platform admins' acts ---------------------------------------------------------


async def fund(
    issuer_key: str,
    amount: int,
    *,
    actor: User | None = None,
    reason: str = "",
    reference: str = "",
) -> CreditTransfer:
    """Move credit from the funding account into an issuer's budget (books only: seeds, tests;
    people go through `top_up_budget`)."""
    budget = await issuer_account(AccountKind.BUDGET, issuer_key)
    return await transfer(
        await funding_account(),
        budget,
        amount,
        kind="fund",
        reason=reason or _("Budget funded"),
        source="budget",
        reference=reference,
        actor=actor,
    )


def _ensure_funder(actor: User | None) -> None:
    if not (has_verified_identity(actor) and actor.is_platform_admin):  # type: ignore[union-attr]
        raise NotPermitted(_("Only platform administrators may fund budgets."))


async def top_up_budget(
    actor: User, issuer_key: str, amount: int, reason: str = "", ip: str = ""
) -> CreditTransfer:
    """A platform admin adds `amount` to an issuer's budget (audited)."""
    from ecosystem.services import audit

    _ensure_funder(actor)
    _check_amount(amount)
    await issuer_by_key(issuer_key)
    budget = await issuer_account(AccountKind.BUDGET, issuer_key)
    funding = await funding_account()
    async with atomic():  # the transfer's first statement is a write (SQLite's lock)
        moved = await transfer(
            funding,
            budget,
            amount,
            kind="fund",
            reason=reason.strip() or _("Budget funded"),
            source="budget",
            actor=actor,
        )
        await audit.record(
            "credits.budget_funded",
            actor=actor,
            target=moved,
            ip=ip,
            issuer=issuer_key,
            amount=amount,
        )
    return moved


async def set_budget(
    actor: User, issuer_key: str, target: int, reason: str = "", ip: str = ""
) -> int:
    """A platform admin sets what is left in an issuer's budget (audited): the difference moves
    from or back to the funding account. Credit already granted stays with its holders.
    Returns the new balance."""
    from ecosystem.services import audit

    _ensure_funder(actor)
    if not isinstance(target, int) or not 0 <= target <= MAX_AMOUNT:
        message = _("Give a whole amount of dong, zero or more.")
        raise Invalid(message, fields={"amount": message})
    await issuer_by_key(issuer_key)
    budget = await issuer_account(AccountKind.BUDGET, issuer_key)
    funding = await funding_account()
    async with atomic():
        await lock_account(budget)  # first: nobody grants from it while it is set
        current = int(
            (await CreditAccount.filter(id=budget.id).values_list("balance", flat=True))[0]
        )
        if target != current:
            common = {"reason": reason.strip() or _("Budget set"), "source": "budget"}
            if target > current:
                moved = await transfer(
                    funding, budget, target - current, kind="fund", actor=actor, **common
                )
            else:
                moved = await transfer(
                    budget, funding, current - target, kind="unfund", actor=actor, **common
                )
            await audit.record(
                "credits.budget_set",
                actor=actor,
                target=moved,
                ip=ip,
                issuer=issuer_key,
                before=current,
                after=target,
            )
    return target


async def issuers() -> list[CreditIssuer]:
    """Every issuer of the mounted packages with what is left in its budget."""
    found: list[CreditIssuer] = []
    for package in mounted_packages():
        if package.credit_issuers is not None:
            found.extend(await package.credit_issuers())
    left = await budget_balances([issuer.key for issuer in found])
    for issuer in found:
        issuer.budget = left[issuer.key]
    return found


async def issuer_by_key(issuer_key: str) -> CreditIssuer:
    for issuer in await issuers():
        if issuer.key == issuer_key:
            return issuer
    message = _("Choose a lab or a programme.")
    raise Invalid(message, fields={"issuer": message})


# --- grants and reversals -----------------------------------------------------------------------


def ensure_recipient(user: User | None, organisation: Organisation | None) -> None:
    """Credit reaches only a verified account or a verified organisation (Invalid, 422)."""
    if user is not None and not has_verified_identity(user):
        message = _("Credit can only be granted to an account whose e-mail address is verified.")
        raise Invalid(message, fields={"recipient": message})
    if organisation is not None and not is_verified_organisation(organisation):
        message = _("Credit can only be granted to an organisation that has been verified.")
        raise Invalid(message, fields={"recipient": message})


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
    issuer_key: str = "",
) -> CreditTransfer:
    """Grant `amount` VND from the issuer's budget (`issuer_key`, by default `source`) to a
    verified user's or organisation's balance.

    BudgetExceeded (409) past the budget; Invalid (422) for an unverified recipient. Idempotent
    on `(source, reference)` when `reference` is given: a second call (also a concurrent one)
    returns the transfer of the first. The caller checks `actor`'s authority.
    """
    _check_amount(amount)
    if currency != CURRENCY:
        raise Invalid(_("Credit is kept in VND only."), fields={"currency": "VND"})
    reason = reason.strip()
    if not reason:
        message = _("Say why the credit is granted.")
        raise Invalid(message, fields={"reason": message})
    _owner(user, organisation)
    if reference:
        existing = await CreditTransfer.get_or_none(source=source[:40], reference=reference)
        if existing is not None:
            return existing
    ensure_recipient(user, organisation)
    budget = await issuer_account(AccountKind.BUDGET, issuer_key or source)
    recipient = await account_for(user, organisation)
    return await transfer(
        budget,
        recipient,
        amount,
        kind="grant",
        reason=reason,
        source=source,
        reference=reference,
        actor=actor,
    )


async def reverse_grant(actor: User | None, transfer_id: int, reason: str = "") -> CreditTransfer:
    """Take a grant back into the budget it came from, once (what the holder has not spent:
    InsufficientCredit otherwise). The caller checks `actor`'s authority over the issuer."""
    granted = await CreditTransfer.get_or_none(id=transfer_id, kind="grant")
    if granted is None:
        raise NotFound(_("No such grant."))
    holder = await CreditAccount.get(id=granted.credit_account_id)  # type: ignore[attr-defined]
    budget = await CreditAccount.get(id=granted.debit_account_id)  # type: ignore[attr-defined]
    return await transfer(
        holder,
        budget,
        granted.amount,
        kind="reversal",
        reason=reason or granted.reason,
        source="reversal",
        reference=f"grant:{granted.id}",
        actor=actor,
    )


# --- payments: credit spent on an issuer and given back ----------------------------------------


def _consume_reference(payment_id: int) -> str:
    return f"payment:{payment_id}:consume"


async def consume(
    account: CreditAccount, amount: int, *, payment_id: int, issuer_key: str, reason: str = ""
) -> CreditTransfer:
    """Pay `amount` from the account to the issuer's revenue for a payment. Call inside the
    payment's transaction. InsufficientCredit (409) if the balance is short: nothing is taken."""
    revenue = await issuer_account(AccountKind.REVENUE, issuer_key)
    return await transfer(
        account,
        revenue,
        amount,
        kind="consume",
        reason=reason,
        source="payment",
        reference=_consume_reference(payment_id),
        payment_id=payment_id,
    )


async def give_back(
    payment_id: int, amount: int, *, kind: str, reference: str, reason: str = ""
) -> CreditTransfer | None:
    """Return credit a payment used, from the issuer's revenue to the payer (`kind`: refund or
    release). Once per reference; None if there is nothing to give back or it was done.
    Call inside the transaction that decides it."""
    if amount <= 0:
        return None
    consumed = await CreditTransfer.get_or_none(
        source="payment", reference=_consume_reference(payment_id)
    )
    if consumed is None or await CreditTransfer.exists(source="payment", reference=reference):
        return None
    revenue = await CreditAccount.get(id=consumed.credit_account_id)  # type: ignore[attr-defined]
    payer = await CreditAccount.get(id=consumed.debit_account_id)  # type: ignore[attr-defined]
    return await transfer(
        revenue,
        payer,
        amount,
        kind=kind,
        reason=reason,
        source="payment",
        reference=reference,
        payment_id=payment_id,
    )


async def take_again(payment_id: int, amount: int, reason: str = "") -> CreditTransfer | None:
    """A card payment arrived after its hold was released: take its credit part again, from
    the account it was released to (InsufficientCredit if it has been spent meanwhile)."""
    if amount <= 0:
        return None
    released = await CreditTransfer.get_or_none(
        source="payment", reference=f"payment:{payment_id}:release"
    )
    if released is None:
        return None
    payer = await CreditAccount.get(id=released.credit_account_id)  # type: ignore[attr-defined]
    revenue = await CreditAccount.get(id=released.debit_account_id)  # type: ignore[attr-defined]
    return await transfer(
        payer,
        revenue,
        amount,
        kind="consume",
        reason=reason,
        source="payment",
        reference=f"payment:{payment_id}:consume-late",
        payment_id=payment_id,
    )
