"""Platform administration over HTTP: verifying and rejecting organisations, deactivating
users, the audit log of security-relevant actions, the users list and the mail outbox."""

from __future__ import annotations

import re

from ecosystem import jobs
from ecosystem.models import AuditEvent, Organisation, OutboxMessage, User, Verification
from tests.conftest import PASSWORD, add_member, api_token, make_organisation, person


async def signed_in(new_browser, user: User):
    session = new_browser()
    await session.login(user.email)
    return session


def audit_actions(html: str) -> list[str]:
    return re.findall(r"<code>([^<]+)</code>", html)


def directory_names(html: str) -> list[str]:
    return re.findall(r'<h2 class="h3"><a href="/organisations/[^"]+">([^<]+)</a></h2>', html)


async def test_a_platform_admin_verifies_and_rejects_organisations(new_browser):
    owner = await person("owner@example.vn")
    lab = await make_organisation(owner, "Becamex FabLab", spheres=("enterprise",), verified=False)
    fake = await make_organisation(owner, "Totally Real Ministry", spheres=("government",))
    fake.verification = Verification.PENDING
    await fake.save(update_fields=["verification"])
    admin = await person("admin@binhduong.gov.vn", admin=True)
    session = await signed_in(new_browser, admin)

    overview = await session.get("/admin")
    assert overview.status_code == 200
    assert "Becamex FabLab" in overview.text and "Totally Real Ministry" in overview.text

    response = await session.post(
        f"/admin/organisations/{lab.id}/verification",
        {"state": "verified", "note": "Business registration checked"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/admin"
    await lab.refresh_from_db()
    assert lab.verification == Verification.VERIFIED
    assert lab.verification_note == "Business registration checked"
    overview = await session.get("/admin")
    assert "Becamex FabLab: Verified." in overview.text  # the flash
    assert f"/admin/organisations/{lab.id}/" not in overview.text

    response = await session.post(
        f"/admin/organisations/{fake.id}/verification",
        {"state": "rejected", "note": "No ministry of that name exists."},
    )
    assert response.status_code == 303
    await fake.refresh_from_db()
    assert fake.verification == Verification.REJECTED
    owner_session = await signed_in(new_browser, owner)  # the owner learns why
    profile = await owner_session.get(f"/organisations/{fake.slug}")
    assert "Note from the platform administrators: No ministry of that name exists." in profile.text

    overview = await session.get("/admin")
    assert f"/admin/organisations/{fake.id}/" not in overview.text
    assert "Totally Real Ministry: Rejected." in overview.text
    assert "Nothing is waiting." in overview.text
    visitor = new_browser()
    assert directory_names((await visitor.get("/organisations")).text) == ["Becamex FabLab"]
    assert (await visitor.get(f"/organisations/{fake.slug}")).status_code == 404

    events = await AuditEvent.filter(action="organisation.verification_changed").order_by("id")
    assert [(e.target_id, e.detail["previous"], e.detail["state"]) for e in events] == [
        (str(lab.id), "pending", "verified"),
        (str(fake.id), "pending", "rejected"),
    ]
    assert all(e.actor_id == admin.id for e in events)
    log = await session.get("/admin/audit?action=organisation.verification_changed")
    assert audit_actions(log.text) == ["organisation.verification_changed"] * 2
    assert f"organisation {fake.id}" in log.text and "state=rejected" in log.text


async def test_verification_refuses_states_an_admin_cannot_set(new_browser):
    owner = await person("owner@example.vn")
    lab = await make_organisation(owner, "Becamex FabLab", verified=False)
    admin = await person("admin@binhduong.gov.vn", admin=True)
    session = await signed_in(new_browser, admin)

    for state in ("unverified", "approved", ""):
        response = await session.post(
            f"/admin/organisations/{lab.id}/verification", {"state": state}
        )
        assert response.status_code == 422, state
    response = await session.post("/admin/organisations/999999/verification", {"state": "verified"})
    assert response.status_code == 404
    await lab.refresh_from_db()
    assert lab.verification == Verification.PENDING
    assert not await AuditEvent.filter(action="organisation.verification_changed").exists()


async def test_a_deactivated_user_is_locked_out_everywhere(client, new_browser):
    lan = await person("lan@eiu.edu.vn")
    lan_session = await signed_in(new_browser, lan)
    headers = await api_token(client, lan.email)
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    admin = await person("admin@binhduong.gov.vn", admin=True)
    session = await signed_in(new_browser, admin)
    users_page = await session.get("/admin/users")
    assert f'action="/admin/users/{lan.id}"' in users_page.text
    assert f'action="/admin/users/{admin.id}"' not in users_page.text  # not oneself

    response = await session.post(f"/admin/users/{lan.id}", {"action": "deactivate"})

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users"
    await lan.refresh_from_db()
    assert not lan.is_active
    # The open session, the API token and a new sign-in are all refused.
    response = await lan_session.get("/account")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    retry = new_browser(lang="en")
    response = await retry.post("/login", {"email": lan.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "This account has been deactivated." in response.text
    users_page = await session.get("/admin/users?q=lan")
    assert 'data-label="Status">deactivated</td>' in users_page.text

    log = await session.get("/admin/audit?action=user.deactivated")
    assert audit_actions(log.text) == ["user.deactivated"]
    assert f"user {lan.id}" in log.text and "admin@binhduong.gov.vn" in log.text

    # Admins cannot lock themselves out; reactivation lets the person back in.
    assert (
        await session.post(f"/admin/users/{admin.id}", {"action": "deactivate"})
    ).status_code == 422
    assert (
        await session.post(f"/admin/users/{lan.id}", {"action": "reactivate"})
    ).status_code == 303
    await retry.login(lan.email)
    assert await AuditEvent.filter(action="user.reactivated", target_id=str(lan.id)).exists()
    assert (await session.post(f"/admin/users/{lan.id}", {"action": "delete"})).status_code == 422
    assert (await session.post("/admin/users/999999", {"action": "deactivate"})).status_code == 404


async def test_the_audit_log_shows_security_relevant_actions(client, new_browser):
    owner = await person("owner@eiu.edu.vn")
    member = await person("member@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU", verified=False)
    membership = await add_member(member, eiu)
    admin = await person("admin@binhduong.gov.vn", admin=True)

    failed = new_browser()
    response = await failed.post("/login", {"email": owner.email, "password": "wrong-password!"})
    assert response.status_code == 401
    owner_session = await signed_in(new_browser, owner)  # login.succeeded
    response = await owner_session.post(
        f"/organisations/{eiu.slug}/members/{membership.id}", {"action": "role", "role": "admin"}
    )
    assert response.status_code == 303
    session = await signed_in(new_browser, admin)
    response = await session.post(
        f"/admin/organisations/{eiu.id}/verification", {"state": "verified"}
    )
    assert response.status_code == 303
    headers = await api_token(client, member.email)  # api_token.created
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200  # api_token.used

    log = await session.get("/admin/audit")

    assert log.status_code == 200
    shown = audit_actions(log.text)
    for action in (
        "login.failed",
        "login.succeeded",
        "membership.role_changed",
        "organisation.verification_changed",
        "api_token.created",
        "api_token.used",
    ):
        assert action in shown, action
    assert shown.index("api_token.used") < shown.index("login.failed")  # newest first
    assert "198.51.100.9" in log.text  # the address each browser came from
    assert "email=owner@eiu.edu.vn" in log.text  # the failed attempt names the account

    # The filter narrows to one action and offers every recorded action.
    only = await session.get("/admin/audit?action=login.failed")
    assert audit_actions(only.text) == ["login.failed"]
    assert '<option value="membership.role_changed">' in only.text
    role_change = await AuditEvent.get(action="membership.role_changed")
    assert role_change.actor_id == owner.id
    assert role_change.detail == {
        "organisation": eiu.slug,
        "user": "member@eiu.edu.vn",
        "previous": "member",
        "role": "admin",
    }
    token_use = await AuditEvent.get(action="api_token.used")
    assert token_use.actor_id == member.id and token_use.ip == "203.0.113.7"


async def test_the_audit_log_pages_backwards(new_browser):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    await AuditEvent.bulk_create(
        [AuditEvent(action=f"test.event{n:02d}", actor_id=admin.id) for n in range(60)]
    )
    session = await signed_in(new_browser, admin)  # one more: login.succeeded

    first = await session.get("/admin/audit")
    shown = audit_actions(first.text)
    assert len(shown) == 50
    assert shown[:2] == ["login.succeeded", "test.event59"]
    older = re.search(r'href="\?action=&before=(\d+)"', first.text)
    assert older
    second = await session.get(f"/admin/audit?before={older.group(1)}")
    assert audit_actions(second.text) == [f"test.event{n:02d}" for n in range(10, -1, -1)]
    assert "Older" not in second.text and "Older" in first.text


async def test_admin_users_page_searches_and_pages(new_browser):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    await User.bulk_create(
        [
            User(email=f"user{n:02d}@example.vn", full_name=f"User {n:02d}", password_hash="x")
            for n in range(55)
        ]
    )
    await person("lan@eiu.edu.vn", name="Nguyễn Thị Lan")
    session = await signed_in(new_browser, admin)

    first = await session.get("/admin/users")
    emails = re.findall(r'data-label="Email">([^<]+)<', first.text)
    assert len(emails) == 50 and emails[0] == "admin@binhduong.gov.vn"
    assert "page=2" in first.text
    second = await session.get("/admin/users?page=2")
    emails += re.findall(r'data-label="Email">([^<]+)<', second.text)
    assert len(emails) == 57 and len(set(emails)) == 57
    found = await session.get("/admin/users?q=LAN")
    assert re.findall(r'data-label="Email">([^<]+)<', found.text) == ["lan@eiu.edu.vn"]
    assert "Nguyễn Thị Lan" in found.text


async def test_the_outbox_shows_every_mail(new_browser):
    owner = await person("owner@eiu.edu.vn")
    eiu = await make_organisation(owner, "EIU")
    owner_session = await signed_in(new_browser, owner)
    await owner_session.post(f"/organisations/{eiu.slug}/invitations", {"email": "an@tdmu.edu.vn"})
    await jobs.drain()
    message = await OutboxMessage.get(to="an@tdmu.edu.vn")
    admin = await person("admin@binhduong.gov.vn", admin=True)
    session = await signed_in(new_browser, admin)

    outbox = await session.get("/admin/outbox")
    detail = await session.get(f"/admin/outbox/{message.id}")

    assert outbox.status_code == 200
    assert "an@tdmu.edu.vn" in outbox.text and f"/admin/outbox/{message.id}" in outbox.text
    assert "logged" in outbox.text
    assert detail.status_code == 200
    assert "http://testserver/invitations/" in detail.text
    assert (await session.get("/admin/outbox/999999")).status_code == 404
    assert await Organisation.filter(id=eiu.id).exists()
