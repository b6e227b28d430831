"""Memberships over HTTP: invitations by email, join requests by email domain, role
changes, removals and leaving, and the organisation switcher in the page header."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from tortoise import timezone

from ecosystem import jobs
from ecosystem.models import (
    AuditEvent,
    Invitation,
    Membership,
    MembershipStatus,
    OutboxMessage,
    Role,
    User,
)
from tests.conftest import add_member, make_organisation, person
from tests.ecosystem.test_accounts import mailed_path


async def signed_in(new_browser, user: User):
    session = new_browser()
    await session.login(user.email)
    return session


async def invitation_link(email: str) -> str:
    """The path of the last invitation link mailed to `email`, once the mail job ran."""
    await jobs.drain()
    message = await OutboxMessage.filter(to=email).order_by("-id").first()
    assert message is not None, f"no mail to {email}"
    assert message.status == "logged"
    match = re.search(r"http://testserver(/invitations/[A-Za-z0-9_-]+)", message.text_body)
    assert match, message.text_body
    assert match.group(1) in message.html_body
    return match.group(1)


async def membership_of(user: User, organisation) -> Membership | None:
    return await Membership.get_or_none(user_id=user.id, organisation_id=organisation.id)


async def act(session, organisation, membership: Membership, action: str, role: str = ""):
    data = {"action": action, **({"role": role} if role else {})}
    return await session.post(f"/organisations/{organisation.slug}/members/{membership.id}", data)


def switcher(html: str) -> str:
    match = re.search(r'<details class="switcher">(.*?)</details>', html, re.S)
    return match.group(1) if match else ""


# --- invitations ------------------------------------------------------------------------------


async def test_an_invitation_is_mailed_and_accepted_once(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner, "Eastern International University")
    owner_session = await signed_in(new_browser, owner)

    response = await owner_session.post(
        f"/organisations/{eiu.slug}/invitations", {"email": "Minh@Becamex.com.vn", "role": "admin"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/organisations/{eiu.slug}/members"
    link = await invitation_link("minh@becamex.com.vn")
    mail = await OutboxMessage.get(to="minh@becamex.com.vn")
    assert "Eastern International University" in mail.subject
    members_page = await owner_session.get(f"/organisations/{eiu.slug}/members")
    assert "minh@becamex.com.vn" in members_page.text  # listed as an open invitation

    # The invitee has (or makes) an account, opens the link, signs in and accepts.
    minh = await person("minh@becamex.com.vn", verified=False)
    anonymous = new_browser()
    anonymous.http.cookies.set("lang", "en")
    page = await anonymous.get(link)
    assert page.status_code == 200
    assert "Sign in or create an account with minh@becamex.com.vn" in page.text
    minh_session = await signed_in(new_browser, minh)
    page = await minh_session.get(link)
    assert page.status_code == 200
    assert "Join Eastern International University" in page.text
    # Not verified yet: refused with the way forward, nothing written, the link still valid.
    response = await minh_session.post(link)
    assert response.status_code == 403
    assert "Verify your e-mail address minh@becamex.com.vn first" in response.text
    assert await membership_of(minh, eiu) is None
    await minh.refresh_from_db()
    assert minh.email_verified_at is None  # holding the invitation proves nothing
    # Minh verifies the address (the link mailed on request), then accepts.
    await minh_session.post("/verify/resend")
    assert (await minh_session.get(await mailed_path(minh.email, "/verify"))).status_code == 303
    response = await minh_session.post(link)
    assert response.status_code == 303
    assert response.headers["location"] == f"/organisations/{eiu.slug}"
    membership = await membership_of(minh, eiu)
    assert membership is not None
    assert (membership.role, membership.status) == (Role.ADMIN, MembershipStatus.ACTIVE)
    assert await AuditEvent.filter(action="invitation.accepted", actor_id=minh.id).count() == 1

    # Used once: the link is dead now, for everybody.
    assert (await minh_session.post(link)).status_code == 409
    assert (await minh_session.get(link)).status_code == 409
    members_page = await owner_session.get(f"/organisations/{eiu.slug}/members")
    assert "Open invitations" not in members_page.text


async def test_an_expired_invitation_is_refused(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner)
    owner_session = await signed_in(new_browser, owner)
    await owner_session.post(f"/organisations/{eiu.slug}/invitations", {"email": "an@tdmu.edu.vn"})
    link = await invitation_link("an@tdmu.edu.vn")
    await Invitation.filter(email="an@tdmu.edu.vn").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    an = await person("an@tdmu.edu.vn")
    session = await signed_in(new_browser, an)

    response = await session.post(link)

    assert response.status_code == 422
    assert "This invitation has expired" in response.text
    assert (await session.get(link)).status_code == 422
    assert await membership_of(an, eiu) is None


async def test_only_the_addressee_may_accept(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner)
    owner_session = await signed_in(new_browser, owner)
    await owner_session.post(f"/organisations/{eiu.slug}/invitations", {"email": "an@tdmu.edu.vn"})
    link = await invitation_link("an@tdmu.edu.vn")
    intruder = await person("binh@tdmu.edu.vn")
    an = await person("an@tdmu.edu.vn")

    intruder_session = await signed_in(new_browser, intruder)
    page = await intruder_session.get(link)
    assert "You are signed in as binh@tdmu.edu.vn" in page.text
    assert "Accept the invitation" not in page.text
    response = await intruder_session.post(link)

    assert response.status_code == 403
    assert "This invitation was sent to an@tdmu.edu.vn" in response.text
    assert await membership_of(intruder, eiu) is None
    # Still unused: the right person can accept it.
    an_session = await signed_in(new_browser, an)
    assert (await an_session.post(link)).status_code == 303
    assert (await membership_of(an, eiu)).role == Role.MEMBER


async def test_anonymous_acceptance_goes_through_sign_in(browser, new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner)
    owner_session = await signed_in(new_browser, owner)
    await owner_session.post(f"/organisations/{eiu.slug}/invitations", {"email": "an@tdmu.edu.vn"})
    link = await invitation_link("an@tdmu.edu.vn")

    response = await browser.post(link)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/invitations/")
    assert await Invitation.filter(accepted_at__isnull=False).count() == 0


async def test_two_simultaneous_accepts_make_one_membership(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner)
    owner_session = await signed_in(new_browser, owner)
    await owner_session.post(
        f"/organisations/{eiu.slug}/invitations", {"email": "an@tdmu.edu.vn", "role": "admin"}
    )
    link = await invitation_link("an@tdmu.edu.vn")
    an = await person("an@tdmu.edu.vn")
    phone, laptop = await signed_in(new_browser, an), await signed_in(new_browser, an)
    await phone.ensure_token()
    await laptop.ensure_token()

    responses = await asyncio.gather(phone.post(link), laptop.post(link))

    assert sorted(r.status_code for r in responses) == [303, 409]
    assert await Membership.filter(user_id=an.id, organisation_id=eiu.id).count() == 1
    assert (await membership_of(an, eiu)).role == Role.ADMIN
    assert await AuditEvent.filter(action="invitation.accepted").count() == 1


async def test_nobody_invites_above_their_own_role(new_browser):
    owner = await person("owner@eiu.edu.vn")
    admin = await person("admin@eiu.edu.vn")
    eiu = await make_organisation(owner)
    await add_member(admin, eiu, "admin")
    admin_session = await signed_in(new_browser, admin)

    response = await admin_session.post(
        f"/organisations/{eiu.slug}/invitations", {"email": "boss@eiu.edu.vn", "role": "owner"}
    )

    assert response.status_code == 403
    assert "You cannot invite someone with a role above your own." in response.text
    assert await Invitation.all().count() == 0
    await jobs.drain()
    assert await OutboxMessage.all().count() == 0
    # An admin may invite admins and members; an owner may invite owners.
    for email, role in (("a2@eiu.edu.vn", "admin"), ("m2@eiu.edu.vn", "member")):
        response = await admin_session.post(
            f"/organisations/{eiu.slug}/invitations", {"email": email, "role": role}
        )
        assert response.status_code == 303
    owner_session = await signed_in(new_browser, owner)
    response = await owner_session.post(
        f"/organisations/{eiu.slug}/invitations", {"email": "boss@eiu.edu.vn", "role": "owner"}
    )
    assert response.status_code == 303
    assert sorted(await Invitation.all().values_list("role", flat=True)) == [
        "admin",
        "member",
        "owner",
    ]


async def test_an_invitation_cannot_outrank_an_inviter_demoted_since(new_browser):
    owner = await person("owner@eiu.edu.vn")
    admin = await person("admin@eiu.edu.vn")
    eiu = await make_organisation(owner)
    admin_membership = await add_member(admin, eiu, "admin")
    admin_session = await signed_in(new_browser, admin)
    await admin_session.post(
        f"/organisations/{eiu.slug}/invitations", {"email": "an@tdmu.edu.vn", "role": "admin"}
    )
    link = await invitation_link("an@tdmu.edu.vn")
    owner_session = await signed_in(new_browser, owner)
    assert (await act(owner_session, eiu, admin_membership, "role", "member")).status_code == 303
    an = await person("an@tdmu.edu.vn")
    an_session = await signed_in(new_browser, an)

    response = await an_session.post(link)

    assert response.status_code == 409
    assert await membership_of(an, eiu) is None


async def test_inviting_a_member_again_is_refused_next_to_the_email(new_browser):
    owner = await person("owner@eiu.edu.vn")
    member = await person("member@eiu.edu.vn")
    eiu = await make_organisation(owner)
    await add_member(member, eiu)
    session = await signed_in(new_browser, owner)

    response = await session.post(
        f"/organisations/{eiu.slug}/invitations", {"email": "MEMBER@eiu.edu.vn"}
    )

    assert response.status_code == 422
    assert '<p class="error" id="e-email">This person is already a member.</p>' in response.text
    response = await session.post(f"/organisations/{eiu.slug}/invitations", {"email": "nope"})
    assert response.status_code == 422
    assert '<p class="error" id="e-email">Enter a valid email address.</p>' in response.text
    assert await Invitation.all().count() == 0


async def test_a_withdrawn_invitation_no_longer_works(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner)
    session = await signed_in(new_browser, owner)
    await session.post(f"/organisations/{eiu.slug}/invitations", {"email": "an@tdmu.edu.vn"})
    link = await invitation_link("an@tdmu.edu.vn")
    invitation = await Invitation.get(email="an@tdmu.edu.vn")

    response = await session.post(
        f"/organisations/{eiu.slug}/invitations/{invitation.id}/revoke", {}
    )

    assert response.status_code == 303
    an = await person("an@tdmu.edu.vn")
    an_session = await signed_in(new_browser, an)
    assert (await an_session.post(link)).status_code == 404
    assert await membership_of(an, eiu) is None
    assert await AuditEvent.filter(action="invitation.revoked").count() == 1


# --- roles, removal, leaving ----------------------------------------------------------------


async def test_admins_manage_members_but_never_owners(new_browser):
    owner = await person("owner@eiu.edu.vn")
    admin = await person("admin@eiu.edu.vn")
    other_admin = await person("admin2@eiu.edu.vn")
    member = await person("member@eiu.edu.vn")
    eiu = await make_organisation(owner)
    owner_membership = await membership_of(owner, eiu)
    await add_member(admin, eiu, "admin")
    other_admin_membership = await add_member(other_admin, eiu, "admin")
    member_membership = await add_member(member, eiu, "member")
    session = await signed_in(new_browser, admin)

    # Refused: promoting to owner, demoting or removing the owner.
    assert (await act(session, eiu, member_membership, "role", "owner")).status_code == 403
    assert (await act(session, eiu, owner_membership, "role", "member")).status_code == 403
    assert (await act(session, eiu, owner_membership, "remove")).status_code == 403
    await owner_membership.refresh_from_db()
    assert (owner_membership.role, owner_membership.status) == (Role.OWNER, "active")
    await member_membership.refresh_from_db()
    assert member_membership.role == Role.MEMBER

    # Allowed: promote a member to admin, demote another admin, remove a member.
    response = await act(session, eiu, member_membership, "role", "admin")
    assert response.status_code == 303
    assert response.headers["location"] == f"/organisations/{eiu.slug}/members"
    await member_membership.refresh_from_db()
    assert member_membership.role == Role.ADMIN
    assert (await act(session, eiu, other_admin_membership, "role", "member")).status_code == 303
    assert (await act(session, eiu, other_admin_membership, "remove")).status_code == 303
    await other_admin_membership.refresh_from_db()
    assert other_admin_membership.status == MembershipStatus.LEFT
    events = await AuditEvent.filter(action="membership.role_changed").order_by("id")
    assert [(e.detail["previous"], e.detail["role"]) for e in events] == [
        ("member", "admin"),
        ("admin", "member"),
    ]
    assert await AuditEvent.filter(action="membership.removed").count() == 1

    # The members page offers no control over the owner's row to an admin.
    page = await session.get(f"/organisations/{eiu.slug}/members")
    assert f"/members/{owner_membership.id}" not in page.text
    assert f"/members/{member_membership.id}" in page.text
    assert 'value="owner"' not in page.text


async def test_a_member_of_another_organisation_cannot_be_touched(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU")
    stranger_owner = await person("owner@vsip.com.vn")
    vsip = await make_organisation(stranger_owner, "VSIP")
    vsip_membership = await membership_of(stranger_owner, vsip)
    session = await signed_in(new_browser, owner)

    assert (await act(session, eiu, vsip_membership, "remove")).status_code == 404
    assert (await act(session, vsip, vsip_membership, "remove")).status_code == 403
    await vsip_membership.refresh_from_db()
    assert vsip_membership.status == MembershipStatus.ACTIVE


async def test_the_last_owner_can_neither_leave_nor_step_down(new_browser):
    owner = await person("owner@eiu.edu.vn")
    deputy = await person("deputy@eiu.edu.vn")
    eiu = await make_organisation(owner)
    owner_membership = await membership_of(owner, eiu)
    deputy_membership = await add_member(deputy, eiu, "admin")
    session = await signed_in(new_browser, owner)

    response = await act(session, eiu, owner_membership, "role", "admin")
    assert response.status_code == 409
    assert "An organisation needs at least one owner" in response.text
    assert (await act(session, eiu, owner_membership, "remove")).status_code == 409
    await owner_membership.refresh_from_db()
    assert (owner_membership.role, owner_membership.status) == (Role.OWNER, "active")

    # With a second owner, the first may step down and then leave.
    assert (await act(session, eiu, deputy_membership, "role", "owner")).status_code == 303
    assert (await act(session, eiu, owner_membership, "role", "admin")).status_code == 303
    response = await act(session, eiu, owner_membership, "remove")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    await owner_membership.refresh_from_db()
    assert owner_membership.status == MembershipStatus.LEFT
    # The remaining (last) owner is held in place in turn.
    deputy_session = await signed_in(new_browser, deputy)
    assert (await act(deputy_session, eiu, deputy_membership, "remove")).status_code == 409


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(new_browser):
    first = await person("first@eiu.edu.vn")
    second = await person("second@eiu.edu.vn")
    eiu = await make_organisation(first)
    first_membership = await membership_of(first, eiu)
    second_membership = await add_member(second, eiu, "owner")
    first_session = await signed_in(new_browser, first)
    second_session = await signed_in(new_browser, second)
    await first_session.ensure_token()
    await second_session.ensure_token()

    responses = await asyncio.gather(
        act(first_session, eiu, second_membership, "role", "admin"),
        act(second_session, eiu, first_membership, "role", "admin"),
    )

    # Whoever came second is no longer an owner and may not touch one.
    assert sorted(r.status_code for r in responses) == [303, 403]
    owners = await Membership.filter(organisation_id=eiu.id, role=Role.OWNER).count()
    assert owners == 1


async def test_a_member_can_leave(new_browser):
    owner = await person("owner@eiu.edu.vn")
    member = await person("member@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU")
    membership = await add_member(member, eiu)
    session = await signed_in(new_browser, member)
    page = await session.get(f"/organisations/{eiu.slug}/members")
    assert page.status_code == 200
    assert "Leave this organisation" in page.text

    response = await act(session, eiu, membership, "remove")

    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    await membership.refresh_from_db()
    assert membership.status == MembershipStatus.LEFT
    assert await AuditEvent.filter(action="membership.left", actor_id=member.id).count() == 1
    account = await session.get("/account")
    assert "You have left EIU." in account.text
    assert "EIU" not in switcher(account.text)
    assert (await session.get(f"/organisations/{eiu.slug}/members")).status_code == 403
    assert (await act(session, eiu, membership, "remove")).status_code == 409  # already left


# --- join requests by email domain ----------------------------------------------------------


async def test_a_colleague_asks_to_join_and_an_admin_accepts(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU", domains=("eiu.edu.vn",))
    lan = await person("lan@eiu.edu.vn")
    session = await signed_in(new_browser, lan)
    account = await session.get("/account")
    assert f'action="/organisations/{eiu.slug}/join"' in account.text
    profile = await session.get(f"/organisations/{eiu.slug}")
    assert "Ask to join" in profile.text

    response = await session.post(f"/organisations/{eiu.slug}/join", {})

    assert response.status_code == 303
    membership = await membership_of(lan, eiu)
    assert membership.status == MembershipStatus.REQUESTED
    assert (await session.post(f"/organisations/{eiu.slug}/join", {})).status_code == 409
    account = await session.get("/account")
    assert f'action="/organisations/{eiu.slug}/join"' not in account.text
    assert "EIU" not in switcher(account.text)  # a request is not a membership

    owner_session = await signed_in(new_browser, owner)
    page = await owner_session.get(f"/organisations/{eiu.slug}/members")
    assert "lan@eiu.edu.vn" in page.text and "Requested to join" in page.text
    response = await act(owner_session, eiu, membership, "accept")
    assert response.status_code == 303
    await membership.refresh_from_db()
    assert (membership.status, membership.role) == (MembershipStatus.ACTIVE, Role.MEMBER)
    assert (await act(owner_session, eiu, membership, "accept")).status_code == 409
    assert "EIU" in switcher((await session.get("/account")).text)
    actions = await AuditEvent.filter(target_type="membership").values_list("action", flat=True)
    assert {"membership.requested", "membership.request_accepted"} <= set(actions)


async def test_an_admin_refuses_a_join_request(new_browser):
    owner = await person("owner@eiu.edu.vn")
    admin = await person("admin@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU", domains=("eiu.edu.vn",))
    await add_member(admin, eiu, "admin")
    lan = await person("lan@eiu.edu.vn")
    session = await signed_in(new_browser, lan)
    await session.post(f"/organisations/{eiu.slug}/join", {})
    membership = await membership_of(lan, eiu)
    admin_session = await signed_in(new_browser, admin)

    response = await act(admin_session, eiu, membership, "refuse")

    assert response.status_code == 303
    await membership.refresh_from_db()
    assert membership.status == MembershipStatus.LEFT
    assert (await session.get(f"/organisations/{eiu.slug}/members")).status_code == 403
    assert await AuditEvent.filter(action="membership.request_refused").count() == 1


async def test_join_requests_need_a_verified_address_of_the_domain(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU", domains=("eiu.edu.vn",))
    pending = await make_organisation(
        owner, "Pending Lab", domains=("lab.eiu.edu.vn",), verified=False
    )
    outsider = await person("lan@tdmu.edu.vn")
    unverified = await person("binh@eiu.edu.vn", verified=False)
    lab_person = await person("chi@lab.eiu.edu.vn")

    session = await signed_in(new_browser, outsider)
    response = await session.post(f"/organisations/{eiu.slug}/join", {})
    assert response.status_code == 403
    assert "Your email domain does not belong to this organisation." in response.text

    session = await signed_in(new_browser, unverified)
    assert f"/organisations/{eiu.slug}/join" not in (await session.get("/account")).text
    response = await session.post(f"/organisations/{eiu.slug}/join", {})
    assert response.status_code == 403
    assert "Verify your email address first" in response.text

    # An organisation not verified yet takes no requests (members invite instead).
    session = await signed_in(new_browser, lab_person)
    assert (await session.post(f"/organisations/{pending.slug}/join", {})).status_code == 404

    assert await Membership.filter(status=MembershipStatus.REQUESTED).count() == 0


# --- the organisation switcher -----------------------------------------------------------------


async def test_the_switcher_lists_every_active_membership(new_browser):
    founder = await person("founder@example.vn")
    eiu = await make_organisation(founder, "Eastern International University")
    becamex = await make_organisation(founder, "Becamex IDC", spheres=("enterprise",))
    tdmu = await make_organisation(founder, "Thu Dau Mot University", domains=("tdmu.edu.vn",))
    vsip = await make_organisation(founder, "VSIP", spheres=("enterprise",))
    stranger = await make_organisation(founder, "Stranger Fund", spheres=("investor",))
    lan = await person("lan@tdmu.edu.vn")
    await add_member(lan, eiu, "member")
    await add_member(lan, becamex, "admin")
    await Membership.create(
        user_id=lan.id, organisation_id=tdmu.id, status=MembershipStatus.REQUESTED
    )
    await Membership.create(user_id=lan.id, organisation_id=vsip.id, status=MembershipStatus.LEFT)
    session = await signed_in(new_browser, lan)

    header = switcher((await session.get("/account")).text)

    assert "Eastern International University" in header
    assert "Becamex IDC" in header
    for absent in ("Thu Dau Mot University", "VSIP", "Stranger Fund"):
        assert absent not in header
    offered = re.findall(r'name="organisation_id" value="(\d+)"', header)
    assert sorted(map(int, offered)) == sorted([eiu.id, becamex.id])

    for refused in (tdmu, vsip, stranger):
        response = await session.post("/account/organisation", {"organisation_id": refused.id})
        assert response.status_code == 403
    response = await session.post(
        "/account/organisation", {"organisation_id": str(eiu.id), "next": "/organisations"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/organisations"
    header = switcher((await session.get("/organisations")).text)
    current = re.search(r'class="switch-option current"[^>]*>\s*([^<]+?)\s*<', header)
    assert current and current.group(1) == "Eastern International University"
    assert "<summary>Eastern International University</summary>" in header


async def test_anonymous_cannot_switch(browser):
    response = await browser.post("/account/organisation", {"organisation_id": "1"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
