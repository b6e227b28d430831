"""Sign-in with a real OpenID provider (node-oidc-provider), over HTTP, on both backends.

The provider runs as a subprocess (tests/ecosystem/oidc_provider.py); the test plays the
person at its login page and brings the browser back to our callback. What is asserted is
read back from the database and the pages: who is signed in, which account was made or linked,
which membership requests exist, what the audit log says.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from tortoise import timezone

from ecosystem.identity_providers import provider_from_config
from ecosystem.models import (
    AuditEvent,
    ExternalIdentity,
    IdentityProvider,
    Membership,
    MembershipStatus,
    TotpFactor,
    User,
)
from ecosystem.services import identity
from tests.conftest import PASSWORD, make_organisation, person
from tests.ecosystem.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    oidc_provider,  # noqa: F401 (fixture)
)

UNIVERSITY = "tdmu.edu.vn"


@pytest.fixture
def settings(settings, oidc_provider):  # noqa: F811
    providers = (
        provider_from_config(oidc_provider.provider_config("test")),
        provider_from_config(
            oidc_provider.provider_config(
                "tied", title="TDMU", email_domains=[UNIVERSITY], organisation="tdmu"
            )
        ),
        provider_from_config(oidc_provider.provider_config("other", title="Other Provider")),
    )
    return replace(settings, oidc_providers=providers)


async def start(browser, name: str = "test", next_url: str = "/account"):
    response = await browser.get(f"/login/oidc/{name}?next={next_url}")
    assert response.status_code == 303, response.text[:500]
    return response.headers["location"]


async def oidc_sign_in(browser, provider, login: str, name: str = "test", next_url="/account"):
    """The whole round trip; the response of our callback."""
    authorize = await start(browser, name, next_url)
    back = await provider.sign_in(authorize, login)
    assert back.startswith(f"http://testserver/login/oidc/{name}/callback?"), back
    return await browser.get(back.removeprefix("http://testserver"))


async def sign_out(browser) -> None:
    assert (await browser.post("/logout")).status_code == 303
    browser.csrf_token = ""  # a new session, a new token


async def signed_in_email(browser) -> str | None:
    response = await browser.get("/account")
    if response.status_code != 200:
        return None
    user = await User.filter(email__in=_emails_in(response.text)).first()
    return user.email if user else None


def _emails_in(text: str) -> list[str]:
    import re

    return re.findall(r"[\w.+-]+@[\w.-]+\.[a-z]{2,}", text)


async def actions() -> list[str]:
    return await AuditEvent.all().order_by("id").values_list("action", flat=True)


# --- the authorization request ------------------------------------------------------------


async def test_the_authorization_request_uses_pkce_state_and_nonce(browser, oidc_provider):  # noqa: F811
    location = await start(browser)
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert location.startswith(oidc_provider.issuer)
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["scope"] == "openid email profile"
    assert query["redirect_uri"] == "http://testserver/login/oidc/test/callback"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    again = {k: v[0] for k, v in parse_qs(urlsplit(await start(browser)).query).items()}
    assert again["state"] != query["state"] and again["nonce"] != query["nonce"]


# --- new accounts -------------------------------------------------------------------------


async def test_a_verified_university_address_makes_an_account_and_a_membership_request(
    browser,
    oidc_provider,  # noqa: F811
):
    owner = await person("rector@tdmu.edu.vn")
    university = await make_organisation(owner, "Thu Dau Mot University", domains=(UNIVERSITY,))
    oidc_provider.add_account(
        "lan-new",
        email="Lan.New@tdmu.edu.vn",
        email_verified=True,
        name="Nguyễn Thị Lan",
        locale="en",
    )
    response = await oidc_sign_in(browser, oidc_provider, "lan-new")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    user = await User.get(email="lan.new@tdmu.edu.vn")
    assert user.is_verified and user.locale == "en" and user.full_name == "Nguyễn Thị Lan"
    assert user.password_hash == ""
    page = await browser.get("/account")
    assert page.status_code == 200 and "lan.new@tdmu.edu.vn" in page.text
    assert "Thu Dau Mot University" in page.text  # the flash of the request
    membership = await Membership.get(user_id=user.id)
    assert membership.organisation_id == university.id
    assert membership.status == MembershipStatus.REQUESTED  # consent of its admins stays
    identity_row = await ExternalIdentity.get(user_id=user.id)
    assert (identity_row.provider, identity_row.subject) == ("test", "lan-new")
    assert [
        a for a in await actions() if a.startswith(("user.", "identity.", "login.", "membership."))
    ] == ["user.registered", "identity.linked", "membership.requested", "login.oidc"]

    # Signing in again: the same account, no second request, last use recorded.
    await sign_out(browser)
    response = await oidc_sign_in(browser, oidc_provider, "lan-new")
    assert response.status_code == 303
    assert await User.filter(email="lan.new@tdmu.edu.vn").count() == 1
    assert await Membership.filter(user_id=user.id).count() == 1
    assert (await ExternalIdentity.get(user_id=user.id)).last_used_at is not None


async def test_a_provider_tied_to_an_organisation_requests_membership_there(
    browser,
    oidc_provider,  # noqa: F811
):
    owner = await person("rector@tdmu.edu.vn")
    university = await make_organisation(owner, "TDMU")  # no e-mail domain of its own
    university.slug = "tdmu"
    await university.save(update_fields=["slug"])
    oidc_provider.add_account("minh", email="minh@tdmu.edu.vn", email_verified=True)
    response = await oidc_sign_in(browser, oidc_provider, "minh", name="tied")
    assert response.status_code == 303
    user = await User.get(email="minh@tdmu.edu.vn")
    assert await Membership.filter(
        user_id=user.id, organisation_id=university.id, status=MembershipStatus.REQUESTED
    ).exists()


async def test_an_unverified_organisation_gets_no_request(browser, oidc_provider):  # noqa: F811
    owner = await person("rector@tdmu.edu.vn")
    await make_organisation(owner, "TDMU", domains=(UNIVERSITY,), verified=False)
    oidc_provider.add_account("hoa", email="hoa@tdmu.edu.vn", email_verified=True)
    assert (await oidc_sign_in(browser, oidc_provider, "hoa")).status_code == 303
    assert not await Membership.filter(user__email="hoa@tdmu.edu.vn").exists()


async def test_an_unverified_provider_address_is_refused(browser, oidc_provider):  # noqa: F811
    oidc_provider.add_account("unverified", email="tuan@gmail.com", email_verified=False)
    response = await oidc_sign_in(browser, oidc_provider, "unverified")
    assert response.status_code == 403
    assert "tuan@gmail.com" in response.text and 'id="oidc-refused"' in response.text
    assert not await User.filter(email="tuan@gmail.com").exists()
    assert (await browser.get("/account")).status_code in (302, 303, 401)


async def test_a_provider_without_an_address_is_refused(browser, oidc_provider):  # noqa: F811
    oidc_provider.add_account("no-mail", name="Nobody")
    response = await oidc_sign_in(browser, oidc_provider, "no-mail")
    assert response.status_code == 403
    assert await User.all().count() == 0


async def test_an_address_outside_the_providers_domains_is_refused(browser, oidc_provider):  # noqa: F811
    oidc_provider.add_account("outsider", email="outsider@gmail.com", email_verified=True)
    response = await oidc_sign_in(browser, oidc_provider, "outsider", name="tied")
    assert response.status_code == 403
    assert not await User.filter(email="outsider@gmail.com").exists()


# --- linking by e-mail ----------------------------------------------------------------------


async def test_a_verified_account_is_linked_by_a_verified_address(browser, oidc_provider):  # noqa: F811
    user = await person("an@becamex.com.vn")
    oidc_provider.add_account("an", email="an@becamex.com.vn", email_verified=True)
    response = await oidc_sign_in(browser, oidc_provider, "an")
    assert response.status_code == 303
    assert await signed_in_email(browser) == "an@becamex.com.vn"
    assert await ExternalIdentity.filter(user_id=user.id, provider="test", subject="an").exists()
    assert await User.all().count() == 1
    linked = await AuditEvent.get(action="identity.linked")
    assert linked.actor_id == user.id and linked.detail["how"] == "email"


async def test_an_account_that_never_verified_its_address_is_not_linked(browser, oidc_provider):  # noqa: F811
    user = await person("squat@becamex.com.vn", verified=False)
    oidc_provider.add_account("owner", email="squat@becamex.com.vn", email_verified=True)
    response = await oidc_sign_in(browser, oidc_provider, "owner")
    assert response.status_code == 403
    assert not await ExternalIdentity.filter(user_id=user.id).exists()
    assert await signed_in_email(browser) is None


async def test_an_admin_is_never_linked_by_e_mail_but_links_from_the_account_page(
    browser,
    oidc_provider,  # noqa: F811
):
    admin = await person("admin@binhduong.gov.vn", admin=True)
    oidc_provider.add_account("admin", email="admin@binhduong.gov.vn", email_verified=True)
    response = await oidc_sign_in(browser, oidc_provider, "admin")
    assert response.status_code == 403
    assert not await ExternalIdentity.filter(user_id=admin.id).exists()
    assert await signed_in_email(browser) is None

    # Signed in with the password, the admin links the provider on purpose.
    await browser.login("admin@binhduong.gov.vn", PASSWORD)
    page = await browser.get("/account")
    assert 'id="link-test"' in page.text
    response = await browser.post("/login/oidc/test", {"intent": "link", "next": "/account"})
    assert response.status_code == 303
    back = await oidc_provider.sign_in(response.headers["location"], "admin")
    response = await browser.get(back.removeprefix("http://testserver"))
    assert response.status_code == 303 and response.headers["location"] == "/account"
    assert await ExternalIdentity.filter(user_id=admin.id, subject="admin").exists()
    assert (await AuditEvent.get(action="identity.linked")).detail["how"] == "account_page"

    # From now on the provider signs the admin in.
    await sign_out(browser)
    assert (await oidc_sign_in(browser, oidc_provider, "admin")).status_code == 303
    assert await signed_in_email(browser) == "admin@binhduong.gov.vn"


async def test_an_account_with_a_second_factor_is_never_linked_by_e_mail(
    browser,
    oidc_provider,  # noqa: F811
):
    user = await person("guarded@becamex.com.vn")
    await confirmed_totp(user)
    oidc_provider.add_account("guarded", email="guarded@becamex.com.vn", email_verified=True)
    response = await oidc_sign_in(browser, oidc_provider, "guarded")
    assert response.status_code == 403
    assert not await ExternalIdentity.filter(user_id=user.id).exists()
    assert await signed_in_email(browser) is None


async def test_a_provider_sign_in_still_asks_for_the_second_factor(
    browser,
    oidc_provider,  # noqa: F811
):
    user = await person("linked@becamex.com.vn")
    oidc_provider.add_account("linked", email="linked@becamex.com.vn", email_verified=True)
    assert (await oidc_sign_in(browser, oidc_provider, "linked")).status_code == 303
    assert await ExternalIdentity.filter(user_id=user.id).exists()  # linked before the factor
    await sign_out(browser)

    await confirmed_totp(user)
    response = await oidc_sign_in(browser, oidc_provider, "linked", next_url="/organisations")
    assert response.status_code == 303
    assert response.headers["location"] == "/login/second-factor"
    assert await signed_in_email(browser) is None  # the provider's word alone is not enough
    page = await browser.get("/login/second-factor")
    assert page.status_code == 200 and "linked@becamex.com.vn" in page.text


async def confirmed_totp(user: User) -> None:
    await TotpFactor.create(
        user_id=user.id, secret_encrypted="not-read-here", confirmed_at=timezone.now()
    )


async def test_a_provider_account_linked_elsewhere_cannot_be_linked_again(
    browser,
    oidc_provider,  # noqa: F811
):
    await person("first@becamex.com.vn")
    await person("second@becamex.com.vn")
    oidc_provider.add_account("shared", email="first@becamex.com.vn", email_verified=True)
    assert (await oidc_sign_in(browser, oidc_provider, "shared")).status_code == 303
    await sign_out(browser)
    await browser.login("second@becamex.com.vn")
    response = await browser.post("/login/oidc/test", {"intent": "link"})
    back = await oidc_provider.sign_in(response.headers["location"], "shared")
    response = await browser.get(back.removeprefix("http://testserver"))
    assert response.status_code == 409
    assert await ExternalIdentity.filter(subject="shared").count() == 1


async def test_a_deactivated_account_is_not_signed_in(browser, oidc_provider):  # noqa: F811
    user = await person("gone@becamex.com.vn")
    oidc_provider.add_account("gone", email="gone@becamex.com.vn", email_verified=True)
    assert (await oidc_sign_in(browser, oidc_provider, "gone")).status_code == 303
    await sign_out(browser)
    user.is_active = False
    await user.save(update_fields=["is_active"])
    assert (await oidc_sign_in(browser, oidc_provider, "gone")).status_code == 403
    assert await signed_in_email(browser) is None


# --- unlinking -------------------------------------------------------------------------


async def test_unlinking_keeps_one_way_to_sign_in(browser, oidc_provider):  # noqa: F811
    oidc_provider.add_account("only", email="only@gmail.com", email_verified=True)
    assert (await oidc_sign_in(browser, oidc_provider, "only")).status_code == 303
    user = await User.get(email="only@gmail.com")
    first = await ExternalIdentity.get(user_id=user.id)
    page = await browser.get("/account")
    assert f'action="/account/providers/{first.id}/unlink"' in page.text

    # The only way in: refused.
    response = await browser.post(f"/account/providers/{first.id}/unlink")
    assert response.status_code == 409
    assert await ExternalIdentity.filter(id=first.id).exists()

    # With a second provider linked, the first may go.
    response = await browser.post("/login/oidc/other", {"intent": "link"})
    back = await oidc_provider.sign_in(response.headers["location"], "only")
    assert (await browser.get(back.removeprefix("http://testserver"))).status_code == 303
    response = await browser.post(f"/account/providers/{first.id}/unlink")
    assert response.status_code == 303
    assert await ExternalIdentity.filter(user_id=user.id).values_list("provider", flat=True) == [
        "other"
    ]
    assert (await AuditEvent.get(action="identity.unlinked")).detail["provider"] == "test"


async def test_an_account_with_a_password_may_unlink_its_only_provider(browser, oidc_provider):  # noqa: F811
    user = await person("pw@becamex.com.vn")
    oidc_provider.add_account("pw", email="pw@becamex.com.vn", email_verified=True)
    assert (await oidc_sign_in(browser, oidc_provider, "pw")).status_code == 303
    linked = await ExternalIdentity.get(user_id=user.id)
    assert (await browser.post(f"/account/providers/{linked.id}/unlink")).status_code == 303
    assert not await ExternalIdentity.filter(user_id=user.id).exists()


async def test_nobody_unlinks_someone_elses_provider(browser, new_browser, oidc_provider):  # noqa: F811
    victim = await person("victim@becamex.com.vn")
    oidc_provider.add_account("victim", email="victim@becamex.com.vn", email_verified=True)
    assert (await oidc_sign_in(browser, oidc_provider, "victim")).status_code == 303
    linked = await ExternalIdentity.get(user_id=victim.id)
    await person("mallory@becamex.com.vn")
    mallory = new_browser()
    await mallory.login("mallory@becamex.com.vn")
    assert (await mallory.post(f"/account/providers/{linked.id}/unlink")).status_code == 404
    anonymous = new_browser()
    response = await anonymous.post(f"/account/providers/{linked.id}/unlink")
    assert response.status_code in (302, 303, 401)
    assert await ExternalIdentity.filter(id=linked.id).exists()


# --- hostile callbacks ------------------------------------------------------------------


async def test_a_replayed_callback_is_refused(browser, new_browser, oidc_provider):  # noqa: F811
    oidc_provider.add_account("replay", email="replay@gmail.com", email_verified=True)
    authorize = await start(browser)
    cookies_before = dict(browser.http.cookies)
    back = (await oidc_provider.sign_in(authorize, "replay")).removeprefix("http://testserver")
    assert (await browser.get(back)).status_code == 303
    # The same callback again, in this browser (the flow is gone) …
    assert (await browser.get(back)).status_code == 400
    # … and with the session cookie as it was before the callback (the state is spent).
    attacker = new_browser()
    for key, value in cookies_before.items():
        attacker.http.cookies.set(key, value)
    response = await attacker.get(back)
    assert response.status_code == 400
    assert await AuditEvent.filter(action="login.oidc").count() == 1


async def test_hostile_callbacks_are_refused_never_a_500(browser, oidc_provider):  # noqa: F811
    oidc_provider.add_account("h", email="h@gmail.com", email_verified=True)
    # No flow in this browser at all.
    assert (await browser.get("/login/oidc/test/callback?code=x&state=y")).status_code == 400
    authorize = await start(browser)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    # Missing code.
    response = await browser.get(f"/login/oidc/test/callback?state={state}")
    assert response.status_code == 400
    # The flow was spent by that attempt: a new one, then a tampered state.
    authorize = await start(browser)
    back = await oidc_provider.sign_in(authorize, "h")
    tampered = back.replace("state=", "state=x").removeprefix("http://testserver")
    assert (await browser.get(tampered)).status_code == 400
    # The provider reports an error.
    await start(browser)
    response = await browser.get("/login/oidc/test/callback?error=access_denied&state=s")
    assert response.status_code == 400
    # A flow started for one provider, answered at another's callback.
    authorize = await start(browser, "test")
    back = await oidc_provider.sign_in(authorize, "h")
    other = back.replace("/login/oidc/test/", "/login/oidc/other/").removeprefix(
        "http://testserver"
    )
    assert (await browser.get(other)).status_code == 400
    # Unknown providers, absurd input.
    assert (await browser.get("/login/oidc/nope")).status_code == 404
    assert (await browser.get("/login/oidc/nope/callback?code=a&state=b")).status_code == 404
    response = await browser.get("/login/oidc/test/callback?code=" + "a" * 5000 + "&state=b")
    assert response.status_code in (400, 414, 422)
    assert await User.all().count() == 0


async def test_linking_needs_a_signed_in_account(browser):
    response = await browser.post("/login/oidc/test", {"intent": "link"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_the_sign_in_and_register_pages_offer_the_providers(browser):
    for path in ("/login", "/register"):
        page = await browser.get(path)
        assert 'id="oidc-test"' in page.text and 'href="/login/oidc/tied?next=' in page.text


# --- providers added by admins: the client secret stored encrypted --------------------------


async def test_an_admin_added_provider_talks_to_the_provider_with_its_decrypted_secret(
    browser,
    oidc_provider,  # noqa: F811
):
    row = await IdentityProvider.create(
        name="stored",
        title="Stored Provider",
        issuer=oidc_provider.issuer,
        client_id=CLIENT_ID,
        client_secret=identity.seal_client_secret(CLIENT_SECRET),
    )
    assert CLIENT_SECRET not in row.client_secret
    oidc_provider.add_account("minh", email="minh@tdmu.edu.vn", email_verified=True, name="Minh")
    response = await oidc_sign_in(browser, oidc_provider, "minh", name="stored")
    assert response.status_code == 303 and response.headers["location"] == "/account"
    assert await signed_in_email(browser) == "minh@tdmu.edu.vn"

    # A secret sealed under another SECRET_KEY cannot be read: the provider refuses our
    # token request and the person gets a clear page, not a 500.
    row.client_secret = "gAAAAAB-not-a-token-of-this-key"
    await row.save()
    await sign_out(browser)
    response = await oidc_sign_in(browser, oidc_provider, "minh", name="stored")
    assert 400 <= response.status_code < 500
    assert await signed_in_email(browser) is None
