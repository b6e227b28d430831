"""The trust model on contests (DESIGN.md §3), as a newcomer would try it over HTTP.

An unverified account hosts no contest, a pending organisation's contest is a draft that the
public never sees, a judge or organiser named by e-mail is only the account that verified
that address, and a team invitation is accepted only by the verified addressee.
"""

from __future__ import annotations

from tortoise import timezone

from ecosystem.models import Organisation, User, Verification
from hackathon.models import Contest, ContestRole, ContestRoleKind, MemberStatus, TeamMember
from tests.conftest import add_member, person
from tests.hackathon.conftest import bearer, make_contest, make_org

CONTEST = {
    "slug": "draft-contest",
    "title": "Draft contest of a pending organisation",
    "registration_closes_at": "2030-01-01T00:00:00Z",
    "submission_closes_at": "2030-01-02T00:00:00Z",
    "judging_closes_at": "2030-01-03T00:00:00Z",
    "sites": [{"code": "vn", "name": "VN"}],
    "tracks": [{"code": "t", "name": "T"}],
}


async def verify(user: User) -> None:
    await User.filter(id=user.id).update(email_verified_at=timezone.now())


async def test_newcomer_pending_organisation_contest_chain(client, new_browser):
    # A newcomer registers (unverified) and creates an organisation: a pending draft.
    newcomer = await person("newcomer@example.org", verified=False)
    browser = new_browser(lang="en")
    await browser.login(newcomer.email)
    created = await browser.post("/organisations/new", {"name": "Shell Co", "spheres": "startup"})
    assert created.status_code == 303
    shell = await Organisation.get(name="Shell Co")
    assert shell.verification == Verification.PENDING
    body = {**CONTEST, "organisation_id": shell.id}

    # Unverified: no contest, whatever the organisation.
    refused = await client.post("/api/v1/contests", json=body, headers=await bearer(newcomer))
    assert refused.status_code == 403
    assert "Verify your e-mail address first" in refused.json()["error"]["message"]
    assert not await Contest.exists(slug="draft-contest")

    # Verified, the pending organisation prepares a draft that only its people see.
    await verify(newcomer)
    draft = await client.post("/api/v1/contests", json=body, headers=await bearer(newcomer))
    assert draft.status_code == 201, draft.text
    stranger = await person("stranger@example.org")
    member = await person("member@example.org")
    await add_member(member, shell, "member")
    anonymous = new_browser(lang="en")
    outsider = new_browser(lang="en")
    await outsider.login(stranger.email)
    for who in (anonymous, outsider):
        assert (await who.get("/contests/draft-contest")).status_code == 404
        assert "Draft contest of a pending organisation" not in (await who.get("/contests")).text
    listed = (await client.get("/api/v1/contests")).json()["items"]
    assert "draft-contest" not in [item["slug"] for item in listed]
    contest_id = draft.json()["id"]
    api_page = await client.get(f"/api/v1/contests/{contest_id}", headers=await bearer(stranger))
    assert api_page.status_code == 404
    insider = new_browser(lang="en")
    await insider.login(member.email)
    assert (await insider.get("/contests/draft-contest")).status_code == 200
    # Nobody outside registers a team in it.
    team = await outsider.post("/contests/draft-contest/team", {"name": "X", "site": "vn"})
    assert team.status_code == 404

    # The platform admin sees what the organisation waits to publish, then verifies it.
    admin = new_browser(lang="en")
    await admin.login((await person("root@binhduong.gov.vn", admin=True)).email)
    overview = await admin.get("/admin")
    assert "Waiting to publish:" in overview.text
    assert "Contest: Draft contest of a pending organisation" in overview.text
    verified = await admin.post(
        f"/admin/organisations/{shell.id}/verification", {"state": "verified"}
    )
    assert verified.status_code == 303
    assert (await anonymous.get("/contests/draft-contest")).status_code == 200
    listed = (await client.get("/api/v1/contests")).json()["items"]
    assert "draft-contest" in [item["slug"] for item in listed]

    # A rejected organisation creates nothing.
    await Organisation.filter(id=shell.id).update(verification=Verification.REJECTED)
    again = await client.post(
        "/api/v1/contests",
        json={**body, "slug": "second-contest"},
        headers=await bearer(newcomer),
    )
    assert again.status_code == 403
    assert not await Contest.exists(slug="second-contest")
    assert (await anonymous.get("/contests/draft-contest")).status_code == 404


async def test_an_unverified_address_named_judge_or_organiser_gets_nothing(new_browser):
    organiser = await person("organiser@example.org")
    office = await make_org()
    await add_member(organiser, office, "admin")
    contest = await make_contest(organiser, organisation_id=office.id)
    impostor = await person("judge@example.org", verified=False)
    browser = new_browser(lang="en")
    await browser.login(organiser.email)

    url = f"/contests/{contest.slug}/manage/judges"
    response = await browser.post(url, {"email": "judge@example.org"})
    assert response.status_code == 303  # back to the page, with the reason
    page = await browser.get(response.headers["location"])
    assert "No account has verified this e-mail address." in page.text
    assert not await ContestRole.exists(contest_id=contest.id, user_id=impostor.id)
    judge_session = new_browser(lang="en")
    await judge_session.login(impostor.email)
    assert (await judge_session.get(f"/contests/{contest.slug}/judge")).status_code in (403, 404)

    # A role row made before the rule (or by hand) gives no power while unverified.
    await ContestRole.create(
        contest_id=contest.id, user_id=impostor.id, role=ContestRoleKind.ORGANISER
    )
    assert (await judge_session.get(f"/contests/{contest.slug}/manage")).status_code == 403
    dashboard = await judge_session.get("/dashboard")
    assert dashboard.status_code == 200
    assert f"/contests/{contest.slug}/manage" not in dashboard.text

    # Once the address is verified, the organiser names the judge again and it takes effect.
    await verify(impostor)
    response = await browser.post(
        f"/contests/{contest.slug}/manage/judges", {"email": "judge@example.org"}
    )
    assert response.status_code == 303
    assert await ContestRole.exists(
        contest_id=contest.id, user_id=impostor.id, role=ContestRoleKind.JUDGE, active=True
    )


async def test_an_impostor_cannot_accept_a_team_invitation(new_browser):
    contest = await make_contest()
    lead = await person("lead@eiu.edu.vn")
    browser = new_browser(lang="en")
    await browser.login(lead.email)
    team = await browser.post(
        f"/contests/{contest.slug}/team", {"name": "Sao Mai", "site": "vn", "track": "tourism"}
    )
    assert team.status_code == 303
    await browser.post(f"/contests/{contest.slug}/team/invite", {"email": "friend@eiu.edu.vn"})
    invitation = await TeamMember.get(email="friend@eiu.edu.vn")

    # Someone registered the invited address but never verified it.
    impostor = await person("friend@eiu.edu.vn", verified=False)
    other = new_browser(lang="en")
    await other.login(impostor.email)
    url = f"/contests/{contest.slug}/invitations/{invitation.id}/accept"
    response = await other.post(url)
    assert response.status_code == 403
    assert "Verify your e-mail address friend@eiu.edu.vn first" in response.text
    await invitation.refresh_from_db()
    assert invitation.status == MemberStatus.INVITED and invitation.user_id is None

    # Unverified accounts register no team and cast no vote either.
    entry = await other.post(
        f"/contests/{contest.slug}/team", {"name": "Other", "site": "vn", "track": "tourism"}
    )
    assert entry.status_code == 403

    # The owner of the address verifies it: now the invitation is theirs to accept.
    await verify(impostor)
    assert (await other.post(url)).status_code == 303
    await invitation.refresh_from_db()
    assert invitation.status == MemberStatus.ACTIVE and invitation.user_id == impostor.id
