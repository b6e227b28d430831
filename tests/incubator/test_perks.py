"""Perks: a programme grants its cohort's startups lab credit (the kernel's credit ledger)."""

from __future__ import annotations

import pytest

from ecosystem.errors import NotPermitted
from ecosystem.payments.models import CreditTransfer
from ecosystem.payments.services import ledger as credits
from incubator.models import Perk, PerkAward
from incubator.services import portfolio
from tests.incubator.conftest import world


async def test_a_perk_credits_each_startup_once(new_browser):
    w = await world()
    await credits.fund(portfolio.perk_issuer_key(w.programme), 4_000_000)
    manager = new_browser(lang="en")
    await manager.login(w.manager.email)
    added = await manager.post(
        f"/incubator/programmes/{w.programme.id}/perks",
        {"name": "FabLab hours", "amount": "2.000.000"},
    )
    assert added.status_code == 303
    perk = await Perk.get(programme_id=w.programme.id)
    assert perk.amount == 2_000_000 and perk.currency == "VND"
    bad = await manager.post(
        f"/incubator/programmes/{w.programme.id}/perks", {"name": "X", "amount": "abc"}
    )
    assert bad.status_code == 422

    for _ in range(2):  # twice: the second grant credits nobody again
        granted = await manager.post(f"/incubator/cohorts/{w.cohort.id}/perks/{perk.id}")
        assert granted.status_code == 303
    assert await credits.balance(organisation=w.startup) == 2_000_000
    assert await credits.balance(organisation=w.other) == 2_000_000
    assert await PerkAward.filter(perk_id=perk.id).count() == 2
    entries = await credits.ledger(organisation=w.startup)
    transfers = await CreditTransfer.filter(id__in=[e.transfer_id for e in entries])
    assert [(t.source, t.reference) for t in transfers] == [
        (f"incubator:programme:{w.programme.id}", f"perk:{perk.id}:{w.startup.id}")
    ]
    assert await credits.budget_balance(portfolio.perk_issuer_key(w.programme)) == 0

    cohort = await __import__("incubator.services.programmes", fromlist=["x"]).get_cohort(
        w.cohort.id
    )
    with pytest.raises(NotPermitted):
        await portfolio.grant_perk(w.founder, perk.id, cohort)
