"""The trust model in the kernel (DESIGN.md §3), tried over HTTP as a newcomer would.

An unverified account creates organisations only as pending drafts that no public page
lists; an invitation reaches only the account that verified the invited address; pending
organisations stay off the partner directory and its API.
"""

from __future__ import annotations

from ecosystem.models import Invitation, Membership, Organisation, User, Verification
from tests.conftest import PASSWORD, make_organisation, person
from tests.ecosystem.test_accounts import mailed_path
from tests.ecosystem.test_memberships import invitation_link, signed_in
from tests.labs.conftest import bearer


async def test_a_newcomers_organisation_is_a_pending_draft_off_every_public_list(
    client, new_browser
):
    browser = new_browser(lang="en")
    registered = await browser.post(
        "/register", {"email": "newcomer@example.org", "full_name": "New", "password": PASSWORD}
    )
    assert registered.status_code == 303
    browser.csrf_token = ""  # a new session gets a new token
    newcomer = await User.get(email="newcomer@example.org")
    assert newcomer.email_verified_at is None

    created = await browser.post(
        "/organisations/new",
        {"name": "Shell Startup", "spheres": "startup", "email_domains": "shell.example"},
    )
    assert created.status_code == 303
    shell = await Organisation.get(name="Shell Startup")
    assert shell.verification == Verification.PENDING
    # Its owner sees and edits the draft.
    assert (await browser.get(f"/organisations/{shell.slug}")).status_code == 200
    edited = await browser.post(
        f"/organisations/{shell.slug}/edit", {"name": "Shell Startup JSC", "spheres": "startup"}
    )
    assert edited.status_code == 303
    # ... but gives nobody a role in it while unverified.
    invited = await browser.post(
        f"/organisations/{shell.slug}/invitations", {"email": "friend@example.org", "role": "admin"}
    )
    assert invited.status_code == 403
    assert not await Invitation.exists(organisation_id=shell.id)

    # Nowhere public: the directory, its API, the profile page.
    verified_org = await make_organisation(await person("owner@eiu.edu.vn"), "EIU")
    anonymous = new_browser(lang="en")
    directory = await anonymous.get("/organisations")
    assert "EIU" in directory.text and "Shell Startup" not in directory.text
    assert "Shell Startup" not in (await anonymous.get("/organisations?q=shell")).text
    assert (await anonymous.get(f"/organisations/{shell.slug}")).status_code == 404
    stranger = await signed_in(new_browser, await person("stranger@example.org"))
    assert (await stranger.get(f"/organisations/{shell.slug}")).status_code == 404
    headers = await bearer(await User.get(email="stranger@example.org"))
    listed = (await client.get("/api/v1/organisations", headers=headers)).json()["items"]
    slugs = [item["slug"] for item in listed]
    assert verified_org.slug in slugs and shell.slug not in slugs
    one = await client.get(f"/api/v1/organisations/{shell.slug}", headers=headers)
    assert one.status_code == 404
    mine = await client.get(f"/api/v1/organisations/{shell.slug}", headers=await bearer(newcomer))
    assert mine.status_code == 200 and mine.json()["verification"] == "pending"

    # Verification by a platform admin publishes it.
    admin = await signed_in(new_browser, await person("root@binhduong.gov.vn", admin=True))
    await admin.post(f"/admin/organisations/{shell.id}/verification", {"state": "verified"})
    assert "Shell Startup" in (await anonymous.get("/organisations")).text


async def test_an_impostor_cannot_accept_an_organisation_invitation(new_browser):
    owner = await person("director@vnpt.vn")
    company = await make_organisation(owner, "VNPT")
    owner_session = await signed_in(new_browser, owner)
    sent = await owner_session.post(
        f"/organisations/{company.slug}/invitations", {"email": "ceo@vnpt.vn", "role": "admin"}
    )
    assert sent.status_code == 303
    link = await invitation_link("ceo@vnpt.vn")

    # Someone registers the invited address (never verifies it) and gets hold of the link.
    impostor_session = new_browser(lang="en")
    await impostor_session.post(
        "/register", {"email": "ceo@vnpt.vn", "full_name": "Not The CEO", "password": PASSWORD}
    )
    impostor_session.csrf_token = ""
    impostor = await User.get(email="ceo@vnpt.vn")
    page = await impostor_session.get(link)
    assert 'action="/verify/resend"' in page.text  # the page says what to do first
    assert f'action="{link}"' not in page.text  # no accept button
    response = await impostor_session.post(link)
    assert response.status_code == 403
    # (a new account reads Vietnamese, the default language)
    assert "Hãy xác minh địa chỉ e-mail ceo@vnpt.vn trước" in response.text
    assert not await Membership.exists(user_id=impostor.id)
    await impostor.refresh_from_db()
    assert impostor.email_verified_at is None
    invitation = await Invitation.get(email="ceo@vnpt.vn")
    assert invitation.accepted_at is None  # still waiting for the owner of the mailbox

    # Only the mailbox's owner can verify the address; then the invitation takes effect.
    verify = await mailed_path("ceo@vnpt.vn", "/verify")
    assert (await impostor_session.get(verify)).status_code == 303
    assert (await impostor_session.post(link)).status_code == 303
    assert await Membership.exists(user_id=impostor.id, organisation_id=company.id)
