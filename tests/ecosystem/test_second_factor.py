"""Two-factor sign-in over HTTP, on SQLite and PostgreSQL.

An authenticator app is enrolled by reading its secret off the page and computing codes
with pyotp at a frozen clock (time-machine); passkeys are registered and used by a software
authenticator written here (an EC P-256 key, attestation "none", signed assertions): a real
protocol peer for the server's verifier, not a mock of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta

import cbor2
import httpx
import pyotp
import pytest
import time_machine
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from ecosystem.models import (
    AuditEvent,
    Organisation,
    Passkey,
    RecoveryCode,
    TotpFactor,
    User,
    UserSession,
)
from ecosystem.settings import configure, get_settings
from tests.conftest import PASSWORD, BrowserSession, add_member, make_organisation, person

MOMENT = datetime(2027, 3, 10, 9, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=30)
SECRET_ON_PAGE = re.compile(r'data-testid="totp-secret">([A-Z2-7]+)<')
RECOVERY = re.compile(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>")


@pytest.fixture(autouse=True)
def clock():
    """A fixed moment for the whole test (signed cookies age with it); blocks move on."""
    with time_machine.travel(MOMENT, tick=False) as traveller:
        yield traveller


def other_browser(app, ip: str = "198.51.100.20") -> BrowserSession:
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return BrowserSession(httpx.AsyncClient(transport=transport, base_url="http://testserver"))


async def enrol_totp(browser: BrowserSession) -> tuple[str, list[str]]:
    """Set up the app on the security page; returns the secret and the recovery codes."""
    await browser.get("/account/security")
    started = await browser.post("/account/security/totp")
    assert started.status_code == 303, started.text[:300]
    page = await browser.get("/account/security")
    secret = SECRET_ON_PAGE.search(page.text).group(1)
    assert "<svg" in page.text  # the QR code, inline
    code = pyotp.TOTP(secret).now()
    confirmed = await browser.post("/account/security/totp/confirm", {"code": code})
    assert confirmed.status_code == 201, confirmed.text[:500]
    codes = RECOVERY.findall(confirmed.text)
    assert len(codes) == 10
    return secret, codes


async def password_step(browser: BrowserSession, email: str, next_url: str = "") -> httpx.Response:
    data = {"email": email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    response = await browser.post("/login", data)
    assert response.status_code == 303
    browser.csrf_token = ""
    return response


async def whoami(browser: BrowserSession) -> int:
    """Status of the account page: 200 signed in, 303 sent elsewhere."""
    return (await browser.http.get("/account")).status_code


# --- authenticator app ------------------------------------------------------------------------


async def test_enrol_then_sign_in_asks_for_the_code(clock, app, browser):
    await person("ana@example.org")
    await browser.login("ana@example.org")
    secret, _codes = await enrol_totp(browser)
    factor = await TotpFactor.get(user__email="ana@example.org")
    assert secret not in factor.secret_encrypted  # encrypted at rest

    second = other_browser(app)
    response = await password_step(second, "ana@example.org", "/organisations")
    assert response.headers["location"] == "/login/second-factor"
    assert await whoami(second) == 303  # not signed in with the password alone
    page = await second.get("/login/second-factor")
    assert "ana@example.org" in page.text
    clock.move_to(MOMENT + 4 * STEP)
    done = await second.post("/login/second-factor", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 303
    assert done.headers["location"] == "/organisations"
    assert await whoami(second) == 200
    actions = set(await AuditEvent.all().values_list("action", flat=True))
    assert {"second_factor.totp_added", "login.second_factor"} <= actions


async def test_wrong_code_is_refused_and_the_page_keeps_the_email(app, browser):
    await person("bao@example.org")
    await browser.login("bao@example.org")
    await enrol_totp(browser)
    second = other_browser(app)
    await password_step(second, "bao@example.org", "/organisations")
    await second.get("/login/second-factor")
    refused = await second.post("/login/second-factor", {"code": "000000"})
    assert refused.status_code == 422
    assert "bao@example.org" in refused.text
    assert 'name="next" value="/organisations"' in refused.text
    assert await whoami(second) == 303


@pytest.mark.parametrize(("offset", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
async def test_clock_drift_of_one_step_is_accepted_two_are_not(
    clock, app, browser, offset, accepted
):
    await person("chi@example.org")
    await browser.login("chi@example.org")
    secret, _codes = await enrol_totp(browser)
    second = other_browser(app)
    await password_step(second, "chi@example.org")
    await second.get("/login/second-factor")
    now = MOMENT + 4 * STEP
    code = pyotp.TOTP(secret).at(now + offset * STEP)
    clock.move_to(now)
    response = await second.post("/login/second-factor", {"code": code})
    assert response.status_code == (303 if accepted else 422)
    if accepted:
        assert response.headers["location"] == "/dashboard"


async def test_a_used_code_cannot_be_used_again(clock, app, browser):
    await person("dung@example.org")
    await browser.login("dung@example.org")
    secret, _codes = await enrol_totp(browser)
    now = MOMENT + 6 * STEP
    code = pyotp.TOTP(secret).at(now)
    first, second = other_browser(app), other_browser(app, "198.51.100.21")
    for b in (first, second):
        await password_step(b, "dung@example.org")
        await b.get("/login/second-factor")
    clock.move_to(now)
    assert (await first.post("/login/second-factor", {"code": code})).status_code == 303
    replay = await second.post("/login/second-factor", {"code": code})
    assert replay.status_code == 422
    # The code of the step before, still within the drift window, is older: refused too.
    third = other_browser(app, "198.51.100.22")
    await password_step(third, "dung@example.org")
    await third.get("/login/second-factor")
    old = await third.post("/login/second-factor", {"code": pyotp.TOTP(secret).at(now - STEP)})
    assert old.status_code == 422


async def test_a_recovery_code_works_once(app, browser):
    await person("em@example.org")
    await browser.login("em@example.org")
    _secret, codes = await enrol_totp(browser)
    first = other_browser(app)
    await password_step(first, "em@example.org")
    await first.get("/login/second-factor")
    assert (await first.post("/login/second-factor", {"code": codes[3]})).status_code == 303
    again = other_browser(app, "198.51.100.23")
    await password_step(again, "em@example.org")
    await again.get("/login/second-factor")
    assert (await again.post("/login/second-factor", {"code": codes[3]})).status_code == 422
    assert await RecoveryCode.filter(used_at__isnull=False).count() == 1
    page = await first.get("/account/security")
    assert "Recovery codes left: 9" in page.text


async def test_second_factor_attempts_are_rate_limited(clock, app, browser):
    await person("gia@example.org")
    await browser.login("gia@example.org")
    secret, _codes = await enrol_totp(browser)
    statuses = []
    for attempt in range(6):
        b = other_browser(app, f"198.51.100.{30 + attempt}")
        await password_step(b, "gia@example.org")
        await b.get("/login/second-factor")
        statuses.append((await b.post("/login/second-factor", {"code": "123456"})).status_code)
    assert statuses == [422] * 5 + [429]
    # Even the right code waits now: the limit is on the account, not the browser.
    b = other_browser(app, "198.51.100.50")
    await password_step(b, "gia@example.org")
    await b.get("/login/second-factor")
    clock.move_to(MOMENT + 2 * STEP)
    code = pyotp.TOTP(secret).now()
    assert (await b.post("/login/second-factor", {"code": code})).status_code == 429


async def test_the_pending_sign_in_expires(clock, app, browser):
    await person("hai@example.org")
    await browser.login("hai@example.org")
    secret, _codes = await enrol_totp(browser)
    second = other_browser(app)
    clock.move_to(MOMENT + 80 * STEP)
    await password_step(second, "hai@example.org")
    clock.move_to(MOMENT + 80 * STEP + timedelta(minutes=6))
    gone = await second.get("/login/second-factor")
    assert gone.status_code == 303 and gone.headers["location"] == "/login"


async def test_password_reset_does_not_skip_the_second_factor(app, browser):
    from ecosystem.services.accounts import _links, _password_fingerprint

    user = await person("khoa@example.org")
    await browser.login("khoa@example.org")
    await enrol_totp(browser)
    user = await User.get(id=user.id)
    token = _links().dumps("reset-password", {"uid": user.id, "fp": _password_fingerprint(user)})
    other = other_browser(app)
    await other.get(f"/password/reset?token={token}")
    reset = await other.post(
        "/password/reset", {"token": token, "password": "a-brand-new-passphrase-42"}
    )
    assert reset.status_code == 303
    assert reset.headers["location"] == "/login/second-factor"
    assert await whoami(other) == 303


async def test_api_token_needs_more_than_a_password_once_a_factor_is_set(app, browser, client):
    await person("lan@example.org")
    before = await client.post(
        "/api/v1/auth/token", json={"email": "lan@example.org", "password": PASSWORD}
    )
    assert before.status_code == 200
    await browser.login("lan@example.org")
    await enrol_totp(browser)
    after = await client.post(
        "/api/v1/auth/token", json={"email": "lan@example.org", "password": PASSWORD}
    )
    assert after.status_code == 403
    assert after.json()["error"]["code"] == "second_factor_required"
    # The token made before still works: tokens are unaffected.
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {before.json()['token']}"}
    )
    assert me.status_code == 200


async def test_disable_needs_a_code_and_the_password(clock, app, browser):
    await person("minh@example.org")
    await browser.login("minh@example.org")
    secret, codes = await enrol_totp(browser)
    await browser.get("/account/security")
    no_password = await browser.post(
        "/account/security/totp/disable", {"code": codes[0], "password": "wrong"}
    )
    assert no_password.status_code == 422
    assert await TotpFactor.filter(confirmed_at__isnull=False).count() == 1
    clock.move_to(MOMENT + 100 * STEP)
    done = await browser.post(
        "/account/security/totp/disable",
        {"code": pyotp.TOTP(secret).now(), "password": PASSWORD},
    )
    assert done.status_code == 303
    assert await TotpFactor.all().count() == 0 and await RecoveryCode.all().count() == 0
    again = other_browser(app)
    response = await password_step(again, "minh@example.org")
    assert response.headers["location"] == "/dashboard"


async def test_an_unverified_account_can_enrol(app, browser):
    await person("nga@example.org", verified=False)
    await browser.login("nga@example.org")
    await enrol_totp(browser)
    assert await TotpFactor.filter(confirmed_at__isnull=False).count() == 1


# --- policy ------------------------------------------------------------------------------------


async def test_an_admin_without_a_factor_reaches_only_the_security_page(app, browser):
    previous = get_settings()
    configure(dataclasses.replace(previous, admins_need_second_factor=True))
    try:
        await person("admin@example.org", admin=True)
        response = await password_step(browser, "admin@example.org", "/admin/users")
        assert response.headers["location"].startswith("/account/security")
        blocked = await browser.http.get("/admin/users")
        assert blocked.status_code == 303
        assert blocked.headers["location"] == "/account/security"
        assert (await browser.http.get("/account")).status_code == 303
        page = await browser.get("/account/security")
        assert page.status_code == 200 and 'data-testid="enrol-required"' in page.text
        await enrol_totp(browser)
        assert (await browser.http.get("/admin/users")).status_code == 200
        # Signing out stays possible, and the next sign-in asks for the code.
        assert (await browser.post("/logout")).status_code == 303
        browser.csrf_token = ""
        again = await password_step(browser, "admin@example.org")
        assert again.headers["location"] == "/login/second-factor"
    finally:
        configure(previous)


async def test_organisation_policy_holds_its_admins_until_they_enrol(app, browser, new_browser):
    owner = await person("owner@example.org")
    organisation = await make_organisation(owner, name="Thu Dau Mot University")
    member = await person("student@example.org")
    await add_member(member, organisation, "member")
    await browser.login("owner@example.org")
    page = await browser.get(f"/organisations/{organisation.slug}/edit")
    assert 'name="require_second_factor"' in page.text
    saved = await browser.post(
        f"/organisations/{organisation.slug}/second-factor-policy", {"require_second_factor": "1"}
    )
    assert saved.status_code == 303, saved.text[:500]
    assert (await Organisation.get(id=organisation.id)).require_second_factor
    # The owner's next sign-in sends them to set up a factor first.
    fresh = new_browser()
    response = await password_step(fresh, "owner@example.org")
    assert response.headers["location"].startswith("/account/security")
    assert (await fresh.http.get("/account")).status_code == 303
    # A plain member is not held.
    student = new_browser()
    response = await password_step(student, "student@example.org")
    assert response.headers["location"] == "/dashboard"


async def test_only_verified_owners_and_admins_may_set_the_policy(app, new_browser):
    owner = await person("o2@example.org")
    organisation = await make_organisation(owner, name="Binh Duong Fablab")
    member = await person("m2@example.org")
    await add_member(member, organisation, "member")
    unverified = await person("u2@example.org", verified=False)
    await add_member(unverified, organisation, "admin")
    await person("stranger@example.org")
    url = f"/organisations/{organisation.slug}/second-factor-policy"
    for email, status in (
        ("m2@example.org", 403),
        ("u2@example.org", 403),
        ("stranger@example.org", 403),
    ):
        b = new_browser()
        await b.login(email)
        assert (await b.post(url, {"require_second_factor": "1"})).status_code == status, email
    anonymous = new_browser()
    response = await anonymous.post(url, {"require_second_factor": "1"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert not (await Organisation.get(id=organisation.id)).require_second_factor


# --- sessions and authorisation -----------------------------------------------------------------


async def test_revoke_one_session_and_all_others(app, browser):
    await person("oanh@example.org")
    await browser.login("oanh@example.org")
    phone, laptop = other_browser(app, "198.51.100.60"), other_browser(app, "198.51.100.61")
    await phone.http.get("/", headers={"User-Agent": "x"})
    await phone.login("oanh@example.org")
    await laptop.login("oanh@example.org")
    page = await browser.get("/account/security")
    assert page.text.count('data-testid="session"') == 3
    phone_session = await UserSession.filter(ip="198.51.100.60").first()
    revoked = await browser.post(f"/account/security/sessions/{phone_session.id}/revoke")
    assert revoked.status_code == 303
    assert await whoami(phone) == 303 and await whoami(laptop) == 200
    others = await browser.post("/account/security/sessions/revoke-others")
    assert others.status_code == 303
    assert await whoami(laptop) == 303 and await whoami(browser) == 200
    events = (await browser.get("/account/security")).text
    assert "A device was signed out" in events
    assert "All other devices were signed out" in events
    assert ">httpx</td>" in events  # this device's user agent, in words


async def test_others_cannot_touch_my_sessions_or_passkeys(app, browser):
    await person("phuc@example.org")
    await person("quan@example.org")
    mine = other_browser(app, "198.51.100.70")
    await mine.login("phuc@example.org")
    my_session = await UserSession.get(ip="198.51.100.70")
    user = await User.get(email="phuc@example.org")
    key = await Passkey.create(
        user_id=user.id, name="mine", credential_id="AAAA", public_key=b"x", sign_count=0
    )
    await browser.login("quan@example.org")
    await browser.get("/account/security")
    assert (
        await browser.post(f"/account/security/sessions/{my_session.id}/revoke")
    ).status_code == 404
    assert (await browser.post(f"/account/security/passkeys/{key.id}/remove")).status_code == 404
    assert await whoami(mine) == 200
    assert await Passkey.filter(id=key.id).exists()
    anonymous = other_browser(app, "198.51.100.71")
    response = await anonymous.http.get("/account/security")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


# --- passkeys with a software authenticator ------------------------------------------------------

ORIGIN = "http://testserver"
RP_ID = "testserver"


class SoftAuthenticator:
    """A FIDO2 authenticator in software: one P-256 key per credential, a sign counter."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.count = 0
        self.user_handle = b""

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict, origin: str = ORIGIN) -> dict:
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        rp_hash = hashlib.sha256(options["rp"]["id"].encode()).digest()
        flags = 0x01 | 0x04 | 0x40  # user present, user verified, attested credential data
        auth_data = (
            rp_hash
            + bytes([flags])
            + self.count.to_bytes(4, "big")
            + bytes(16)  # AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self._cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, origin: str = ORIGIN, count_step: int = 1) -> dict:
        self.count += count_step
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([0x01 | 0x04])
            + self.count.to_bytes(4, "big")
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(self.user_handle),
            },
            "clientExtensionResults": {},
        }


async def json_post(browser: BrowserSession, url: str, body: dict | None = None):
    token = await browser.ensure_token()
    return await browser.http.post(url, json=body or {}, headers={"X-CSRF-Token": token})


async def register_passkey(browser: BrowserSession, device: SoftAuthenticator, name="Phone"):
    await browser.get("/account/security")
    options = await json_post(browser, "/account/security/passkeys/options")
    assert options.status_code == 200
    assert options.json()["rp"]["id"] == RP_ID
    created = await json_post(
        browser,
        "/account/security/passkeys",
        {"credential": device.create(options.json()), "name": name},
    )
    assert created.status_code == 201, created.text
    return created


async def test_passkey_registers_and_signs_in_alone(app, browser):
    await person("rin@example.org")
    await browser.login("rin@example.org")
    device = SoftAuthenticator()
    await register_passkey(browser, device)
    assert await Passkey.filter(name="Phone").count() == 1

    fresh = other_browser(app)
    await fresh.get("/login")
    options = await json_post(fresh, "/login/passkey/options")
    assert options.json()["allowCredentials"] == []  # discoverable: any passkey of the site
    signed = await json_post(fresh, "/login/passkey", {"credential": device.get(options.json())})
    assert signed.status_code == 200, signed.text
    assert await whoami(fresh) == 200
    assert (await Passkey.get(name="Phone")).sign_count == 1


async def test_passkey_is_a_second_factor_after_the_password(app, browser):
    await person("son@example.org")
    await browser.login("son@example.org")
    device = SoftAuthenticator()
    await register_passkey(browser, device)
    fresh = other_browser(app)
    response = await password_step(fresh, "son@example.org", "/organisations")
    assert response.headers["location"] == "/login/second-factor"
    await fresh.get("/login/second-factor")
    options = (await json_post(fresh, "/login/passkey/options")).json()
    assert [c["id"] for c in options["allowCredentials"]] == [
        bytes_to_base64url(device.credential_id)
    ]
    signed = await json_post(fresh, "/login/passkey", {"credential": device.get(options)})
    assert signed.status_code == 200
    assert signed.json()["redirect"] == "/organisations"
    assert await whoami(fresh) == 200


async def test_cloned_passkey_wrong_origin_and_replayed_challenge_are_refused(app, browser):
    await person("tam@example.org")
    await browser.login("tam@example.org")
    device = SoftAuthenticator()
    await register_passkey(browser, device)
    fresh = other_browser(app)
    await fresh.get("/login")
    # Wrong origin (a phishing site relaying the challenge).
    options = (await json_post(fresh, "/login/passkey/options")).json()
    phished = device.get(options, origin="http://evil.example")
    assert (await json_post(fresh, "/login/passkey", {"credential": phished})).status_code == 422
    # A good one, then the same answer again: the challenge was used up.
    options = (await json_post(fresh, "/login/passkey/options")).json()
    good = device.get(options)
    assert (await json_post(fresh, "/login/passkey", {"credential": good})).status_code == 200
    fresh.csrf_token = ""  # a new session, a new token
    await fresh.get("/account/security")
    assert (await json_post(fresh, "/login/passkey", {"credential": good})).status_code == 422
    # A clone whose counter does not move on.
    another = other_browser(app, "198.51.100.80")
    await another.get("/login")
    options = (await json_post(another, "/login/passkey/options")).json()
    clone = device.get(options, count_step=0)
    assert (await json_post(another, "/login/passkey", {"credential": clone})).status_code == 422
    assert await whoami(another) == 303


async def test_passkey_of_another_account_is_not_a_second_factor_for_mine(app, browser):
    await person("uyen@example.org")
    await person("vu@example.org")
    await browser.login("uyen@example.org")
    await enrol_totp(browser)
    thief = other_browser(app, "198.51.100.90")
    await thief.login("vu@example.org")
    device = SoftAuthenticator()
    await register_passkey(thief, device)
    fresh = other_browser(app, "198.51.100.91")
    await password_step(fresh, "uyen@example.org")
    await fresh.get("/login/second-factor")
    options = (await json_post(fresh, "/login/passkey/options")).json()
    options["rpId"] = RP_ID
    answer = device.get(options)
    assert (await json_post(fresh, "/login/passkey", {"credential": answer})).status_code == 422
    assert await whoami(fresh) == 303


async def test_garbage_passkey_answers_are_4xx(app, browser):
    await person("xuan@example.org")
    await browser.login("xuan@example.org")
    await browser.get("/account/security")
    await json_post(browser, "/account/security/passkeys/options")
    for body in ({}, {"credential": "x"}, {"credential": {"id": "??"}}):
        response = await json_post(browser, "/account/security/passkeys", body)
        assert 400 <= response.status_code < 500
    token = await browser.ensure_token()
    raw = await browser.http.post(
        "/login/passkey", content=b"not json", headers={"X-CSRF-Token": token}
    )
    assert 400 <= raw.status_code < 500


async def test_the_security_page_costs_the_same_with_many_devices_and_events(
    app, browser, count_queries
):
    await person("yen@example.org")
    await browser.login("yen@example.org")
    await browser.get("/account/security")

    async def statements() -> int:
        with count_queries() as counted:
            response = await browser.http.get("/account/security")
        assert response.status_code == 200
        return len(counted.statements)

    few = await statements()
    for n in range(6):
        device = other_browser(app, f"198.51.100.{100 + n}")
        await device.login("yen@example.org")
        await Passkey.create(
            user_id=(await User.get(email="yen@example.org")).id,
            name=f"key {n}",
            credential_id=f"cred{n}",
            public_key=b"k",
        )
    many = await statements()
    assert many == few, (few, many)
    assert few <= 10
