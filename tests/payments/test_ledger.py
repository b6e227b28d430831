"""The double-entry credit ledger (ecosystem.payments.services.ledger): credit is conserved.

- Fifty grants at once against a budget of N issue at most N (asyncio.gather through the
  service: real concurrency over the connection pool on PostgreSQL, the serialised write
  path on SQLite).
- Any sequence of fundings, grants, spends, refunds and reversals keeps the sum over all
  entries at zero, every balance equal to its entries and never below zero (but the funding
  account's), and matches an independent model of the balances (hypothesis).
"""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecosystem.payments.models import AccountKind, CreditAccount, CreditEntry, CreditTransfer
from ecosystem.payments.services import ledger as credits
from tests.conftest import make_organisation, person

RUN = itertools.count(1)  # fresh people and issuers per hypothesis example


async def assert_books_balance() -> None:
    """The ledger's invariants, read back from the database."""
    total = 0
    for account in await CreditAccount.all():
        entries = await CreditEntry.filter(account_id=account.id).values_list("amount", flat=True)
        assert account.balance == sum(entries), account.id
        assert account.balance >= 0 or account.kind == AccountKind.FUNDING
        total += account.balance
    assert total == 0
    assert sum(await CreditEntry.all().values_list("amount", flat=True)) == 0
    for moved in await CreditTransfer.all():
        legs = await CreditEntry.filter(transfer_id=moved.id).values_list("account_id", "amount")
        assert sorted(legs, key=lambda leg: leg[1]) == [
            (moved.debit_account_id, -moved.amount),  # type: ignore[attr-defined]
            (moved.credit_account_id, moved.amount),  # type: ignore[attr-defined]
        ]


async def test_fifty_concurrent_grants_never_issue_more_than_the_budget(app, backend):
    people = [await person(f"student{i}@eiu.edu.vn") for i in range(50)]
    issuer = "labs.lab:77"
    await credits.fund(issuer, 7 * 100_000 + 40_000)  # N: seven grants and a remainder

    results = await asyncio.gather(
        *[
            credits.grant_credit(
                actor=None, amount=100_000, reason="Hackathon prize", source=issuer, user=p
            )
            for p in people
        ],
        return_exceptions=True,
    )

    granted = [r for r in results if isinstance(r, CreditTransfer)]
    refused = [r for r in results if isinstance(r, credits.BudgetExceeded)]
    assert len(granted) == 7 and len(refused) == 43, [r for r in results if r not in granted]
    assert await credits.budget_balance(issuer) == 40_000
    balances = [await credits.balance(user=p) for p in people]
    assert sum(balances) == 700_000 and set(balances) == {0, 100_000}
    assert refused[0].status_code == 409 and refused[0].code == "budget_exceeded"
    await assert_books_balance()


async def test_fifty_concurrent_grants_to_one_holder_with_one_reference_grant_once(app, backend):
    holder = await person("founder@lumi.vn")
    await credits.fund("incubator.programme:5", 1_000_000)
    results = await asyncio.gather(
        *[
            credits.grant_credit(
                actor=None,
                amount=600_000,
                reason="Perk",
                source="incubator:programme:5",
                issuer_key="incubator.programme:5",
                reference="perk:1:9",
                user=holder,
            )
            for _ in range(50)
        ]
    )
    assert len({r.id for r in results}) == 1
    assert await credits.balance(user=holder) == 600_000
    assert await credits.budget_balance("incubator.programme:5") == 400_000
    await assert_books_balance()


async def test_a_grant_is_reversed_once_and_only_what_is_left(app):
    holder = await person("lan@eiu.edu.vn")
    await credits.fund("labs.lab:3", 500_000)
    granted = await credits.grant_credit(
        actor=None, amount=300_000, reason="Welcome", source="labs.lab:3", user=holder
    )
    account = await credits.account_for(user=holder)
    await credits.consume(account, 250_000, payment_id=1, issuer_key="labs.lab:3")
    try:
        await credits.reverse_grant(None, granted.id)
        raise AssertionError("a spent grant cannot be taken back")
    except credits.InsufficientCredit:
        pass
    await credits.give_back(1, 250_000, kind="refund", reference="refund:1:credit")
    first = await credits.reverse_grant(None, granted.id)
    again = await credits.reverse_grant(None, granted.id)
    assert first.id == again.id
    assert await credits.balance(user=holder) == 0
    assert await credits.budget_balance("labs.lab:3") == 500_000
    await assert_books_balance()


# --- the property ------------------------------------------------------------------------------

AMOUNTS = st.integers(min_value=1, max_value=400_000)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), st.integers(0, 1), AMOUNTS),
        st.tuples(st.just("grant"), st.integers(0, 1), st.integers(0, 2), AMOUNTS),
        st.tuples(st.just("spend"), st.integers(0, 2), st.integers(0, 1), AMOUNTS),
        st.tuples(st.just("refund"), st.integers(0, 50), AMOUNTS),
        st.tuples(st.just("reverse"), st.integers(0, 50)),
    ),
    max_size=14,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
async def test_any_sequence_keeps_the_books_balanced(app, operations):
    run = next(RUN)
    issuers = [f"labs.lab:{1000 + 2 * run}", f"incubator.programme:{1001 + 2 * run}"]
    owner = await person(f"owner{run}@becamex.vn")
    holders = [
        {"user": owner},
        {"user": await person(f"student{run}@eiu.edu.vn")},
        {"organisation": await make_organisation(owner, name=f"Startup {run}")},
    ]
    accounts = [await credits.account_for(**h) for h in holders]
    # An independent model: what each account must hold after the sequence.
    budget = dict.fromkeys(issuers, 0)
    revenue = dict.fromkeys(issuers, 0)
    held = [0, 0, 0]
    spends: list[tuple[int, int, int, int]] = []  # payment id, holder, issuer, left to refund
    grants: list[tuple[int, int, int, int, bool]] = []  # transfer, holder, issuer, amount, rev.
    payment_ids = itertools.count(run * 1000)

    for op in operations:
        kind = op[0]
        if kind == "fund":
            _, i, amount = op
            await credits.fund(issuers[i], amount)
            budget[issuers[i]] += amount
        elif kind == "grant":
            _, i, h, amount = op
            try:
                moved = await credits.grant_credit(
                    actor=None, amount=amount, reason="grant", source=issuers[i], **holders[h]
                )
            except credits.BudgetExceeded:
                assert budget[issuers[i]] < amount
                continue
            assert budget[issuers[i]] >= amount
            budget[issuers[i]] -= amount
            held[h] += amount
            grants.append((moved.id, h, i, amount, False))
        elif kind == "spend":
            _, h, i, amount = op
            payment = next(payment_ids)
            try:
                await credits.consume(
                    accounts[h], amount, payment_id=payment, issuer_key=issuers[i]
                )
            except credits.InsufficientCredit:
                assert held[h] < amount
                continue
            held[h] -= amount
            revenue[issuers[i]] += amount
            spends.append((payment, h, i, amount))
        elif kind == "refund" and spends:
            _, pick, amount = op
            payment, h, i, left = spends[pick % len(spends)]
            amount = min(amount, left)
            if amount <= 0:
                continue
            await credits.give_back(
                payment, amount, kind="refund", reference=f"refund:{payment}:{left}"
            )
            held[h] += amount
            revenue[issuers[i]] -= amount
            spends[pick % len(spends)] = (payment, h, i, left - amount)
        elif kind == "reverse" and grants:
            pick = op[1] % len(grants)
            transfer_id, h, i, amount, reversed_already = grants[pick]
            try:
                await credits.reverse_grant(None, transfer_id)
            except credits.InsufficientCredit:
                assert held[h] < amount and not reversed_already
                continue
            if not reversed_already:  # a second reversal of one grant moves nothing
                held[h] -= amount
                budget[issuers[i]] += amount
                grants[pick] = (transfer_id, h, i, amount, True)

    for account, expected in zip(accounts, held, strict=True):
        assert (await CreditAccount.get(id=account.id)).balance == expected
    for issuer in issuers:
        assert await credits.budget_balance(issuer) == budget[issuer]
        found = await CreditAccount.get_or_none(kind=AccountKind.REVENUE, issuer_key=issuer)
        assert (found.balance if found else 0) == revenue[issuer]
    await assert_books_balance()


async def test_concurrent_cohort_perks_are_all_or_nothing_within_the_budget(app, backend):
    from incubator.models import Cohort, Enrolment, Perk, PerkAward, ProgrammeRole
    from incubator.models import ProgrammeRoleKind as Kind
    from incubator.services.portfolio import grant_perk, perk_issuer_key
    from tests.incubator.conftest import organisation, programme, startup

    manager = await person("manager@bbi.vn")
    prog = await programme(await organisation("Becamex Business Incubator"))
    await ProgrammeRole.create(programme=prog, user=manager, role=Kind.MANAGER)
    cohort = await Cohort.create(programme=prog, name="2026", starts_on="2026-01-01")
    for name in ("Lumi", "GreenFarm"):
        founder = await person(f"founder@{name.lower()}.vn")
        made = await startup(name, founder)
        await Enrolment.create(cohort=cohort, startup=made, enrolled_on="2026-01-01")
    await cohort.fetch_related("programme")
    await credits.fund(perk_issuer_key(prog), 700_000)  # three perks for two startups, and a bit
    perks = [await Perk.create(programme=prog, name=f"P{i}", amount=100_000) for i in range(10)]

    results = await asyncio.gather(
        *[grant_perk(manager, perk.id, cohort) for perk in perks], return_exceptions=True
    )

    assert sorted(r if isinstance(r, int) else -1 for r in results) == [-1] * 7 + [2] * 3
    assert all(isinstance(r, int | credits.BudgetExceeded) for r in results), results
    for perk in perks:  # never half a cohort
        assert await PerkAward.filter(perk_id=perk.id).count() in (0, 2)
    assert await credits.budget_balance(perk_issuer_key(prog)) == 100_000
    await assert_books_balance()
