"""Credit is issued only out of a funded budget, by verified people of verified organisations,
to verified accounts and organisations; platform admins fund budgets, audited (HTTP level).

The newcomer's chain of issue 12: a perk of 10,000,000,000 VND is refused, and so is any perk
or grant past what the platform admins put into the issuer's budget.
"""

from __future__ import annotations

from ecosystem.models import AuditEvent, Organisation, Verification
from ecosystem.payments.models import AccountKind, CreditAccount, CreditTransfer
from ecosystem.payments.services import ledger as credits
from incubator.models import Cohort, Enrolment, Perk, PerkAward, ProgrammeRole, ProgrammeRoleKind
from incubator.services.portfolio import perk_issuer_key
from labs.models import LabStaff
from labs.services.payments import issuer_key
from tests.conftest import person
from tests.incubator.conftest import organisation, programme, startup
from tests.labs.conftest import make_host, make_lab


async def managed_programme(manager, host_verified: bool = True, name: str = "Becamex BI"):
    host = await organisation(name)
    if not host_verified:
        await Organisation.filter(id=host.id).update(verification=Verification.PENDING)
    prog = await programme(host, name=f"{name} programme")
    await ProgrammeRole.create(programme=prog, user=manager, role=ProgrammeRoleKind.MANAGER)
    return prog


async def staffed_lab(staff, host_verified: bool = True):
    host = await make_host()
    if not host_verified:
        await Organisation.filter(id=host.id).update(verification=Verification.PENDING)
    lab = await make_lab(host)
    await LabStaff.create(lab=lab, user=staff)
    return lab


def grant_form(recipient: str, amount: str = "200.000", nonce: str = "n1") -> dict:
    return {
        "action": "grant",
        "recipient": recipient,
        "amount": amount,
        "reason": "Hackathon prize",
        "nonce": nonce,
    }


async def ledger_is_untouched() -> None:
    holders = CreditAccount.filter(kind__in=[AccountKind.USER, AccountKind.ORGANISATION])
    assert not await holders.filter(balance__gt=0).exists()
    assert not await CreditTransfer.filter(kind="grant").exists()


# --- perks -------------------------------------------------------------------------------------


async def test_a_perk_of_ten_billion_dong_is_refused_and_so_is_one_past_the_budget(new_browser):
    manager = await person("manager@bbi.vn")
    prog = await managed_programme(manager)
    browser = new_browser(lang="en")
    await browser.login(manager.email)
    url = f"/incubator/programmes/{prog.id}/perks"

    unfunded = await browser.post(url, {"name": "FabLab hours", "amount": "2.000.000"})
    assert unfunded.status_code == 422 and "budget" in unfunded.text
    await credits.fund(perk_issuer_key(prog), 50_000_000)
    huge = await browser.post(url, {"name": "Everything", "amount": "10.000.000.000"})
    assert huge.status_code == 422
    assert 'value="10.000.000.000"' in huge.text  # the form keeps what was typed
    past = await browser.post(url, {"name": "Too much", "amount": "60.000.000"})
    assert past.status_code == 422 and "50,000,000" in past.text
    assert await Perk.all().count() == 0

    assert (await browser.post(url, {"name": "FabLab hours", "amount": "20.000.000"})).status_code
    assert await Perk.filter(programme_id=prog.id, amount=20_000_000).exists()


async def test_a_cohort_grant_past_the_budget_grants_nothing_until_topped_up(new_browser):
    manager = await person("manager@bbi.vn")
    prog = await managed_programme(manager)
    cohort = await Cohort.create(programme=prog, name="2026", starts_on="2026-01-01")
    lumi = await startup("Lumi Smart Lighting", await person("founder@lumi.vn"))
    green = await startup("GreenFarm IoT", await person("founder@greenfarm.vn"))
    pending = await startup("Shadow Labs", await person("founder@shadow.vn"))
    await Organisation.filter(id=pending.id).update(verification=Verification.PENDING)
    for each in (lumi, green, pending):
        await Enrolment.create(cohort=cohort, startup=each, enrolled_on="2026-01-01")
    await credits.fund(perk_issuer_key(prog), 3_000_000)
    perk = await Perk.create(programme=prog, name="FabLab hours", amount=2_000_000)
    browser = new_browser(lang="en")
    await browser.login(manager.email)

    refused = await browser.post(f"/incubator/cohorts/{cohort.id}/perks/{perk.id}")
    assert refused.status_code == 409 and "3,000,000" in refused.text
    assert await PerkAward.all().count() == 0
    assert await credits.budget_balance(perk_issuer_key(prog)) == 3_000_000
    await ledger_is_untouched()

    await credits.fund(perk_issuer_key(prog), 1_000_000)
    assert (
        await browser.post(f"/incubator/cohorts/{cohort.id}/perks/{perk.id}")
    ).status_code == 303
    assert await credits.balance(organisation=lumi) == 2_000_000
    assert await credits.balance(organisation=green) == 2_000_000
    assert await credits.balance(organisation=pending) == 0  # a pending startup receives nothing
    assert await credits.budget_balance(perk_issuer_key(prog)) == 0


async def test_an_unverified_or_pending_issuer_cannot_create_or_grant_perks(new_browser):
    unverified = await person("newcomer@gmail.com", verified=False)
    prog = await managed_programme(unverified)
    await credits.fund(perk_issuer_key(prog), 50_000_000)
    browser = new_browser(lang="en")
    await browser.login(unverified.email)
    response = await browser.post(
        f"/incubator/programmes/{prog.id}/perks", {"name": "X", "amount": "2.000.000"}
    )
    assert response.status_code in (403, 404)

    manager = await person("manager@pending.vn")
    pending_prog = await managed_programme(manager, host_verified=False, name="Pending host")
    await credits.fund(perk_issuer_key(pending_prog), 50_000_000)
    other = new_browser(lang="en")
    await other.login(manager.email)
    response = await other.post(
        f"/incubator/programmes/{pending_prog.id}/perks", {"name": "X", "amount": "2.000.000"}
    )
    assert response.status_code in (403, 404)
    assert await Perk.all().count() == 0


# --- lab credit grants -------------------------------------------------------------------------


async def test_lab_staff_grant_within_the_lab_budget_only(new_browser):
    staff = await person("staff@becamex.vn")
    lab = await staffed_lab(staff)
    student = await person("lan@eiu.edu.vn")
    browser = new_browser(lang="en")
    await browser.login(staff.email)
    url = f"/labs/{lab.slug}/payments"

    unfunded = await browser.post(url, grant_form(student.email))
    assert unfunded.status_code == 409 and "top it up" in unfunded.text
    await credits.fund(issuer_key(lab.id), 300_000)
    page = await browser.get(url)
    assert "300,000" in page.text  # what is left in the budget is shown
    assert (await browser.post(url, grant_form(student.email))).status_code == 303
    past = await browser.post(url, grant_form(student.email, nonce="n2"))
    assert past.status_code == 409 and "100,000" in past.text
    assert await credits.balance(user=student) == 200_000
    assert await credits.budget_balance(issuer_key(lab.id)) == 100_000


async def test_an_unverified_account_cannot_issue_or_receive_lab_credit(new_browser):
    unverified_staff = await person("staff@becamex.vn", verified=False)
    lab = await staffed_lab(unverified_staff)
    await credits.fund(issuer_key(lab.id), 1_000_000)
    student = await person("lan@eiu.edu.vn")
    browser = new_browser(lang="en")
    await browser.login(unverified_staff.email)
    response = await browser.post(f"/labs/{lab.slug}/payments", grant_form(student.email))
    assert response.status_code in (403, 404)

    staff = await person("staff2@becamex.vn")
    await LabStaff.create(lab=lab, user=staff)
    impostor = await person("owner@eiu.edu.vn", verified=False)  # registered, never verified
    other = new_browser(lang="en")
    await other.login(staff.email)
    response = await other.post(f"/labs/{lab.slug}/payments", grant_form(impostor.email))
    assert response.status_code == 422
    assert 'value="owner@eiu.edu.vn"' in response.text
    assert await credits.balance(user=impostor) == 0
    assert await credits.budget_balance(issuer_key(lab.id)) == 1_000_000
    await ledger_is_untouched()


async def test_a_pending_organisation_cannot_issue_or_receive_lab_credit(new_browser):
    staff = await person("staff@pending.vn")
    lab = await staffed_lab(staff, host_verified=False)
    await credits.fund(issuer_key(lab.id), 1_000_000)
    student = await person("lan@eiu.edu.vn")
    browser = new_browser(lang="en")
    await browser.login(staff.email)
    response = await browser.post(f"/labs/{lab.slug}/payments", grant_form(student.email))
    assert response.status_code in (403, 404)

    verified_staff = await person("staff@tdmu.edu.vn")
    tdmu = await make_lab(await make_host("TDMU"), name="TDMU ICT FabLab")
    await LabStaff.create(lab=tdmu, user=verified_staff)
    await credits.fund(issuer_key(tdmu.id), 1_000_000)
    shadow = await organisation("Shadow Startup")
    await Organisation.filter(id=shadow.id).update(verification=Verification.PENDING)
    other = new_browser(lang="en")
    await other.login(verified_staff.email)
    response = await other.post(f"/labs/{tdmu.slug}/payments", grant_form("shadow-startup"))
    assert response.status_code == 422
    assert await credits.balance(organisation=shadow) == 0
    await ledger_is_untouched()


# --- funding budgets ---------------------------------------------------------------------------


async def test_an_admin_tops_up_and_sets_budgets_and_both_are_audited(new_browser):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    lab = await make_lab()
    prog = await managed_programme(await person("manager@bbi.vn"))
    browser = new_browser(lang="en")
    await browser.login(admin.email)
    page = await browser.get("/admin/budgets")
    assert page.status_code == 200 and lab.name in page.text and prog.name in page.text

    key = issuer_key(lab.id)
    topped = await browser.post(
        "/admin/budgets",
        {"issuer": key, "amount": "5.000.000", "reason": "2027 plan", "action": "top_up"},
    )
    assert topped.status_code == 303
    assert await credits.budget_balance(key) == 5_000_000
    funded = await AuditEvent.get(action="credits.budget_funded")
    assert funded.actor_id == admin.id  # type: ignore[attr-defined]
    assert funded.detail == {"issuer": key, "amount": 5_000_000}

    lowered = await browser.post(
        "/admin/budgets", {"issuer": key, "amount": "2.000.000", "action": "set"}
    )
    assert lowered.status_code == 303
    assert await credits.budget_balance(key) == 2_000_000
    changed = await AuditEvent.get(action="credits.budget_set")
    assert changed.detail == {"issuer": key, "before": 5_000_000, "after": 2_000_000}
    funding = await CreditAccount.get(kind=AccountKind.FUNDING)
    assert funding.balance == -2_000_000  # what is in budgets came from the funding account

    bad = await browser.post("/admin/budgets", {"issuer": key, "amount": "lots", "action": "set"})
    assert bad.status_code == 422 and 'value="lots"' in bad.text
    unknown = await browser.post(
        "/admin/budgets", {"issuer": "labs.lab:999999", "amount": "1000", "action": "top_up"}
    )
    assert unknown.status_code == 422
    assert await AuditEvent.filter(action__startswith="credits.").count() == 2


async def test_only_a_verified_platform_admin_may_fund_a_budget(new_browser):
    staff = await person("staff@becamex.vn")
    lab = await staffed_lab(staff)
    unverified_admin = await person("admin2@binhduong.gov.vn", admin=True, verified=False)
    form = {"issuer": issuer_key(lab.id), "amount": "10.000.000.000", "action": "top_up"}
    for who in (staff, unverified_admin):
        browser = new_browser(lang="en")
        await browser.login(who.email)
        assert (await browser.get("/admin/budgets")).status_code == 403
        assert (await browser.post("/admin/budgets", form)).status_code == 403
    assert await credits.budget_balance(issuer_key(lab.id)) == 0
    assert not await AuditEvent.filter(action__startswith="credits.").exists()
    assert not await CreditTransfer.exists()
