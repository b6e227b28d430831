"""Accounts over HTTP: register, verify, sign in and out, reset a forgotten password,
profile validation, deactivated users. Everything is asserted on what a browser sees and
on the rows the database holds afterwards."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from itsdangerous import TimestampSigner
from markupsafe import escape

from ecosystem import jobs
from ecosystem.i18n import _, use_locale
from ecosystem.models import ApiToken, AuditEvent, OutboxMessage, User
from ecosystem.security import SignedLinks
from ecosystem.services import accounts
from ecosystem.settings import get_settings
from tests.conftest import PASSWORD, api_token, make_user

NEW_PASSWORD = "a-brand-new-passphrase-42"


# --- helpers ------------------------------------------------------------------------------


def vi(message: str, **params: object) -> str:
    """A message as the default-locale page shows it (translated or not, HTML-escaped)."""
    with use_locale("vi"):
        return str(escape(_(message, **params)))


def field_error(html: str, name: str) -> str | None:
    """The error paragraph rendered next to form field `name`, if any."""
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', html, re.S)
    if match is None:
        return None
    assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', html, re.S), name
    return match.group(1)


async def mailed_path(to: str, path: str) -> str:
    """The newest link to `path` mailed to `to` (path and query, ready for the client)."""
    await jobs.drain()
    for message in await OutboxMessage.filter(to=to).order_by("-id"):
        assert message.status == "logged", message.last_error
        if match := re.search(
            rf"http://testserver({re.escape(path)}\?token=[\w.\-]+)", message.text_body
        ):
            assert match.group(1) in message.html_body.replace("&amp;", "&")
            return match.group(1)
    raise AssertionError(f"no mail to {to} with a link to {path}")


async def counts() -> tuple[int, int, int, int]:
    return (
        await User.all().count(),
        await OutboxMessage.all().count(),
        await AuditEvent.all().count(),
        await ApiToken.all().count(),
    )


def old_link(monkeypatch, purpose: str, payload: dict, age_seconds: int) -> str:
    """A genuine signed link, as if it had been mailed `age_seconds` ago."""
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - age_seconds)
        return SignedLinks(get_settings().secret_key).dumps(purpose, payload)


async def signed_in_email(browser) -> str | None:
    """Whose account page the browser sees (None when it is sent to the sign-in page)."""
    response = await browser.get("/account")
    if response.status_code == 303:
        assert response.headers["location"].startswith("/login?next=")
        return None
    assert response.status_code == 200
    match = re.search(r"[\w.+-]+@[\w.-]+\.\w+", response.text.split('id="main"', 1)[1])
    return match.group(0) if match else None


# --- the happy path -----------------------------------------------------------------------


async def test_register_verify_sign_out_and_in(browser, new_browser):
    page = await browser.get("/register")
    assert page.status_code == 200
    assert 'action="/register"' in page.text

    response = await browser.post(
        "/register",
        {"email": "  Lan.Nguyen@Example.ORG ", "full_name": "Nguyễn Thị Lan", "password": PASSWORD},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"

    user = await User.get(email="lan.nguyen@example.org")
    assert user.full_name == "Nguyễn Thị Lan"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.email_verified_at is None
    assert user.locale == "vi"

    account = await browser.get("/account")
    assert account.status_code == 200
    assert "lan.nguyen@example.org" in account.text
    assert 'action="/verify/resend"' in account.text  # the "please verify" banner

    link = await mailed_path("lan.nguyen@example.org", "/verify")
    verified = await browser.get(link)
    assert verified.status_code == 303
    assert verified.headers["location"] == "/account"
    await user.refresh_from_db()
    assert user.email_verified_at is not None
    assert 'action="/verify/resend"' not in (await browser.get("/account")).text

    # The same link again: refused with a message, nothing changes.
    again = await browser.get(link)
    assert again.status_code == 409
    assert vi("This link has already been used: your email address is verified.") in again.text

    out = await browser.post("/logout")
    assert out.status_code == 303
    assert out.headers["location"] == "/"
    assert await signed_in_email(browser) is None

    # Sign in again, typing the address in another case, and land on the `next` page.
    await browser.get("/login")
    back = await browser.post(
        "/login?next=/account/tokens",
        {"email": "LAN.NGUYEN@example.org", "password": PASSWORD, "next": "/account/tokens"},
    )
    assert back.status_code == 303
    assert back.headers["location"] == "/account/tokens"
    browser.csrf_token = ""
    assert await signed_in_email(browser) == "lan.nguyen@example.org"

    # A verification link opened in another browser (not signed in) leads to sign-in.
    other = await new_browser().get(link)
    assert other.status_code == 409


async def test_verification_link_opened_signed_out_leads_to_sign_in(browser, new_browser):
    await browser.post(
        "/register", {"email": "an@tdmu.edu.vn", "full_name": "An", "password": PASSWORD}
    )
    link = await mailed_path("an@tdmu.edu.vn", "/verify")
    response = await new_browser().get(link)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert (await User.get(email="an@tdmu.edu.vn")).email_verified_at is not None


async def test_resend_verification(browser):
    await browser.post(
        "/register", {"email": "binh@eiu.edu.vn", "full_name": "Bình", "password": PASSWORD}
    )
    first = await mailed_path("binh@eiu.edu.vn", "/verify")
    await browser.get("/account")
    response = await browser.post("/verify/resend")
    assert response.status_code == 303
    assert await OutboxMessage.filter(to="binh@eiu.edu.vn").count() == 2
    second = await mailed_path("binh@eiu.edu.vn", "/verify")
    assert (await browser.get(second)).status_code == 303
    # Both links named the same address; once verified, the older one is used up too.
    assert (await browser.get(first)).status_code == 409
    # Nothing left to resend.
    again = await browser.post("/verify/resend")
    assert again.status_code == 409
    assert await OutboxMessage.filter(to="binh@eiu.edu.vn").count() == 2


async def test_link_mails_on_request_are_limited_per_recipient(browser, new_browser):
    await make_user("bich@eiu.edu.vn")
    await browser.get("/password/forgot")
    pages = [
        await browser.post("/password/forgot", {"email": "bich@eiu.edu.vn"}) for _n in range(5)
    ]
    assert {page.status_code for page in pages} == {200}
    strip = re.compile(r'name="csrf_token" value="[^"]+"|"X-CSRF-Token": "[^"]+"')
    assert len({strip.sub("", page.text) for page in pages}) == 1  # no tell-tale difference
    await jobs.drain()
    assert await OutboxMessage.filter(to="bich@eiu.edu.vn").count() == accounts.LINK_MAILS_PER_HOUR

    # Registered with someone else's address, asking for the link again and again.
    mallory = new_browser()
    await mallory.get("/register")
    await mallory.post(
        "/register", {"email": "cam@eiu.edu.vn", "full_name": "Cam", "password": PASSWORD}
    )
    await mallory.get("/account")
    statuses = [(await mallory.post("/verify/resend")).status_code for _n in range(4)]
    assert statuses == [303] * accounts.LINK_MAILS_PER_HOUR + [429]
    refused = mallory.history[-1]
    assert 3500 < int(refused.headers["Retry-After"]) <= 3600
    assert vi("We have sent this link several times. Try again in %(n)d minutes.", n=60) in (
        refused.text
    )
    await jobs.drain()
    # The mail at registration plus the allowed resends.
    assert await OutboxMessage.filter(to="cam@eiu.edu.vn").count() == 1 + 3


async def test_sign_in_with_wrong_password_or_unknown_email(browser):
    await make_user("chi@becamex.com.vn")
    page = await browser.get("/login")
    assert page.status_code == 200
    wrong = await browser.post("/login", {"email": "chi@becamex.com.vn", "password": "nope" * 4})
    unknown = await browser.post("/login", {"email": "nobody@becamex.com.vn", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert vi("Wrong email or password.") in response.text
        assert 'role="alert"' in response.text
    assert 'value="chi@becamex.com.vn"' in wrong.text  # the email is kept, the password not
    assert "nope" not in wrong.text
    assert await signed_in_email(browser) is None


async def test_sign_in_never_redirects_off_site(browser):
    await make_user("dung@becamex.com.vn")
    await browser.get("/login")
    response = await browser.post(
        "/login",
        {"email": "dung@becamex.com.vn", "password": PASSWORD, "next": "https://evil.example/x"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    browser.csrf_token = ""
    await browser.post("/logout")
    browser.csrf_token = ""
    for target in ("//evil.example/", "javascript:alert(1)", "http:/evil"):
        await browser.get("/login")
        response = await browser.post(
            "/login", {"email": "dung@becamex.com.vn", "password": PASSWORD, "next": target}
        )
        assert response.headers["location"] == "/dashboard", target
        browser.csrf_token = ""
        await browser.post("/logout")
        browser.csrf_token = ""


# --- bad input: 4xx, a message next to the field, nothing half-written --------------------


REGISTRATION = {"email": "em@eiu.edu.vn", "full_name": "Em", "password": PASSWORD}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "EM@EIU.edu.vn"}, "email", "duplicate"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": ""}, "email", "Enter a valid email address."),
        ({"email": "e" * 250 + "@eiu.edu.vn"}, "email", "Enter a valid email address."),
        ({"password": "short1"}, "password", "short"),
        ({"password": "password1234"}, "password", "This password is too easy to guess."),
        ({"password": "aaaaaaaaaaaa"}, "password", "This password is too easy to guess."),
        ({"password": "giang.le-2026!"}, "password", "contains-email"),
        ({"password": "x1" * 101}, "password", "At most %(n)d characters."),
        ({"full_name": ""}, "full_name", "This field is required."),
        ({"full_name": "   "}, "full_name", "This field is required."),
        ({"full_name": "N" * 121}, "full_name", "At most %(n)d characters."),
    ],
)
async def test_registration_refuses_bad_input(browser, changes, field, message):
    await make_user("em@eiu.edu.vn")
    await browser.get("/register")
    before = await counts()
    data = {**REGISTRATION, "email": "giang.le@eiu.edu.vn", **changes}
    response = await browser.post("/register", data)

    assert response.status_code == 422
    expected = {
        "duplicate": vi(
            "An account with this email already exists. Sign in or reset the password."
        ),
        "short": vi("Use at least %(n)d characters.", n=accounts.MIN_PASSWORD_LENGTH),
        "contains-email": vi("The password must not contain your email address."),
        "At most %(n)d characters.": vi(
            "At most %(n)d characters.", n=200 if field == "password" else 120
        ),
    }.get(message) or vi(message)
    assert field_error(response.text, field) == expected
    # Other fields carry no error and keep what was typed (except the password).
    for other in {"email", "full_name", "password"} - {field}:
        assert field_error(response.text, other) is None
    if field != "full_name" and data["full_name"].strip():
        assert f'value="{escape(data["full_name"])}"' in response.text
    assert f'value="{escape(data["password"])}"' not in response.text
    assert await counts() == before
    assert await signed_in_email(browser) is None


async def test_registration_form_missing_fields_entirely(browser):
    await browser.get("/register")
    before = await counts()
    response = await browser.post("/register", {})
    assert response.status_code == 422
    assert field_error(response.text, "email") == vi("Enter a valid email address.")
    assert field_error(response.text, "full_name") == vi("This field is required.")
    assert field_error(response.text, "password") == vi("This field is required.")
    assert await counts() == before


async def test_concurrent_registrations_of_one_address_make_one_account(new_browser):
    first, second = new_browser(), new_browser()
    await first.get("/register")
    await second.get("/register")
    responses = await asyncio.gather(
        first.post("/register", {**REGISTRATION, "email": "hoa@eiu.edu.vn"}),
        second.post("/register", {**REGISTRATION, "email": "HOA@eiu.edu.vn"}),
    )
    assert sorted(r.status_code for r in responses) == [303, 422]
    assert await User.filter(email="hoa@eiu.edu.vn").count() == 1
    assert await OutboxMessage.filter(to="hoa@eiu.edu.vn").count() == 1


async def test_profile_update_validates_and_saves(browser):
    user = await make_user("khanh@eiu.edu.vn", name="Khánh")
    await browser.login("khanh@eiu.edu.vn")
    await browser.get("/account")
    for bad in ("", "   ", "K" * 121):
        response = await browser.post("/account", {"full_name": bad, "locale": "en"})
        assert response.status_code == 422
        assert field_error(response.text, "full_name") == vi(
            "Enter your name (at most 120 characters)."
        )
        await user.refresh_from_db()
        assert (user.full_name, user.locale) == ("Khánh", "vi")
    response = await browser.post("/account", {"full_name": " Lê Khánh ", "locale": "en"})
    assert response.status_code == 303
    await user.refresh_from_db()
    assert (user.full_name, user.locale) == ("Lê Khánh", "en")


# --- verification and reset links: expired, forged, reused --------------------------------


async def test_expired_or_forged_verification_links_are_refused(browser, monkeypatch):
    user = await make_user("long@eiu.edu.vn", verified=False)
    payload = {"uid": user.id, "email": user.email}
    expired = old_link(monkeypatch, "verify-email", payload, accounts.VERIFY_LINK_SECONDS + 60)
    forged = SignedLinks("another-secret").dumps("verify-email", payload)
    wrong_purpose = old_link(monkeypatch, "reset-password", payload, 0)
    for token in (expired, forged, wrong_purpose, "garbage", ""):
        response = await browser.get(f"/verify?token={token}")
        assert response.status_code == 422, token
        assert (
            vi("This verification link is invalid or has expired. Ask for a new one.")
            in response.text
        )
    await user.refresh_from_db()
    assert user.email_verified_at is None

    # Just inside the validity window, the same kind of link works.
    fresh = old_link(monkeypatch, "verify-email", payload, accounts.VERIFY_LINK_SECONDS - 60)
    assert (await browser.get(f"/verify?token={fresh}")).status_code == 303
    await user.refresh_from_db()
    assert user.email_verified_at is not None


async def test_expired_reset_link_is_refused(browser, monkeypatch):
    user = await make_user("minh@eiu.edu.vn")
    payload = {"uid": user.id, "fp": user.password_hash[-16:]}
    expired = old_link(monkeypatch, "reset-password", payload, accounts.RESET_LINK_SECONDS + 60)
    page = await browser.get(f"/password/reset?token={expired}")
    assert page.status_code == 422
    refused = vi("This reset link is invalid, expired or already used. Ask for a new one.")
    assert refused in page.text
    await browser.get("/password/forgot")
    response = await browser.post("/password/reset", {"token": expired, "password": NEW_PASSWORD})
    assert response.status_code == 422
    assert refused in response.text
    assert (await User.get(id=user.id)).password_hash == user.password_hash

    # The same link signed an hour ago is accepted.
    recent = old_link(monkeypatch, "reset-password", payload, accounts.RESET_LINK_SECONDS - 3600)
    assert (await browser.get(f"/password/reset?token={recent}")).status_code == 200


async def test_password_reset_flow(client, browser, new_browser):
    user = await make_user("nam@becamex.com.vn")
    old_session = new_browser()
    await old_session.login("nam@becamex.com.vn")
    assert await signed_in_email(old_session) == "nam@becamex.com.vn"
    api_session = await api_token(client, "nam@becamex.com.vn")
    assert (await client.get("/api/v1/me", headers=api_session)).status_code == 200

    # Asking for a link looks the same for known and unknown addresses.
    await browser.get("/password/forgot")
    unknown = await browser.post("/password/forgot", {"email": "ghost@becamex.com.vn"})
    known = await browser.post("/password/forgot", {"email": " NAM@becamex.com.vn"})
    assert unknown.status_code == known.status_code == 200
    strip = re.compile(r'name="csrf_token" value="[^"]+"|"X-CSRF-Token": "[^"]+"')
    assert strip.sub("", unknown.text) == strip.sub("", known.text)
    await jobs.drain()
    assert await OutboxMessage.filter(to="ghost@becamex.com.vn").count() == 0
    link = await mailed_path("nam@becamex.com.vn", "/password/reset")
    token = link.split("token=", 1)[1]

    form = await browser.get(link)
    assert form.status_code == 200
    assert f'name="token" value="{token}"' in form.text

    # A weak new password: the message is next to the field, nothing changes.
    weak = await browser.post("/password/reset", {"token": token, "password": "123"})
    assert weak.status_code == 422
    assert field_error(weak.text, "password") == vi(
        "Use at least %(n)d characters.", n=accounts.MIN_PASSWORD_LENGTH
    )
    assert (await User.get(id=user.id)).password_hash == user.password_hash
    assert await signed_in_email(old_session) == "nam@becamex.com.vn"

    done = await browser.post("/password/reset", {"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"] == "/account"
    browser.csrf_token = ""
    assert await signed_in_email(browser) == "nam@becamex.com.vn"
    changed = await User.get(id=user.id)
    assert changed.password_hash.startswith("$argon2id$")
    assert changed.password_hash != user.password_hash
    assert changed.session_version == user.session_version + 1

    # Every older session is signed out, in browsers and through API sign-in tokens.
    assert await signed_in_email(old_session) is None
    assert (await client.get("/api/v1/me", headers=api_session)).status_code == 401

    # The link is single-use: refused when opened or posted again; the password stays.
    refused = vi("This reset link is invalid, expired or already used. Ask for a new one.")
    reopened = await browser.get(link)
    assert reopened.status_code == 422
    assert refused in reopened.text
    reused = await browser.post("/password/reset", {"token": token, "password": "other-pass-2026!"})
    assert reused.status_code == 422
    assert refused in reused.text
    assert (await User.get(id=user.id)).password_hash == changed.password_hash

    # Old password refused, new one accepted.
    fresh = new_browser()
    await fresh.get("/login")
    wrong = await fresh.post("/login", {"email": "nam@becamex.com.vn", "password": PASSWORD})
    assert wrong.status_code == 401
    await fresh.login("nam@becamex.com.vn", NEW_PASSWORD)


async def test_two_uses_of_one_reset_link_at_once_change_the_password_once(new_browser):
    user = await make_user("oanh@becamex.com.vn")
    first, second = new_browser(), new_browser()
    await first.get("/password/forgot")
    await first.post("/password/forgot", {"email": "oanh@becamex.com.vn"})
    token = (await mailed_path("oanh@becamex.com.vn", "/password/reset")).split("token=")[1]
    await second.get("/password/forgot")
    responses = await asyncio.gather(
        first.post("/password/reset", {"token": token, "password": NEW_PASSWORD}),
        second.post("/password/reset", {"token": token, "password": "second-passphrase-77"}),
    )
    assert sorted(r.status_code for r in responses) == [303, 422]
    changed = await User.get(id=user.id)
    assert changed.session_version == user.session_version + 1
    winner = NEW_PASSWORD if responses[0].status_code == 303 else "second-passphrase-77"
    check = new_browser()
    await check.login("oanh@becamex.com.vn", winner)


# --- deactivated accounts -------------------------------------------------------------------


async def test_deactivated_user_cannot_sign_in_and_loses_sessions_and_tokens(
    client, browser, new_browser
):
    admin = await make_user("admin@binhduong.gov.vn", admin=True)
    await make_user("phuc@eiu.edu.vn")
    session = new_browser()
    await session.login("phuc@eiu.edu.vn")
    assert await signed_in_email(session) == "phuc@eiu.edu.vn"
    login_token = (
        await client.post(
            "/api/v1/auth/token", json={"email": "phuc@eiu.edu.vn", "password": PASSWORD}
        )
    ).json()["token"]
    await session.get("/account/tokens")
    created = await session.post("/account/tokens", {"name": "IOC import"})
    manual_token = re.search(r'data-testid="new-token">([^<]+)<', created.text).group(1)
    for token in (login_token, manual_token):
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200

    await browser.login(admin.email)
    await browser.get("/admin/users")
    target = await User.get(email="phuc@eiu.edu.vn")
    response = await browser.post(f"/admin/users/{target.id}", {"action": "deactivate"})
    assert response.status_code == 303

    assert await signed_in_email(session) is None
    for token in (login_token, manual_token):
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
        assert me.json()["error"]["code"] == "not_authenticated"

    html = new_browser()
    await html.get("/login")
    refused = await html.post("/login", {"email": "phuc@eiu.edu.vn", "password": PASSWORD})
    assert refused.status_code == 403
    assert vi("This account has been deactivated.") in refused.text
    assert await signed_in_email(html) is None

    api = await client.post(
        "/api/v1/auth/token", json={"email": "phuc@eiu.edu.vn", "password": PASSWORD}
    )
    assert api.status_code == 403
    assert api.json() == {
        "error": {
            "code": "forbidden",
            "message": vi("This account has been deactivated."),
            "fields": {},
        }
    }
    # With a wrong password the answer does not reveal the account's state.
    guess = await client.post(
        "/api/v1/auth/token", json={"email": "phuc@eiu.edu.vn", "password": "wrong-password-1"}
    )
    assert guess.status_code == 401

    # No reset link for a deactivated account.
    mails = await OutboxMessage.filter(to="phuc@eiu.edu.vn").count()
    await html.get("/password/forgot")
    assert (await html.post("/password/forgot", {"email": "phuc@eiu.edu.vn"})).status_code == 200
    await jobs.drain()
    assert await OutboxMessage.filter(to="phuc@eiu.edu.vn").count() == mails

    # Reactivated: signing in works again, but what was cut off stays cut off: the old
    # session (its version is stale) and the old tokens (revoked at deactivation).
    response = await browser.post(f"/admin/users/{target.id}", {"action": "reactivate"})
    assert response.status_code == 303
    assert await signed_in_email(session) is None
    for token in (login_token, manual_token):
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
    await new_browser().login("phuc@eiu.edu.vn")


async def test_signing_out_other_devices_keeps_this_one(app, new_browser):
    await make_user("lan@example.vn")
    here, elsewhere = new_browser(), new_browser()
    await here.login("lan@example.vn")
    await elsewhere.login("lan@example.vn")
    assert (await elsewhere.get("/account")).status_code == 200

    response = await here.post("/account/sessions/revoke")

    assert response.status_code == 303
    assert (await here.get("/account")).status_code == 200
    stale = await elsewhere.get("/account")
    assert stale.status_code == 303 and stale.headers["location"].startswith("/login")
    assert await AuditEvent.filter(action="sessions.revoked").count() == 1
