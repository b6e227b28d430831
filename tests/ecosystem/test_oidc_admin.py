"""Platform admins add and change OpenID Connect providers; the secret is never shown back.
Also: migration 0011 upgrades a database that already has accounts."""

from __future__ import annotations

import pytest
from tortoise import Tortoise, connections

from ecosystem.db import tortoise_config
from ecosystem.models import AuditEvent, ExternalIdentity, IdentityProvider, User
from ecosystem.packages import load_packages
from ecosystem.services import identity
from tests.conftest import make_organisation, migrate_to, orm_on, person

SECRET = "s3cret-value-that-must-not-show-9876"
FORM = {
    "name": "tdmu",
    "title": "Thu Dau Mot University",
    "issuer": "https://id.tdmu.edu.vn/realms/tdmu/",
    "client_id": "innovation-region",
    "client_secret": SECRET,
    "email_domains": "tdmu.edu.vn, @student.tdmu.edu.vn",
    "organisation": "",
    "enabled": "1",
}


async def test_a_verified_admin_adds_a_provider_shown_on_the_sign_in_page(browser, new_browser):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    await browser.login(admin.email)
    page = await browser.get("/admin/identity-providers")
    assert page.status_code == 200 and 'id="provider-form"' in page.text
    response = await browser.post("/admin/identity-providers", FORM)
    assert response.status_code == 303, response.text[:500]
    row = await IdentityProvider.get(name="tdmu")
    assert row.issuer == "https://id.tdmu.edu.vn/realms/tdmu"
    assert row.email_domains == ["student.tdmu.edu.vn", "tdmu.edu.vn"]
    assert SECRET not in row.client_secret  # stored encrypted
    assert identity.stored_client_secret(row) == SECRET
    page = await browser.get("/admin/identity-providers")
    assert SECRET not in page.text and "••••9876" in page.text
    edit = await browser.get(f"/admin/identity-providers/{row.id}")
    assert SECRET not in edit.text and "Thu Dau Mot University" in edit.text
    assert (await AuditEvent.get(action="identity_provider.created")).actor_id == admin.id

    # An edit without a secret keeps the stored one.
    changed = {**FORM, "title": "TDMU", "client_secret": ""}
    response = await browser.post(f"/admin/identity-providers/{row.id}", changed)
    assert response.status_code == 303
    await row.refresh_from_db()
    assert (row.title, identity.stored_client_secret(row)) == ("TDMU", SECRET)

    visitor = new_browser()
    login = await visitor.get("/login")
    assert 'href="/login/oidc/tdmu?next=' in login.text and "TDMU" in login.text

    # Switched off: gone from the sign-in page, its sign-in address unknown.
    response = await browser.post(f"/admin/identity-providers/{row.id}", {**changed, "enabled": ""})
    assert response.status_code == 303
    assert "/login/oidc/tdmu" not in (await visitor.get("/login")).text
    assert (await visitor.get("/login/oidc/tdmu")).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Not A Slug!"),
        ("issuer", "http://id.tdmu.edu.vn"),
        ("issuer", "javascript:alert(1)"),
        ("client_id", ""),
        ("client_secret", ""),
        ("client_secret", "秘" * 200),  # 200 characters, 600 bytes: more than the 500 allowed
        ("email_domains", "not a domain"),
        ("title", "x" * 101),
        ("organisation", "no-such-organisation"),
    ],
)
async def test_bad_input_is_refused_and_the_form_keeps_what_was_typed(browser, field, value):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    await browser.login(admin.email)
    typed = {**FORM, "title": "Typed Title Kept", field: value}
    if field == "title":
        typed["client_id"] = "typed-client-id-kept"
    response = await browser.post("/admin/identity-providers", typed)
    assert response.status_code == 422, response.text[:300]
    kept = "typed-client-id-kept" if field == "title" else "Typed Title Kept"
    assert kept in response.text
    assert f'aria-describedby="e-{field}"' in response.text
    assert SECRET not in response.text
    assert not await IdentityProvider.exists()


async def test_a_tied_provider_needs_a_verified_organisation_and_domains(browser):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    unverified = await make_organisation(admin, "Pending University", verified=False)
    verified = await make_organisation(admin, "TDMU")
    await browser.login(admin.email)
    typed = {**FORM, "organisation": unverified.slug}
    assert (await browser.post("/admin/identity-providers", typed)).status_code == 422
    typed = {**FORM, "organisation": verified.slug, "email_domains": ""}
    assert (await browser.post("/admin/identity-providers", typed)).status_code == 422
    typed = {**FORM, "organisation": verified.slug}
    assert (await browser.post("/admin/identity-providers", typed)).status_code == 303
    assert (await IdentityProvider.get(name="tdmu")).organisation_id == verified.id
    # The same name twice.
    assert (await browser.post("/admin/identity-providers", typed)).status_code == 422
    assert await IdentityProvider.all().count() == 1


@pytest.mark.parametrize("who", ["anonymous", "member", "unverified-admin"])
async def test_only_a_verified_platform_admin_manages_providers(browser, who):
    row = await IdentityProvider.create(
        name="tdmu",
        title="TDMU",
        issuer="https://id.tdmu.edu.vn",
        client_id="c",
        client_secret=identity.seal_client_secret(SECRET),
    )
    if who == "member":
        await browser.login((await person("lan@tdmu.edu.vn")).email)
    elif who == "unverified-admin":
        await browser.login(
            (await person("new-admin@binhduong.gov.vn", admin=True, verified=False)).email
        )
    for path in ("/admin/identity-providers", f"/admin/identity-providers/{row.id}"):
        response = await browser.get(path)
        assert response.status_code in ((302, 303, 401) if who == "anonymous" else (403,))
        assert SECRET not in response.text
        response = await browser.post(path, FORM)
        assert response.status_code in ((302, 303, 401, 403) if who == "anonymous" else (403,))
    await row.refresh_from_db()
    assert row.title == "TDMU" and await IdentityProvider.all().count() == 1


async def test_migration_0011_keeps_existing_accounts(empty_url):
    config = tortoise_config(empty_url, load_packages(()))
    await migrate_to(config, "ecosystem.0010_published_indicators")
    async with orm_on(config):
        old = await User.create(email="old@eiu.edu.vn", full_name="Old", password_hash="x")
    await migrate_to(config)
    async with orm_on(config):
        kept = await User.get(id=old.id)
        assert kept.email == "old@eiu.edu.vn"
        await ExternalIdentity.create(user=kept, provider="eiu", subject="s-1", email=kept.email)
        assert await ExternalIdentity.filter(user_id=kept.id).count() == 1


async def test_migration_0013_encrypts_the_secrets_stored_in_plain_text(empty_url):
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(empty_url, load_packages(()))
    try:
        await migrate(config=config, target="ecosystem.0012_second_factors")
        await connections.get("default").execute_script(
            "INSERT INTO identity_provider (name, title, issuer, client_id, client_secret, "
            "email_domains, enabled, created_at) VALUES ('tdmu', 'TDMU', 'https://id.tdmu.edu.vn', "
            f"'c', '{SECRET}', '[]', TRUE, '2026-11-01 00:00:00+00:00')"
        )
    finally:
        await Tortoise.close_connections()
    await migrate_to(config)
    async with orm_on(config):
        row = await IdentityProvider.get(name="tdmu")
        assert SECRET not in row.client_secret
        assert identity.stored_client_secret(row) == SECRET
        assert (await identity.get_provider("tdmu")).client_secret == SECRET


async def test_the_account_page_costs_the_same_with_2_or_12_linked_providers(
    browser, count_queries
):
    user = await person("many@eiu.edu.vn")
    await browser.login(user.email)

    async def link(first: int, last: int) -> None:
        for n in range(first, last):
            await IdentityProvider.create(
                name=f"p{n}",
                title=f"Provider {n}",
                issuer="https://id.example.vn",
                client_id="c",
                client_secret=SECRET,
            )
            await ExternalIdentity.create(user=user, provider=f"p{n}", subject=f"s{n}")

    async def statements() -> tuple[int, str]:
        with count_queries() as counted:
            response = await browser.get("/account")
        assert response.status_code == 200
        return len(counted.statements), response.text

    await link(0, 2)
    small, page = await statements()
    assert page.count('/unlink"') == 2 and "Provider 1" in page
    await link(2, 12)
    large, page = await statements()
    assert page.count('/unlink"') == 12 and "Provider 11" in page
    assert small == large
