"""Two-factor sign-in in headless Chromium.

- The platform admin, signing in with a password alone, is held at the security page; sets up
  an authenticator app (the code computed with pyotp from the key on the page), sees the
  recovery codes, reaches the admin pages, signs out, and is asked for a code at the next
  sign-in.
- A person registers a passkey with Chromium's virtual authenticator (CDP `WebAuthn`, ctap2,
  resident key, user verified) through static/passkeys.js, signs out, and signs in with the
  passkey alone.

The site runs at http://localhost:PORT: WebAuthn refuses IP addresses as relying party ids.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest

from tests.e2e.live import PASSWORD, LiveServer, live_server, run_setup, setup_database

ADMIN = "quan.tri@binhduong.gov.vn"
PERSON = "lan.nguyen@eiu.edu.vn"

pytestmark = pytest.mark.browser


def _localhost(server: LiveServer) -> dict[str, str]:
    return {
        "ADMINS_NEED_SECOND_FACTOR": "1",
        "BASE_URL": server.base_url.replace("127.0.0.1", "localhost"),
    }


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with live_server("tests.e2e.test_second_factor", packages="", extra_env=_localhost) as live:
        yield live


async def _setup() -> None:
    from ecosystem.services.accounts import create_user

    async with setup_database():
        await create_user(ADMIN, PASSWORD, "Quản trị viên", True, True)
        await create_user(PERSON, PASSWORD, "Nguyễn Thị Lan", False, True)


def _read(server: LiveServer, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(server.workdir / "e2e.sqlite3") as db:
        return db.execute(sql, params).fetchall()


def _sign_in(page, base: str, email: str) -> None:
    page.goto("/login")
    page.fill("#f-email", email)
    page.fill("#f-password", PASSWORD)
    page.locator('form[action^="/login"] button[type="submit"]').click()


def _sign_out(page) -> None:
    page.locator("details.menu summary").click()  # the menu holds "sign out"
    page.locator('form[action="/logout"] button').click()


def test_the_admin_sets_up_an_app_and_is_asked_for_it_next_time(chromium, server):
    import pyotp
    from playwright.sync_api import expect

    base = server.base_url.replace("127.0.0.1", "localhost")
    context = chromium.new_context(base_url=base, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _sign_in(page, base, ADMIN)
        page.wait_for_url(f"{base}/account/security**")
        expect(page.locator("[data-testid=enrol-required]")).to_be_visible()
        page.goto("/admin/users")  # held at the security page until a factor is set up
        page.wait_for_url(f"{base}/account/security")

        page.locator("[data-testid=totp-start]").click()
        expect(page.locator("[data-testid=totp-qr] svg")).to_be_visible()
        secret = page.locator("[data-testid=totp-secret]").inner_text()
        page.fill("#f-code", pyotp.TOTP(secret).now())
        page.locator('form[action$="/totp/confirm"] button[type="submit"]').click()
        expect(page.locator("[data-testid=recovery-codes] li")).to_have_count(10)

        page.goto("/admin/users")
        expect(page).to_have_url(f"{base}/admin/users")

        _sign_out(page)
        page.wait_for_url(f"{base}/")
        _sign_in(page, base, ADMIN)
        page.wait_for_url(f"{base}/login/second-factor")
        expect(page.locator("[data-testid=pending-email]")).to_have_text(ADMIN)
        # The code of the next time step: the one used to confirm is never accepted again.
        page.fill("#f-code", pyotp.TOTP(secret).at(time.time() + 30))
        page.locator('form[action="/login/second-factor"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")
        page.goto("/admin/users")
        expect(page).to_have_url(f"{base}/admin/users")
    finally:
        context.close()
    actions = {row[0] for row in _read(server, "SELECT action FROM audit_event")}
    assert {"second_factor.totp_added", "login.second_factor"} <= actions


def test_a_passkey_from_a_virtual_authenticator_signs_in_alone(chromium, server):
    from playwright.sync_api import expect

    base = server.base_url.replace("127.0.0.1", "localhost")
    context = chromium.new_context(base_url=base, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    try:
        _sign_in(page, base, PERSON)
        page.wait_for_url(f"{base}/dashboard")
        page.goto("/account/security")
        page.fill("#passkey-name", "Điện thoại")
        page.locator("[data-testid=passkey-add]").click()
        expect(page.locator("#passkeys li", has_text="Điện thoại")).to_have_count(1)

        _sign_out(page)
        page.wait_for_url(f"{base}/")
        page.goto("/login")
        page.locator("[data-passkey-login] button").click()
        page.wait_for_url(f"{base}/dashboard")
    finally:
        context.close()
    ((count,),) = _read(server, "SELECT COUNT(*) FROM passkey")
    assert count == 1
    actions = {row[0] for row in _read(server, "SELECT action FROM audit_event")}
    assert {"second_factor.passkey_added", "login.passkey"} <= actions


run_setup(__name__, _setup)
