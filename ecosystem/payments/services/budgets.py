"""Issuers' credit budgets: what platform admins put into them (`/admin/budgets`), audited.

The books themselves (the funding account, transfers) are in ecosystem.payments.services.ledger.
"""

from __future__ import annotations

from ecosystem.db import atomic
from ecosystem.errors import Invalid, NotPermitted
from ecosystem.i18n import _
from ecosystem.models import User
from ecosystem.packages import CreditIssuer, mounted_packages
from ecosystem.payments.models import AccountKind, CreditAccount, CreditTransfer
from ecosystem.payments.services.ledger import (
    MAX_AMOUNT,
    budget_balances,
    check_amount,
    funding_account,
    issuer_account,
    lock_account,
    transfer,
)
from ecosystem.permissions import has_verified_identity
from ecosystem.services import audit


def _ensure_funder(actor: User | None) -> None:
    if not (has_verified_identity(actor) and actor.is_platform_admin):  # type: ignore[union-attr]
        raise NotPermitted(_("Only platform administrators may fund budgets."))


async def top_up_budget(
    actor: User, issuer_key: str, amount: int, reason: str = "", ip: str = ""
) -> CreditTransfer:
    """A platform admin adds `amount` to an issuer's budget (audited)."""
    _ensure_funder(actor)
    check_amount(amount)
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
