"""A student signs in with the university's own identity provider, in headless Chromium.

A real OpenID provider (node-oidc-provider, tests/ecosystem/oidc_provider.py) runs next to the
real app (a subprocess on a fresh SQLite database), configured by OIDC_PROVIDERS as "Test
University", tied to the verified organisation of that name and its e-mail domain. The
journey: sign-in page → "Sign in with Test University" → the provider's login page → back,
signed in, told that a membership request went to the university; the university's owner
then finds the request on its members page. Selectors are ids and form actions, never
translated text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from tests.e2e.live import (
    HOST,
    PASSWORD,
    SCREENSHOTS,
    VIEWPORTS,
    LiveServer,
    free_port,
    live_server,
    run_setup,
    setup_database,
)

pytestmark = pytest.mark.browser

OWNER = "rector@testuni.edu.vn"
STUDENT = "lan.student@testuni.edu.vn"
SLUG = "test-university"


async def _setup() -> None:
    from ecosystem.models import Verification
    from ecosystem.schemas import OrganisationIn
    from ecosystem.services.accounts import create_user
    from ecosystem.services.organisations import create_organisation

    async with setup_database():
        owner = await create_user(OWNER, PASSWORD, "Rector", False, True)
        university = await create_organisation(
            owner,
            OrganisationIn(
                name="Test University", spheres=["university"], email_domains=["testuni.edu.vn"]
            ),
        )
        university.slug, university.verification = SLUG, Verification.VERIFIED
        await university.save(update_fields=["slug", "verification"])


@pytest.fixture(scope="module")
def oidc_server() -> Iterator[tuple[LiveServer, object]]:
    from tests.ecosystem.oidc_provider import TestProvider, skip_or_fail

    skip_or_fail()
    port = free_port()
    provider = TestProvider().start([f"http://{HOST}:{port}/login/oidc/testuni/callback"])
    provider.add_account(
        "lan", email=STUDENT, email_verified=True, name="Trần Thị Lan", locale="vi"
    )
    entry = provider.provider_config("testuni", email_domains=["testuni.edu.vn"], organisation=SLUG)
    try:
        with live_server(
            "tests.e2e.test_oidc_signin",
            port=port,
            extra_env={"OIDC_PROVIDERS": json.dumps([entry])},
        ) as server:
            yield server, provider
    finally:
        provider.stop()


def _read(server: LiveServer, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(server.workdir / "e2e.sqlite3") as db:
        return db.execute(sql, params).fetchall()


def test_a_student_signs_in_with_the_university_and_asks_to_join_it(chromium, oidc_server):
    from playwright.sync_api import expect

    server, provider = oidc_server
    base = server.base_url
    SCREENSHOTS.mkdir(exist_ok=True)
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["desktop"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/login")
        page.locator("#oidc-testuni").click()
        page.wait_for_url(f"{provider.issuer}/interaction/**")
        page.fill("#login", "lan")
        page.screenshot(path=SCREENSHOTS / "oidc-provider-login.png", full_page=True)
        page.locator("#sign-in").click()
        page.wait_for_url(f"{base}/dashboard")
        flashes = page.locator(".flash")
        # Two messages name the university: the new account, and the request to join it.
        expect(flashes.filter(has_text="Test University")).to_have_count(2)
        page.screenshot(path=SCREENSHOTS / "oidc-signed-in.png", full_page=True)

        page.goto("/account")
        expect(page.locator("#linked-providers")).to_contain_text("Test University")
        expect(page.locator("body")).to_contain_text(STUDENT)
    finally:
        context.close()

    rows = _read(
        server,
        "SELECT m.status FROM membership m JOIN user_account u ON u.id = m.user_id "
        "JOIN organisation o ON o.id = m.organisation_id WHERE u.email = ? AND o.slug = ?",
        STUDENT,
        SLUG,
    )
    assert rows == [("requested",)]

    # The university's owner sees the request, waiting for an answer.
    context = chromium.new_context(base_url=base, locale="vi-VN", **VIEWPORTS["phone"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/login")
        page.fill("#f-email", OWNER)
        page.fill("#f-password", PASSWORD)
        page.locator('form[action^="/login"] button[type="submit"]').click()
        page.wait_for_url(f"{base}/dashboard")
        page.goto(f"/organisations/{SLUG}/members")
        row = page.locator("li, tr", has_text=STUDENT).first
        expect(row).to_be_visible()
        expect(row.locator("input[name='action'][value='accept']")).to_have_count(1)
    finally:
        context.close()


run_setup(__name__, _setup)
